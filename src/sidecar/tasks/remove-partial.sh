# shellcheck shell=sh
# Removes the partly installed prefix $1; makes it again empty when $2 = empty.
rm -rf -- "$1" || exit
if [ "$2" = empty ]; then mkdir -p -- "$1"; fi
