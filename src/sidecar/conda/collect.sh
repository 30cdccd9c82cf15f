# shellcheck shell=sh
# Collects what conda keeps about environments: see collect-script.ts.
nl='
'
cr=
oifs=$IFS
out() { printf '%s\0' "$@"; }
h=${HOME:-}
out H "$h"
var() { [ -n "$2" ] && out V "$1" "$2"; return 0; }
var CONDA_EXE "${CONDA_EXE:-}"; var CONDA_PREFIX "${CONDA_PREFIX:-}"
var CONDA_ROOT "${CONDA_ROOT:-}"; var MAMBA_EXE "${MAMBA_EXE:-}"
var MAMBA_ROOT_PREFIX "${MAMBA_ROOT_PREFIX:-}"; var CONDARC "${CONDARC:-}"
var CONDA_ENVS_PATH "${CONDA_ENVS_PATH:-}"; var CONDA_ENVS_DIRS "${CONDA_ENVS_DIRS:-}"
var JUPYTER_DATA_DIR "${JUPYTER_DATA_DIR:-}"; var JUPYTER_PATH "${JUPYTER_PATH:-}"
# A path made absolute-and-clean, or '' when it cannot be kept in a list.
# shellcheck disable=SC2088,SC2016 # ~ and $HOME of an rc file's text are matched as text
clean() {
  c=$1
  case $c in '~') c=$h;; '~/'*) c=$h/${c#'~/'};; esac
  case $c in '$HOME'|'${HOME}') c=$h;; '$HOME/'*) c=$h/${c#'$HOME/'};; '${HOME}/'*) c=$h/${c#'${HOME}/'};; esac
  while :; do case $c in /*/) c=${c%/};; *) break;; esac; done
  case $c in /*) ;; *) c=;; esac
  case $c in *"$nl"*) c=;; esac
}
roots=
addroot() {
  clean "$1"; [ -n "$c" ] || return 0
  case "$nl$roots" in *"$nl$c$nl"*) return 0;; esac
  [ -d "$c/conda-meta" ] || return 0
  roots=$roots$c$nl
  out R "$c" "$2"
}
# X: an executable of that kind; W: also found by its name on PATH ($3).
tool() {
  case $2 in /*) [ -f "$2" ] && [ -x "$2" ] || return 0;; *) return 0;; esac
  out X "$1" "$2"
  [ -z "${3:-}" ] || out W "$1"
}
trim() {
  t=${1#"${1%%[![:space:]]*}"}
  t=${t%"${t##*[![:space:]]}"}
}
# Caller's hints.
mode=; kdirs=0; only=
for a do
  case $a in
    @ka) mode=$a; kdirs=1 ;;
    @tools) only=tools ;;
    @*) mode=$a ;;
    *) case $mode in
         @r) addroot "$a" hint ;;
         @x) case ${a##*/} in conda|mamba|micromamba) tool "${a##*/}" "$a";; esac ;;
       esac ;;
  esac
done
if [ -n "${CONDA_EXE:-}" ]; then
  case ${CONDA_EXE##*/} in mamba|micromamba) tool "${CONDA_EXE##*/}" "$CONDA_EXE";; *) tool conda "$CONDA_EXE";; esac
  d=${CONDA_EXE%/*}; addroot "${d%/*}" env-var
fi
if [ -n "${MAMBA_EXE:-}" ]; then
  case ${MAMBA_EXE##*/} in mamba) tool mamba "$MAMBA_EXE";; *) tool micromamba "$MAMBA_EXE";; esac
fi
[ -n "${MAMBA_ROOT_PREFIX:-}" ] && addroot "$MAMBA_ROOT_PREFIX" env-var
[ -n "${CONDA_ROOT:-}" ] && addroot "$CONDA_ROOT" env-var
if [ -n "${CONDA_PREFIX:-}" ]; then
  clean "$CONDA_PREFIX"
  if [ -n "$c" ]; then
    if [ -x "$c/condabin/conda" ] || [ -x "$c/bin/conda" ] || [ -x "$c/bin/mamba" ]; then addroot "$c" env-var; fi
    d=${c%/*}; case $d in */envs) addroot "${d%/*}" env-var;; esac
  fi
fi
for r in .local/miniforge miniforge3 mambaforge miniconda3 anaconda3 micromamba .local/share/mamba miniforge miniconda anaconda; do
  addroot "$h/$r" default
