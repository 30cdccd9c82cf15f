# shellcheck shell=sh
# Follow the records that session jobs write, and print each as soon as it
# appears, so the sidecar learns that JupyterLab listens within one round
# trip instead of at its next poll:
#   sh -c "$(cat watch.sh)" jlhpc-watch SECONDS ID...
# Lines out (one per record, in the order seen):
#   started ID <epoch> <node> <job id>
#   ready ID <jpserver JSON on one line>
#   exit ID <status> <epoch> <why>
# and `watching` once at the start. Stops when every session is ready or
# ended, or after SECONDS (the caller starts it again). Checks on the login
# node, so nothing crosses the network while nothing changes: every 0.05 s
# while a job runs and its JupyterLab does not listen yet (a few seconds),
# every 0.5 s while jobs only wait in the queue (possibly hours).
limit=$1
shift
base=$HOME/.jupyterlab-hpc/sessions
echo watching
left=$*
seen=
end=$(($(date +%s) + limit))
while [ -n "$left" ] && [ "$(date +%s)" -lt "$end" ]; do
  next=
  pause=0.5
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
  [ -z "$left" ] || sleep "$pause"
done
