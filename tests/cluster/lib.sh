# shellcheck shell=bash
# lib.sh: what demo-cluster.sh and ssh-fixtures.sh share. Sourced, never run; the caller sets
# PROG (for messages), RUN_DIR (pid files), LOG_DIR (daemon output) and, for as_client,
# CLIENT_USER.

say() { printf '%s: %s\n' "$PROG" "$*"; }
die() {
  printf '%s: error: %s\n' "$PROG" "$*" >&2
  exit 1
}
now_us() { echo "${EPOCHREALTIME/./}"; }
need_root() { ((EUID == 0)) || die "run as root (e.g. sudo $0 $1)"; }

# Run a command as the client user (the one who runs the demo), with that user's HOME.
as_client() {
  if [[ $CLIENT_USER == root ]]; then
    "$@" </dev/null
  else
    runuser -u "$CLIENT_USER" -- "$@" </dev/null
  fi
}

# ---------------------------------------------------------------------------------------------
# Daemons: each one writes its pid to $RUN_DIR/<name>.pid; a pid counts only while that process
# still runs under the expected command name (truncated to 15 characters, as the kernel keeps
# it).

pid_of() {
  local name=$1 comm=${1:0:15} pid stat state
  [[ -r $RUN_DIR/$name.pid ]] || return 1
  read -r pid <"$RUN_DIR/$name.pid" || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  # /proc/PID/stat is "PID (COMM) STATE ...": a killed daemon may linger as a zombie (Z) until
  # its parent, here PID 1, reaps it.
  read -r stat 2>/dev/null <"/proc/$pid/stat" || return 1
  [[ $stat == "$pid ($comm) "* ]] || return 1
  state=${stat#"$pid ($comm) "}
  [[ ${state:0:1} != [ZX] ]] || return 1
  echo "$pid"
}

is_running() { pid_of "$1" >/dev/null; }

# launch NAME CMD...: start a self-daemonizing server with no link to our stdin/stdout/stderr or
# any other descriptor of the caller (a caller reading our output through $(...) or a pipe, or a
# test runner's extra descriptors, must not be held open) nor the caller's environment, then wait
# for its pid file.
launch() {
  local name=$1 i
  shift
  rm -f "$RUN_DIR/$name.pid"
  (
    cd /
    shopt -s nullglob
    for fd in /proc/self/fd/*; do
      fd=${fd##*/}
      if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"
  ) </dev/null >>"$LOG_DIR/$name.out" 2>&1 || true
  for ((i = 0; i < 100; i++)); do
    is_running "$name" && return 0
    sleep 0.1
  done
  return 1
}

# children_of PID: the pids whose parent is PID (from /proc; procps may not be installed).
children_of() {
  local parent=$1 f line ppid
  for f in /proc/[0-9]*/stat; do
    read -r line 2>/dev/null <"$f" || continue
    line=${line##*) }
    read -r _ ppid _ <<<"$line"
    if [[ $ppid == "$parent" ]]; then
      f=${f#/proc/}
      echo "${f%/stat}"
    fi
  done
}

# pids_of_uid UID: the processes whose real user id is UID.
pids_of_uid() {
  local uid=$1 d key real rest
  for d in /proc/[0-9]*; do
    while read -r key real rest; do
      if [[ $key == Uid: ]]; then
        if [[ $real == "$uid" ]]; then echo "${d#/proc/}"; fi
        break
      fi
    done 2>/dev/null <"$d/status" || true
  done
}

# Write FILE from stdin only if its content changes. Returns 0 if it changed, 1 if not.
write_if_changed() {
  local file=$1 mode=$2 tmp
  tmp=$(mktemp "$file.XXXXXX")
  cat >"$tmp"
  if [[ -f $file ]] && cmp -s "$tmp" "$file"; then
    rm -f "$tmp"
    return 1
  fi
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$file"
  return 0
}

# without_block FILE BEGIN END: print FILE without the block from the line BEGIN to the line END.
without_block() {
  [[ -f $1 ]] || return 0
  awk -v b="$2" -v e="$3" '$0 == b { skip = 1; next } $0 == e { skip = 0; next } !skip' "$1"
}

# Write content from stdin to FILE owned by OWNER:GROUP with MODE, keeping an existing file's inode.
install_content() {
  local file=$1 owner=$2 mode=$3 tmp
  tmp=$(mktemp)
  cat >"$tmp"
  if [[ -f $file ]] && cmp -s "$tmp" "$file"; then
    rm -f "$tmp"
    return 0
  fi
  if [[ -f $file ]]; then
    cat "$tmp" >"$file"
    rm -f "$tmp"
  else
    install -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$tmp" "$file"
    rm -f "$tmp"
  fi
}