done
for r in /opt/conda /opt/miniforge3 /opt/miniconda3 /opt/anaconda3; do addroot "$r" default; done
# What `command -v` would find, without a fork per tool.
IFS=:; set -f
for d in ${PATH:-}; do
  case $d in /*) tool conda "$d/conda" path; tool mamba "$d/mamba" path; tool micromamba "$d/micromamba" path;; esac
done
set +f; IFS=$oifs
IFS=$nl; set -f
for r in $roots; do
  set +f
  tool conda "$r/condabin/conda"; tool conda "$r/bin/conda"; tool mamba "$r/bin/mamba"; tool micromamba "$r/bin/micromamba"
done
set +f; IFS=$oifs
# micromamba's installer puts it in ~/.local/bin, which a login PATH may lack.
for t in conda mamba micromamba; do tool "$t" "$h/.local/bin/$t"; done
# Test connection wants the package managers only.
if [ "$only" = tools ]; then out G; exit 0; fi
envdirs=
adddir() {
  clean "$1"; [ -n "$c" ] || return 0
  case "$nl$envdirs" in *"$nl$c$nl"*) return 0;; esac
  [ -d "$c" ] || return 0
  envdirs=$envdirs$c$nl
  out D "$c" "$2"
}
# envs_dirs from one rc file's text in $rc.
item() {
  trim "$1"; it=$t
  case $it in
    \"*) it=${it#\"}; it=${it%%\"*};;
    \'*) it=${it#\'}; it=${it%%\'*};;
    *) it=${it%%[[:space:]]#*}; trim "$it"; it=$t;;
  esac
  adddir "$it" condarc
}
rcdirs() {
  st=0
  IFS=$nl; set -f
  for l in $rc; do
    l=${l%"$cr"}
    trim "$l"
    case $l in
      envs_dirs:*|envs_path:*)
        st=0; trim "${l#*:}"; v=$t
        case $v in
          ''|'#'*) st=1 ;;
          '['*) v=${v#'['}; v=${v%%]*}; IFS=,; for i in $v; do item "$i"; done; IFS=$nl ;;
        esac ;;
      '#'*|'') ;;
      *) case $t in
           '- '*|-) [ $st = 1 ] && item "${t#-}" ;;
           ''|'#'*) ;;
           *) st=0 ;;
         esac ;;
    esac
  done
  set +f; IFS=$oifs
}
rcfile() {
  [ -f "$1" ] || return 0
  if [ -r "$1" ] && rc=$(cat -- "$1" 2>/dev/null); then
    # A carriage return, made only when there is a file to read.
    [ -n "${cr:-}" ] || cr=$(printf '\r')
    out C "$1" ok; rcdirs
  else
    out C "$1" unreadable
  fi
}
rcset() { rcfile "$1/.condarc"; rcfile "$1/condarc"; for f in "$1"/condarc.d/*.yml "$1"/condarc.d/*.yaml; do rcfile "$f"; done; }
rcset /etc/conda
rcset /var/lib/conda
IFS=$nl; set -f
for r in $roots; do set +f; rcset "$r"; done
set +f; IFS=$oifs
rcset "${XDG_CONFIG_HOME:-$h/.config}/conda"
[ -n "${XDG_CONFIG_HOME:-}" ] && [ "$XDG_CONFIG_HOME" != "$h/.config" ] && rcset "$h/.config/conda"
rcset "$h/.conda"
rcfile "$h/.condarc"
rcfile "$h/.mambarc"
[ -n "${CONDA_PREFIX:-}" ] && rcset "$CONDA_PREFIX"
[ -n "${MAMBA_ROOT_PREFIX:-}" ] && rcfile "$MAMBA_ROOT_PREFIX/.mambarc"
[ -n "${CONDARC:-}" ] && rcfile "$CONDARC"
for v in "${CONDA_ENVS_PATH:-}" "${CONDA_ENVS_DIRS:-}"; do
  IFS=:; set -f
  for d in $v; do adddir "$d" env-var; done
  set +f; IFS=$oifs
done
IFS=$nl; set -f
for r in $roots; do adddir "$r/envs" root; done
set +f; IFS=$oifs
adddir "$h/.conda/envs" home
# Every candidate, appended to the arguments behind an origin marker.
set -- "$@" @root
IFS=$nl; set -f
for r in $roots; do set -- "$@" "$r"; done
set +f; IFS=$oifs
IFS=$nl; set -f
for d in $envdirs; do
  set +f
  set -- "$@" @envs-dir "$d"/*/
