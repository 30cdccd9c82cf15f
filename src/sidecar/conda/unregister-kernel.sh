# shellcheck shell=sh
# Removes the kernelspec directory $1, only if it holds a kernel.json.
[ -f "$1/kernel.json" ] || exit 4
rm -rf -- "$1"
