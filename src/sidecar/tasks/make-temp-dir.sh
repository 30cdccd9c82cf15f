# shellcheck shell=sh
# A private directory for the Miniforge download; prints its path.
d=$(mktemp -d "${TMPDIR:-/tmp}/jlhpc-miniforge.XXXXXXXX") || exit
chmod 700 "$d" || exit
printf '%s\n' "$d"
