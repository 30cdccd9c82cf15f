#!/usr/bin/env bash
# Gives "This computer" a Miniforge-layout conda install without conda (which is on none of the
# registries these machines reach): real virtual environments of Debian's /usr/bin/python3 with
# the conda-meta/ records conda writes, made by the same program the demo cluster uses
# (tests/cluster/conda_meta.py).
#
#   tests/cluster/local-conda-env.sh HOME_DIR [ENV_NAME [BARE_ENV...]]
#
#   HOME_DIR/miniforge3                 base: python only
#   HOME_DIR/miniforge3/envs/ENV_NAME   python + ipykernel (default ENV_NAME: ui-env)
#   HOME_DIR/miniforge3/envs/BARE_ENV   python only, for each BARE_ENV
#   HOME_DIR/.conda/environments.txt    every prefix, as conda keeps them
#
# Used by the UI tests (HOME of their JupyterLab) and by scripts/demo.sh. A prefix is built only
# when its conda-meta/history or its ipykernel record is missing, so a second run takes well
# under a second. Prints the env's prefix on stdout; progress goes to stderr.
set -euo pipefail

HOME_DIR=${1:?usage: $0 HOME_DIR [ENV_NAME [BARE_ENV...]]}
ENV_NAME=${2:-ui-env}
BARE_ENVS=("${@:3}")
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PYTHON=/usr/bin/python3 # Debian's: the default python3 may live where others cannot run it
BASE=$HOME_DIR/miniforge3
ENV=$BASE/envs/$ENV_NAME

say() { printf '%s\n' "$*" >&2; }
die() {
  say "local-conda-env: $*"
  exit 1
}

for name in "$ENV_NAME" "${BARE_ENVS[@]}"; do
  [[ $name =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "not an env name: $name"
done
[[ -x $PYTHON ]] || die "$PYTHON is missing: apt-get install python3-venv"

CONDA_META_PY=$ROOT/tests/cluster/conda_meta.py # conda-meta/ records for a venv

# pip's cache: the demo cluster's when it is ours to write, else one under .test-work.
if [[ -z ${PIP_CACHE_DIR:-} ]]; then
  demo_cache=/var/cache/jupyterlab-hpc-demo/pip
  if [[ -d $demo_cache && -O $demo_cache && -w $demo_cache ]]; then
    PIP_CACHE_DIR=$demo_cache
  else
    PIP_CACHE_DIR=$ROOT/.test-work/pip-cache
  fi
fi
export PIP_CACHE_DIR PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1

complete() {
  local prefix=$1 pkg
  shift
  [[ -x $prefix/bin/python && -f $prefix/conda-meta/history ]] || return 1
  for pkg in "$@"; do
    compgen -G "$prefix/conda-meta/$pkg-[0-9]*.json" >/dev/null || return 1
  done
}

build() {
  local prefix=$1
  shift
  complete "$prefix" "$@" && return 0
  local t0=$SECONDS cmd="$PYTHON -m venv $prefix"
  say "local-conda-env: building $prefix${*:+ with $*}…"
  mkdir -p "$(dirname "$prefix")"
  if (($#)); then
    "$PYTHON" -m venv --clear "$prefix" >&2
    cmd+=" && $prefix/bin/pip install $*"
    "$prefix/bin/python" -m pip install --quiet --progress-bar off "$@" >&2 ||
      die "pip install $* failed in $prefix"
  else
    # No --clear: for base it would empty envs/ too.
    "$PYTHON" -m venv "$prefix" >&2
  fi
  "$prefix/bin/python" "$CONDA_META_PY" "$prefix" "$cmd" "$@" >&2 ||
    die "could not write $prefix/conda-meta"
  say "local-conda-env: $prefix ready ($((SECONDS - t0)) s)"
}

prefixes=("$BASE" "$ENV")
build "$BASE"
build "$ENV" ipykernel
for name in "${BARE_ENVS[@]}"; do
  build "$BASE/envs/$name"
  prefixes+=("$BASE/envs/$name")
done

envs_txt=$HOME_DIR/.conda/environments.txt
mkdir -p "$(dirname "$envs_txt")"
touch "$envs_txt"
for prefix in "${prefixes[@]}"; do
  grep -qxF "$prefix" "$envs_txt" || printf '%s\n' "$prefix" >>"$envs_txt"
done
printf '%s\n' "$ENV"
