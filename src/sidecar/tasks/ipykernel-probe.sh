# shellcheck shell=sh
# Is $1 an env, and which package managers could install into it: see scripts.ts.
p=$1
if [ ! -d "$p" ]; then echo state=missing; exit 0; fi
if [ ! -d "$p/conda-meta" ] && [ ! -x "$p/bin/python" ]; then echo state=not-env; exit 0; fi
echo state=env
if [ -x "$p/bin/python" ]; then printf 'python=%s\n' "$p/bin/python"; fi
found() { if [ -f "$1" ] && [ -x "$1" ]; then printf 'tool=%s\n' "$1"; fi; }
case $p in */envs/*) r=${p%/envs/*};; *) r=$p;; esac
for t in mamba conda micromamba; do found "$r/bin/$t"; done
found "$r/condabin/conda"
for t in mamba conda micromamba; do
  c=$(command -v "$t" 2>/dev/null) && case $c in /*) found "$c";; esac
done
if [ -n "${CONDA_EXE:-}" ]; then found "$CONDA_EXE"; fi
if [ -n "${MAMBA_EXE:-}" ]; then found "$MAMBA_EXE"; fi
for t in mamba conda micromamba; do found "$HOME/.local/miniforge/bin/$t"; done
exit 0
