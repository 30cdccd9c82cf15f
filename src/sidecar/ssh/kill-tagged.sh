# shellcheck shell=sh
# TERM, then KILL, every process of this user whose environment holds the
# entry $1 (NAME=tag): see command-runner.ts.
# shellcheck disable=SC2086,SC2034 # $pids: numbers to split; i: a counter
t=$1
tagged() {
  for e in /proc/[0-9]*/environ; do
    [ -O "$e" ] || continue
    p=${e%/environ}; p=${p#/proc/}
    if tr "\000" "\n" <"$e" 2>/dev/null | grep -qxF -e "$t"; then
      echo "$p"
    fi
  done
}
pids=$(tagged); [ -n "$pids" ] || exit 0
kill -s TERM $pids 2>/dev/null
for i in 1 2 3; do
  sleep 1
  pids=$(tagged); [ -n "$pids" ] || exit 0
done
kill -s KILL $pids 2>/dev/null
exit 0
