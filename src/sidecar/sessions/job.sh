# The body of a JupyterLab session's batch job (after the variables that
# batch-script.ts writes above it, each quoted). Runs on the compute node.
#
# Everything it leaves is in $SESSION_DIR, which only the user can open:
#   started   "<epoch> <node> <job id>" once the job runs
#   runtime/  JUPYTER_RUNTIME_DIR: jupyter_server writes jpserver-<pid>.json
#             there (0600: port, token) once it listens
#   exit      "<status> <epoch> <why>" when JupyterLab ended, however
#   token.json  JupyterLab's config with its random token (0600)
# The token is made by Python in the job and read by jupyter_server from
# token.json: it is never in argv, the job script, its name or comment, the
# environment of a process, or the log (jupyter_server prints "..." for a
# token it was given, where it would print one it made itself).
# shellcheck shell=bash
# shellcheck disable=SC2154 # the variables are set above this body

umask 077
set -u

record_exit() {
  # $1 status, $2 why: written once, by whatever ends the job first.
  if [ ! -e "$SESSION_DIR/exit" ]; then
    printf '%s %s %s\n' "$1" "$(date +%s)" "$2" >"$SESSION_DIR/exit.tmp" &&
      mv -f "$SESSION_DIR/exit.tmp" "$SESSION_DIR/exit"
  fi
}

jupyter_pid=
# shellcheck disable=SC2317 # called by the traps below
on_signal() {
  record_exit 143 "signal $1"
  if [ -n "$jupyter_pid" ]; then
    kill -TERM "$jupyter_pid" 2>/dev/null
    wait "$jupyter_pid" 2>/dev/null
  fi
  exit 143
}
trap 'on_signal TERM' TERM
trap 'on_signal INT' INT
trap 'on_signal HUP' HUP

printf '%s %s %s\n' "$(date +%s)" "$(hostname)" "${SLURM_JOB_ID:-}" >"$SESSION_DIR/started"

if ! cd -- "$WORK_DIR" 2>/dev/null; then
  echo "jupyterlab-hpc: the working directory $WORK_DIR does not exist or cannot be entered." >&2
  record_exit 2 "no working directory"
  exit 2
fi

if [ ! -x "$ENV_PREFIX/bin/jupyter" ]; then
  echo "jupyterlab-hpc: $ENV_PREFIX has no bin/jupyter: install jupyterlab into that environment." >&2
  record_exit 3 "no jupyter"
  exit 3
fi

mkdir -m 700 "$SESSION_DIR/runtime" 2>/dev/null || chmod 700 "$SESSION_DIR/runtime"
export JUPYTER_RUNTIME_DIR="$SESSION_DIR/runtime"
export PATH="$ENV_PREFIX/bin:$PATH"
export CONDA_PREFIX="$ENV_PREFIX"
unset JUPYTER_TOKEN JUPYTER_PASSWORD

# A free port on this node, so that two sessions on one node never collide;
# port_retries covers the moment between this choice and jupyter's bind.
port=$("$ENV_PREFIX/bin/python" -c 'import socket
s = socket.socket()
s.bind(("", 0))
print(s.getsockname()[1])') || port=0

if ! "$ENV_PREFIX/bin/python" -c 'import json, secrets, sys
with open(sys.argv[1], "w") as f:
    json.dump({"IdentityProvider": {"token": secrets.token_hex(32)}}, f)' \
  "$SESSION_DIR/token.json"; then
  echo "jupyterlab-hpc: could not write $SESSION_DIR/token.json." >&2
  record_exit 4 "no token"
  exit 4
fi

# Run in the background and wait, so the traps above run at once on a signal.
"$ENV_PREFIX/bin/jupyter" lab --no-browser --ip=0.0.0.0 --port="$port" \
  --ServerApp.port_retries=50 --ServerApp.root_dir="$WORK_DIR" \
  --config="$SESSION_DIR/token.json" \
  --ServerApp.shutdown_no_activity_timeout="$IDLE_SHUTDOWN_SECONDS" \
  --MappingKernelManager.cull_idle_timeout="$IDLE_SHUTDOWN_SECONDS" &
jupyter_pid=$!
# A trapped signal makes `wait` return early; wait until JupyterLab is gone,
# then once more for its real status (bash keeps it).
while kill -0 "$jupyter_pid" 2>/dev/null; do
  wait "$jupyter_pid"
done
wait "$jupyter_pid"
status=$?
if [ "$status" -eq 0 ]; then
  record_exit 0 "jupyterlab shut down"
else
  record_exit "$status" "jupyterlab exited"
fi
exit "$status"
