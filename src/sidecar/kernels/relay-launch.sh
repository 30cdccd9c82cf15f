# shellcheck shell=sh
# A kernel relay started in the background on the login node (relay-launch.ts
# says why): its launcher needs no SSH channel of its own and outlives the
# connection that started it. Each relay gets a 0700 directory under
# ~/.jupyterlab-hpc/relays holding its HELLO line (with the link's token),
# the first 64 KiB of its stderr and, once the step has ended, its status.
#
#   launch N ARGV...  run ARGV in a new session; print "pid P", "dir D", then
#                     what `wait` prints
#   wait D N          wait up to N x 10 ms for the HELLO or the end; print
#                     "hello <json>" and/or "status <n>", "stderr" and the
#                     stderr kept; "gone" when D is not there (reaped)
#   stop D P SIG      send SIG to the launcher's process group P
#   reap D            remove D
set -u
umask 077
base=$HOME/.jupyterlab-hpc/relays

mine() {
  case $1 in
    "$base"/r.*/* | *..*) echo "jlhpc-relay: not a relay directory: $1" >&2; exit 2 ;;
    "$base"/r.*) ;;
    *) echo "jlhpc-relay: not a relay directory: $1" >&2; exit 2 ;;
  esac
}

wait_for() {
  if [ ! -d "$1" ]; then
    echo gone
    return 0
  fi
  i=0
  while [ ! -e "$1/hello" ] && [ ! -e "$1/status" ] && [ "$i" -lt "$2" ]; do
    sleep 0.01
    i=$((i + 1))
  done
  if [ -e "$1/hello" ]; then
    printf 'hello '
    cat "$1/hello"
  fi
  if [ -e "$1/status" ]; then
    printf 'status %s\nstderr\n' "$(cat "$1/status")"
    cat "$1/err" 2>/dev/null
  fi
  return 0
}

mode=$1
shift
case $mode in
  launch)
    n=$1
    shift
    mkdir -p "$base" || exit 1
    # Directories of relays that ended over a day ago and were never reaped.
    find "$base" -mindepth 2 -maxdepth 2 -name status -mtime +0 2>/dev/null |
      while IFS= read -r f; do rm -rf "${f%/status}"; done
    d=$(mktemp -d "$base/r.XXXXXXXXXX") || exit 1
    new_session=
    if command -v setsid >/dev/null 2>&1; then new_session=setsid; fi
    # The step's stdout carries one line (the HELLO) and its stderr is kept
    # up to 64 KiB; the status appears only after both are written.
    # shellcheck disable=SC2016 # expanded by the inner sh
    # The launcher itself ignores TERM: stop's TERM reaches the step (srun
    # passes it on; the relay stops its kernel), and the status still comes.
    $new_session sh -c '
      trap "" TERM HUP
      d=$1
      shift
      mkfifo "$d/e" || exit 1
      { head -c 65536 >"$d/err"; cat >/dev/null; } <"$d/e" &
      { "$@" </dev/null 2>"$d/e"; echo "$?" >"$d/status.tmp"; } | {
        IFS= read -r line && printf "%s\n" "$line" >"$d/hello.tmp" &&
          mv -f "$d/hello.tmp" "$d/hello"
        cat >/dev/null
      }
      wait
      rm -f "$d/e"
      mv -f "$d/status.tmp" "$d/status"
    ' jlhpc-relay "$d" "$@" </dev/null >/dev/null 2>&1 &
    printf 'pid %s\ndir %s\n' "$!" "$d"
    wait_for "$d" "$n"
    ;;
  wait)
    mine "$1"
    wait_for "$1" "$2"
    ;;
  stop)
    mine "$1"
    # An ended launcher's pid may belong to someone else by now.
    [ -e "$1/status" ] && exit 0
    kill -s "$3" -- "-$2" 2>/dev/null || kill -s "$3" "$2" 2>/dev/null
    exit 0
    ;;
  reap)
    mine "$1"
    rm -rf "$1"
    ;;
  *)
    echo "jlhpc-relay: unknown mode $mode" >&2
    exit 2
    ;;
esac