done
set +f; IFS=$oifs
txt=$h/.conda/environments.txt
if [ -f "$txt" ] && txtc=$(cat -- "$txt" 2>/dev/null); then
  # Lines naming an env inside an envs dir or a root were found above.
  txtp=
  IFS=$nl; set -f
  for l in $txtc; do
    case $l in *[[:space:]]|[[:space:]]*) trim "$l"; l=$t;; esac
    [ -n "$l" ] || continue
    out T "$l"
    case $l in /*[!/]) c=$l;; *) clean "$l"; [ -n "$c" ] || continue;; esac
    case "$nl$envdirs" in *"$nl${c%/*}$nl"*) continue;; esac
    case "$nl$roots" in *"$nl$c$nl"*) continue;; esac
    txtp=$txtp$c$nl
  done
  # shellcheck disable=SC2086 # split on newlines (IFS), globbing off
  set -- "$@" @environments.txt $txtp
  set +f; IFS=$oifs
fi
[ -n "${CONDA_PREFIX:-}" ] && set -- "$@" @env-var "$CONDA_PREFIX"
if [ $kdirs = 0 ]; then
  set -- "$@" @kp
  IFS=:; set -f
  for d in ${JUPYTER_PATH:-}; do set -- "$@" "$d/kernels"; done
  set +f; IFS=$oifs
  set -- "$@" @ku "${JUPYTER_DATA_DIR:-$h/.local/share/jupyter}/kernels" @ks /usr/local/share/jupyter/kernels /usr/share/jupyter/kernels
fi
# Scan. The for loop keeps its own copy of the list, so "$@" is free to
# collect the kernelspec directories for the one grep at the end: in a
# newline-separated list (appending to "$@" costs O(n) each time), and the
# rare path with a newline in "$@".
first=1; mode=; kd=
kdir() {
  case $1 in *"$nl"*) set -- "$@" "$1"; return 1;; esac
  kd=$kd$1$nl
}
pat='[ijp][pyu]*-[0-9]*.json'
for p do
  if [ $first = 1 ]; then set --; first=0; fi
  case $p in @*) mode=$p; continue;; /*) ;; *) continue;; esac
  case $mode in
    @k?)
      out K "$p" "${mode#@k}"
      kdir "$p" || set -- "$@" "$p" ;;
    @r|@x) ;;
    *)
      case $p in */) p=${p%/};; esac
      fl=; py=; ik=; jl=
      # The common case costs one directory read and one access(): the
      # glob matching proves conda-meta/ is there and readable.
      for f in "$p"/conda-meta/$pat; do
        case $f in "$p/conda-meta/$pat") break;; esac
        fl=xm
        n=${f##*/}
        case $n in
          python-[0-9]*) py=$py/$n ;;
          ipykernel-[0-9]*) ik=$ik/$n ;;
          jupyterlab-[0-9]*) jl=$jl/$n ;;
        esac
      done
      if [ -z "$fl" ]; then
        if [ -d "$p/conda-meta" ]; then
          fl=xm
          [ -r "$p/conda-meta" ] && [ -x "$p/conda-meta" ] || fl=xmu
        elif [ -d "$p" ]; then
          fl=x
          [ -x "$p" ] || fl=xn
        elif [ "$mode" = @envs-dir ]; then
          continue
        fi
      fi
      # `pip install ipykernel` inside an env (the usual fix, and ours when
      # there is no conda) leaves no conda-meta record, only a dist-info
      # directory, whose name carries the version. Looked for only when
      # conda-meta has no record: one more directory read for such envs.
      if [ -z "$ik" ] || [ -z "$jl" ]; then
        for f in "$p"/lib/python*/site-packages/ipykernel-[0-9]*.dist-info \
          "$p"/lib/python*/site-packages/jupyterlab-[0-9]*.dist-info; do
          [ -d "$f" ] || continue
          n=${f##*/}
          case $n in
            ipykernel-*) [ -n "$ik" ] || ik=/$n ;;
            jupyterlab-*) [ -n "$jl" ] || jl=/$n ;;
          esac
        done
      fi
      [ -x "$p/bin/python" ] && fl=${fl}p
      out P "$p" "${mode#@}" "$fl" "${py#/}" "${ik#/}" "${jl#/}"
      [ "$mode" = @envs-dir ] || kdir "$p/share/jupyter/kernels" || set -- "$@" "$p/share/jupyter/kernels" ;;
  esac
done
IFS=$nl; set -f
# shellcheck disable=SC2086 # split on newlines (IFS), globbing off
set -- "$@" $kd
for d in $envdirs; do set +f; set -- "$@" "$d"/*/share/jupyter/kernels/*/kernel.json; done
set +f; IFS=$oifs
out G
# Every kernel.json named or found below the directories named, one output
# line per line read, as "file NUL line LF". -r only for the few kernels
# directories; the builder keeps <dir>/<name>/kernel.json only.
LC_ALL=C grep -r -a --null -H --include=kernel.json -e '' -- "$@" 2>/dev/null
exit 0
