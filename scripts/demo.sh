#!/usr/bin/env bash
# The README's first command: installs everything, starts the demo cluster
# (SLURM + sshd on this machine) and a JupyterLab with jupyterlab-hpc whose
# settings already name that cluster, then prints the URL to open.
#
#   bash scripts/demo.sh          # set up and start (again: harmless)
#   bash scripts/demo.sh stop     # stop JupyterLab and the demo cluster
#   bash scripts/demo.sh status
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEMO="$ROOT/.demo"
PORT="${DEMO_PORT:-8765}"
CLUSTER="$ROOT/tests/cluster/demo-cluster.sh"

lab_pid() {
  local pid
  pid="$(cat "$DEMO/jupyter.pid" 2>/dev/null)" || return 1
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

stop_lab() {
  local pid
  if pid="$(lab_pid)"; then
    say "demo: stopping JupyterLab (pid $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$DEMO/jupyter.pid"
}

# "This computer" gets a conda-layout Miniforge install of its own (real venvs, one with
# ipykernel; tests/cluster/local-conda-env.sh), so the panel's Environments have something to
# register. JupyterLab runs with HOME=$DEMO/home, where it lives; ~/.ssh is the real one, so
# the hpc-demo alias still works. Quick when already built.
setup_local_env() {
  mkdir -p "$DEMO/home"
  if [ -d "$HOME/.ssh" ] && [ ! -e "$DEMO/home/.ssh" ]; then
    ln -s "$HOME/.ssh" "$DEMO/home/.ssh"
  fi
  LOCAL_ENV="$(bash "$ROOT/tests/cluster/local-conda-env.sh" "$DEMO/home" laptop-env)"
}

print_url() {
  local token
  token="$(cat "$DEMO/token")"
  say ""
  say "JupyterLab with jupyterlab-hpc is running; open:"
  printf '  http://127.0.0.1:%s/lab?token=%s\n' "$PORT" "$token"
  say ""
  say "The demo cluster \"demo\" (ssh alias hpc-demo) is in Settings > HPC clusters."
  say "This computer has the conda env laptop-env (HOME=$DEMO/home): HPC panel > This computer."
  say "Log: $DEMO/jupyter.log    Stop: bash scripts/demo.sh stop"
}

write_settings() {
  local settings="$DEMO/settings/jupyterlab-hpc"
  mkdir -p "$settings"
  [ -f "$settings/plugin.jupyterlab-settings" ] && return 0
  cat >"$settings/plugin.jupyterlab-settings" <<'JSON'
{
  // Written by scripts/demo.sh: the local demo cluster, reached through the
  // `hpc-demo` alias that tests/cluster/demo-cluster.sh put in ~/.ssh/config.
  "clusters": [{ "name": "demo", "host": "hpc-demo" }],
  "jobDefaults": {
    "partition": "debug",
    "timeLimit": "01:00:00",
    "cpus": 1,
    "memory": "1G",
    "gpus": 0,
    "account": "",
    "jupyterEnvironment": "jupyterlab"
  }
}
JSON
}

start() {
  bash "$ROOT/scripts/setup.sh"
  is_root || die "the demo cluster needs root (SLURM and a second sshd): run as root or with sudo"
  bash "$CLUSTER" start
  mkdir -p "$DEMO"
  chmod 700 "$DEMO"
  write_settings
  setup_local_env
  if lab_pid >/dev/null; then
    say "demo: JupyterLab is already running"
    print_url
    return 0
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    die "port $PORT is taken by another program; choose one with DEMO_PORT=<port> bash scripts/demo.sh"
  fi
  (umask 077 && "$VENV/bin/python" -c 'import secrets; print(secrets.token_hex(24))' >"$DEMO/token")
  local args=(lab --no-browser --ServerApp.ip=127.0.0.1 "--ServerApp.port=$PORT"
    --ServerApp.port_retries=0 "--ServerApp.root_dir=$DEMO/notebooks"
    "--IdentityProvider.token=$(cat "$DEMO/token")")
  is_root && args+=(--allow-root)
  mkdir -p "$DEMO/notebooks"
  say "demo: starting JupyterLab on 127.0.0.1:$PORT"
  # setsid: its own process group, so `stop` ends the sidecar with it.
  say "demo: this computer's conda env: $LOCAL_ENV"
  HOME="$DEMO/home" JUPYTERLAB_SETTINGS_DIR="$DEMO/settings" JUPYTERLAB_WORKSPACES_DIR="$DEMO/workspaces" \
    setsid "$VENV/bin/jupyter" "${args[@]}" >"$DEMO/jupyter.log" 2>&1 </dev/null &
  echo $! >"$DEMO/jupyter.pid"
  for _ in $(seq 120); do
    if "$VENV/bin/python" - "$PORT" "$(cat "$DEMO/token")" <<'PY' 2>/dev/null; then
import sys, urllib.request
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/jupyterlab-hpc/api/v1/health",
                             headers={"Authorization": f"token {sys.argv[2]}"})
urllib.request.urlopen(req, timeout=5).read()
PY
      print_url
      return 0
    fi
    lab_pid >/dev/null || break
    sleep 0.5
  done
  tail -n 30 "$DEMO/jupyter.log" >&2 || true
  die "JupyterLab did not come up; the log above is $DEMO/jupyter.log"
}

case "${1:-start}" in
  start) start ;;
  stop)
    stop_lab
    if is_root; then bash "$CLUSTER" stop; fi
    ;;
  status)
    if pid="$(lab_pid)"; then say "JupyterLab: running (pid $pid)"; print_url; else say "JupyterLab: stopped"; fi
    bash "$CLUSTER" status
    ;;
  *) die "usage: bash scripts/demo.sh [start|stop|status]" ;;
esac
