# shellcheck shell=sh
# Runs "$@" (ssh) and kills it once our stdin ends: see master.ts.
exec 3<&0
"$@" </dev/null 3<&- &
p=$!
{ read -r _ <&3; kill -TERM "$p" 2>/dev/null; } &
w=$!
exec 3<&-
# The shell's own "Terminated" reports would read as ssh's last words.
wait "$p" 2>/dev/null; s=$?
kill "$w" 2>/dev/null
wait "$w" 2>/dev/null
exit "$s"
