# shellcheck shell=sh
# Follow the records that session jobs write, and print each as soon as it
# appears, so the sidecar learns that JupyterLab listens within one round
# trip instead of at its next poll:
#   sh -c "$(cat watch.sh)" jlhpc-watch SECONDS ID... [-- ID...]
# The IDs after `--` are sessions whose JupyterLab is known already: only
# their exit is followed (so a JupyterLab shut down from its own page is
# seen at once, not at the next poll).
# Lines out (one per record, in the order seen):
#   started ID <epoch> <node> <job id>
#   ready ID <jpserver JSON on one line>
#   exit ID <status> <epoch> <why>
# and `watching` once at the start. Stops when every session is ready (or,
# after `--`, ended) or after SECONDS (the caller starts it again). Checks
# on the login node, so nothing crosses the network while nothing changes:
# every 0.05 s while a job runs and its JupyterLab does not listen yet (a
# few seconds), every 0.5 s while jobs wait in the queue (possibly hours),
# every second while only the exits of running sessions are awaited.
# With JLHPC_WATCH_INPUT set, the caller holds our input open while it
# listens, and its end (the channel closed, the sidecar gone) ends the watch
# at once: without a terminal sshd sends no SIGHUP, and a watch that prints
# nothing would otherwise hold its session (MaxSessions) to its time limit.
reader=
if [ -n "${JLHPC_WATCH_INPUT:-}" ]; then
  # (A background list's input is /dev/null unless redirected: via fd 3.)
  exec 3<&0
  (cat >/dev/null; kill -s TERM $$) <&3 >/dev/null 2>&1 3<&- &
  exec 3<&-
  reader=$!
fi
limit=$1
shift
base=$HOME/.jupyterlab-hpc/sessions
echo watching
left=
exits=
mode=
for a in "$@"; do
  case $a in
    --) mode=exits ;;
    *) if [ -n "$mode" ]; then exits="$exits $a"; else left="$left $a"; fi ;;
  esac
done
seen=
end=$(($(date +%s) + limit))
while [ -n "$left$exits" ] && [ "$(date +%s)" -lt "$end" ]; do
  still=
  for id in $exits; do
    if [ -s "$base/$id/exit" ]; then
      printf 'exit %s %s\n' "$id" "$(cat "$base/$id/exit")"
    else
      still="$still $id"
    fi
  done
  exits=$still
  next=
  pause=1
  [ -z "$left" ] || pause=0.5
  for id in $left; do
    dir=$base/$id
    case " $seen " in
      *" $id:started "*) ;;
      *)
        if [ -s "$dir/started" ]; then
          printf 'started %s %s\n' "$id" "$(cat "$dir/started")"
          seen="$seen $id:started"
        fi
        ;;
    esac
    if [ -s "$dir/exit" ]; then
      printf 'exit %s %s\n' "$id" "$(cat "$dir/exit")"
      continue
    fi
    done_here=
    for f in "$dir"/runtime/jpserver-*.json; do
      if [ -s "$f" ]; then
        # jupyter_server writes the file whole (json.dump then close); the
        # closing brace says it is complete.
        json=$(tr -d '\n' <"$f")
        case $json in
          *'}') printf 'ready %s %s\n' "$id" "$json"; done_here=1; break ;;
        esac
      fi
    done
    if [ -z "$done_here" ]; then
      next="$next $id"
      case " $seen " in
        *" $id:started "*) pause=0.05 ;;
      esac
    fi
  done
  left=$next
  [ -z "$left$exits" ] || sleep "$pause"
done
# Done by itself: the reader must not signal a process ID that may be reused.
[ -z "$reader" ] || kill "$reader" 2>/dev/null
