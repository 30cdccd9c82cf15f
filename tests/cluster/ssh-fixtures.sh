#!/usr/bin/env bash
# ssh-fixtures.sh: real SSH servers for the cluster-connection tests, beside the demo cluster
# (demo-cluster.sh). See tests/cluster/README.md, section "SSH fixtures".
#
#   - a gateway sshd in the network namespace jlhpc-gw (10.231.1.2:22, reachable from here through
#     a veth pair) and an inner login node's sshd in jlhpc-login (10.231.2.2:22) that only the
#     gateway reaches: ProxyJump, ProxyCommand "ssh gw exec nc %h %p" and "ssh -W";
#   - a two-factor sshd on 127.0.0.1:2224 (public key, then a TOTP code through PAM) for hpc2fa;
#   - a password sshd on 127.0.0.1:2225 (password and keyboard-interactive) for hpcpass, with no
#     authorized key until a test installs one;
#   - an ssh_config, a known_hosts file and a JSON summary under /var/lib/jupyterlab-hpc-demo/.
#
#   tests/cluster/ssh-fixtures.sh start|stop|status|info|reset-keys     (as root, on Debian 12)
#
# Needs the demo cluster's user (hpcdemo) and client key: `start` starts the demo cluster first
# when `demo-cluster.sh status` says it is not running.
#
# Environment: SSH_FIXTURES_OUTER_NET (default 10.231.1), SSH_FIXTURES_INNER_NET (10.231.2): the
# first three octets of the two /24 networks; SSH_FIXTURES_2FA_PORT (2224),
# SSH_FIXTURES_PASS_PORT (2225).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
# shellcheck source=scripts/lib.sh disable=SC1091 # followed with shellcheck -x from the repo root
source "$HERE/../../scripts/lib.sh"
# shellcheck source=tests/cluster/lib.sh
source "$HERE/lib.sh"
readonly DEMO=$HERE/demo-cluster.sh

readonly PROG=ssh-fixtures
readonly OUTER_NET=${SSH_FIXTURES_OUTER_NET:-10.231.1}
readonly INNER_NET=${SSH_FIXTURES_INNER_NET:-10.231.2}
readonly TWOFA_PORT=${SSH_FIXTURES_2FA_PORT:-2224}
readonly PASS_PORT=${SSH_FIXTURES_PASS_PORT:-2225}
readonly PACKAGES=(openssh-server openssh-client libpam-google-authenticator iproute2 nftables
  netcat-openbsd oathtool util-linux)

# The topology: host (HOST_IF, .1 of the outer net) <-veth-> eth0 of jlhpc-gw (.2); eth1 of
# jlhpc-gw (.1 of the inner net) <-veth-> eth0 of jlhpc-login (.2). The host has an
# "unreachable" route for the inner net (so a connect fails at once instead of leaving through
# the default route), and jlhpc-gw does not forward (ip_forward 0).
readonly NS_GW=jlhpc-gw
readonly NS_LOGIN=jlhpc-login
readonly HOST_IF=jlhpc-gw0
readonly HOST_ADDR=$OUTER_NET.1
readonly GW_ADDR=$OUTER_NET.2
readonly GW_INNER_ADDR=$INNER_NET.1
readonly LOGIN_ADDR=$INNER_NET.2
readonly ROUTE_PROTO=231 # marks our route on the host, so stop finds it whatever the settings

readonly LOOPBACK=127.0.0.1
readonly DEMO_USER=hpcdemo
readonly TWOFA_USER=hpc2fa
readonly PASS_USER=hpcpass
readonly TOTP_WINDOW=3
readonly TOTP_STEP=30

readonly CONF_DIR=/etc/jupyterlab-hpc-demo
readonly STATE_DIR=/var/lib/jupyterlab-hpc-demo
readonly SECRETS_DIR=$STATE_DIR/ssh-fixtures
readonly CLUSTER_JSON=$STATE_DIR/cluster.json
readonly INFO_JSON=$STATE_DIR/ssh-fixtures.json
readonly KNOWN_HOSTS=$STATE_DIR/ssh-fixtures.known_hosts
readonly SSH_CONFIG=$STATE_DIR/ssh-fixtures.config
readonly LOG_DIR=/var/log/jupyterlab-hpc-demo
readonly RUN_DIR=/run/jupyterlab-hpc-demo
readonly LOCK_FILE=/run/lock/jupyterlab-hpc-ssh-fixtures.lock
readonly SBIN=/usr/local/sbin
readonly VENV_PYTHON=/usr/bin/python3 # Debian's, as in demo-cluster.sh

# The four sshds. Each runs as $SBIN/jlhpc-sshd-<fixture>, a symlink to /usr/sbin/sshd: OpenSSH
# names its PAM service after the basename of argv[0], so the 2fa and pass instances read
# /etc/pam.d/jlhpc-sshd-2fa and /etc/pam.d/jlhpc-sshd-pass, and /etc/pam.d/sshd stays untouched.
readonly FIXTURES=(gw login 2fa pass)
declare -A NETNS=([gw]=$NS_GW [login]=$NS_LOGIN [2fa]='' [pass]='')
declare -A ADDR=([gw]=$GW_ADDR [login]=$LOGIN_ADDR [2fa]=$LOOPBACK [pass]=$LOOPBACK)
declare -A PORT=([gw]=22 [login]=22 [2fa]=$TWOFA_PORT [pass]=$PASS_PORT)
declare -A USER_OF=([gw]=$DEMO_USER [login]=$DEMO_USER [2fa]=$TWOFA_USER [pass]=$PASS_USER)
declare -A UTS_NAME=([gw]=jlhpc-gw [login]=jlhpc-login [2fa]='' [pass]='')
declare -A ALIAS=([gw]=hpc-gw [login]=hpc-inner-jump [2fa]=hpc-2fa [pass]=hpc-pass)

export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C.UTF-8
umask 022

usage() {
  cat >&2 <<EOF
usage: $0 start|stop|status|info|reset-keys
  start       install and start the SSH fixtures (idempotent; starts the demo cluster if needed)
  stop        stop the fixture sshds and remove the network namespaces (users, keys, files stay)
  status      print each fixture's state; exit non-zero if one is down
  info        print $INFO_JSON
  reset-keys  empty ~$PASS_USER/.ssh/authorized_keys (start never does)
EOF
  exit 2
}

daemon() { echo "jlhpc-sshd-$1"; }
sshd_dir() { echo "$CONF_DIR/ssh-$1"; }
known_hosts_name() {
  if [[ ${PORT[$1]} == 22 ]]; then echo "${ADDR[$1]}"; else echo "[${ADDR[$1]}]:${PORT[$1]}"; fi
}

check_settings() {
  local net
  for net in "$OUTER_NET" "$INNER_NET"; do
    [[ $net =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] ||
      die "'$net' is not the first three octets of a /24 (SSH_FIXTURES_OUTER_NET, SSH_FIXTURES_INNER_NET)"
  done
  [[ $OUTER_NET != "$INNER_NET" ]] || die "SSH_FIXTURES_OUTER_NET and SSH_FIXTURES_INNER_NET must differ"
  local port
  for port in "$TWOFA_PORT" "$PASS_PORT"; do
    if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then die "'$port' is not a TCP port"; fi
  done
  [[ $TWOFA_PORT != "$PASS_PORT" ]] || die "SSH_FIXTURES_2FA_PORT and SSH_FIXTURES_PASS_PORT must differ"
}

# The client (whoever runs the demo): its key comes from the demo cluster's cluster.json.
resolve_client() {
  [[ -r $CLUSTER_JSON ]] || die "$CLUSTER_JSON not found: the demo cluster did not start"
  CLIENT_KEY=$("$VENV_PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["identityFile"])' "$CLUSTER_JSON")
  [[ -s $CLIENT_KEY && -s $CLIENT_KEY.pub ]] || die "the demo client key $CLIENT_KEY is missing: run $DEMO start"
  CLIENT_USER=$(stat -c %U "$CLIENT_KEY")
}

home_of() { getent passwd "$1" | cut -d: -f6; }

# ---------------------------------------------------------------------------------------------
# Daemons (pid_of, launch: lib.sh)

# wait_gone PID...: wait up to 5 s for the processes to end, then KILL them.
wait_gone() {
  local i pid
  local -a alive
  for ((i = 0; i < 50; i++)); do
    alive=()
    for pid in "$@"; do
      if [[ -e /proc/$pid ]] && [[ $(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) != Z ]]; then
        alive+=("$pid")
      fi
    done
    ((${#alive[@]})) || return 0
    sleep 0.1
  done
  kill -KILL "${alive[@]}" 2>/dev/null || true
}

# halt FIXTURE: stop its sshd and the sessions it serves.
halt() {
  local fx=$1 name pid
  name=$(daemon "$fx")
  local -a pids=()
  if pid=$(pid_of "$name"); then
    pids=("$pid")
    mapfile -t -O 1 pids < <(children_of "$pid")
  fi
  if [[ -n ${NETNS[$fx]} ]] && [[ -e /run/netns/${NETNS[$fx]} ]]; then
    mapfile -t -O "${#pids[@]}" pids < <(ip netns pids "${NETNS[$fx]}" 2>/dev/null)
  fi
  rm -f "$RUN_DIR/$name.pid"
  if ((${#pids[@]})); then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait_gone "${pids[@]}"
    say "stopped $name"
  fi
}

# end_user_processes USER: what a fixture-only user still runs (commands of ssh sessions without a
# terminal outlive sshd).
end_user_processes() {
  local uid
  uid=$(id -u "$1" 2>/dev/null) || return 0
  local -a left
  mapfile -t left < <(pids_of_uid "$uid")
  ((${#left[@]})) || return 0
  kill -TERM "${left[@]}" 2>/dev/null || true
  wait_gone "${left[@]}"
}

# port_open FIXTURE: its sshd accepts connections (probed from where its clients come from).
port_open() {
  case $1 in
    login) ip netns exec "$NS_GW" nc -z -w 1 "$LOGIN_ADDR" 22 >/dev/null 2>&1 ;;
    *) nc -z -w 1 "${ADDR[$1]}" "${PORT[$1]}" >/dev/null 2>&1 ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# 1. packages and the demo cluster

ensure_packages() {
  local -a missing=()
  local p installed
  installed=" $(dpkg-query -W -f='${db:Status-Abbrev}${Package} ' "${PACKAGES[@]}" 2>/dev/null || true)"
  for p in "${PACKAGES[@]}"; do
    [[ $installed == *" ii $p "* ]] || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  say "installing ${missing[*]} (apt-get; log: $LOG_DIR/apt.log)…"
  apt_install "${missing[@]}" </dev/null >>"$LOG_DIR/apt.log" 2>&1 ||
    die "apt-get install ${missing[*]} failed; see $LOG_DIR/apt.log"
}

ensure_demo_cluster() {
  if bash "$DEMO" status >/dev/null 2>&1 && [[ -r $CLUSTER_JSON ]]; then return 0; fi
  say "the demo cluster is not running: starting it ($DEMO start)…"
  bash "$DEMO" start || die "the demo cluster did not start; the SSH fixtures need its user $DEMO_USER and client key"
}

# ---------------------------------------------------------------------------------------------
# 2. network namespaces

# addrs NETNS: "dev address/len" of the interfaces that are up, sorted.
addrs() { ip -n "$1" -4 -o addr show up 2>/dev/null | awk '{ print $2, $4 }' | sort; }

net_ok() {
  [[ -e /run/netns/$NS_GW && -e /run/netns/$NS_LOGIN ]] || return 1
  [[ $(ip -4 -o addr show dev "$HOST_IF" up 2>/dev/null | awk '{ print $4 }') == "$HOST_ADDR/24" ]] || return 1
  [[ $(addrs "$NS_GW") == "$(printf '%s\n' "eth0 $GW_ADDR/24" "eth1 $GW_INNER_ADDR/24" "lo 127.0.0.1/8")" ]] || return 1
  [[ $(addrs "$NS_LOGIN") == "$(printf '%s\n' "eth0 $LOGIN_ADDR/24" "lo 127.0.0.1/8")" ]] || return 1
  [[ -n $(ip -4 route show type unreachable "$INNER_NET.0/24" proto "$ROUTE_PROTO") ]] || return 1
  [[ $(ip netns exec "$NS_GW" cat /proc/sys/net/ipv4/ip_forward) == 0 ]] || return 1
}

net_down() {
  halt gw
  halt login
  local ns
  for ns in "$NS_GW" "$NS_LOGIN"; do
    if [[ -e /run/netns/$ns ]]; then ip netns del "$ns"; fi
  done
  # Deleting jlhpc-gw deletes its veth ends and so their peers; this is for a half-built state.
  if ip link show dev "$HOST_IF" >/dev/null 2>&1; then ip link del dev "$HOST_IF"; fi
  ip route flush proto "$ROUTE_PROTO" 2>/dev/null || true
}

net_up() {
  net_ok && return 0
  # Networks routed here by something else (not by a previous start) are not ours to use.
  local net taken
  for net in "$OUTER_NET" "$INNER_NET"; do
    taken=$(ip -4 route show root "$net.0/24" | grep -Ev -e " dev $HOST_IF( |\$)" -e " proto $ROUTE_PROTO( |\$)" | head -n 1 || true)
    if [[ -n $taken ]]; then
      die "$net.0/24 is already routed on this machine ($taken); choose other networks with SSH_FIXTURES_OUTER_NET / SSH_FIXTURES_INNER_NET"
    fi
  done
  net_down >/dev/null
  say "creating network namespaces $NS_GW ($GW_ADDR, $GW_INNER_ADDR) and $NS_LOGIN ($LOGIN_ADDR)…"
  {
    ip netns add "$NS_GW" &&
      ip netns add "$NS_LOGIN" &&
      ip -n "$NS_GW" link set lo up &&
      ip -n "$NS_LOGIN" link set lo up &&
      ip link add "$HOST_IF" type veth peer name eth0 netns "$NS_GW" &&
      ip addr add "$HOST_ADDR/24" dev "$HOST_IF" &&
      ip link set "$HOST_IF" up &&
      ip -n "$NS_GW" addr add "$GW_ADDR/24" dev eth0 &&
      ip -n "$NS_GW" link set eth0 up &&
      ip -n "$NS_GW" link add eth1 type veth peer name eth0 netns "$NS_LOGIN" &&
      ip -n "$NS_GW" addr add "$GW_INNER_ADDR/24" dev eth1 &&
      ip -n "$NS_GW" link set eth1 up &&
      ip -n "$NS_LOGIN" addr add "$LOGIN_ADDR/24" dev eth0 &&
      ip -n "$NS_LOGIN" link set eth0 up &&
      ip netns exec "$NS_GW" sh -c 'echo 0 >/proc/sys/net/ipv4/ip_forward' &&
      ip route add unreachable "$INNER_NET.0/24" proto "$ROUTE_PROTO"
  } </dev/null || die "could not build the network namespaces (ip netns, veth)"
  net_ok || die "the network namespaces are not as expected after building them"
}

# ---------------------------------------------------------------------------------------------
# 3. users, secrets, PAM

ensure_user() {
  local user=$1
  if ! id "$user" >/dev/null 2>&1; then
    say "creating user $user…"
    useradd -m -s /bin/bash "$user"
  fi
  # useradd leaves the password '!' (locked), and sshd refuses even key logins to a locked
  # account; '*' means "no password can match" without locking it.
  if [[ $(getent shadow "$user" | cut -d: -f2) == '!'* ]]; then
    usermod -p '*' "$user"
  fi
}

# ssh_dir USER: ~USER/.ssh (0700) with an authorized_keys file (0600), created if missing.
ssh_dir() {
  local user=$1 home
  home=$(home_of "$user")
  install -d -m 700 -o "$user" -g "$user" "$home/.ssh"
  if [[ ! -f $home/.ssh/authorized_keys ]]; then
    install -m 600 -o "$user" -g "$user" /dev/null "$home/.ssh/authorized_keys"
  fi
  echo "$home/.ssh"
}

setup_2fa_user() {
  ensure_user "$TWOFA_USER"
  local dir home ga secret=''
  dir=$(ssh_dir "$TWOFA_USER")
  # Exactly the demo client key.
  if write_if_changed "$dir/authorized_keys" 600 <"$CLIENT_KEY.pub"; then :; fi
  chown "$TWOFA_USER:$TWOFA_USER" "$dir/authorized_keys"
  # The TOTP secret is made once per machine and kept in ~/.google_authenticator (the module's
  # file format: the base32 secret, then options). No DISALLOW_REUSE and no RATE_LIMIT: tests log
  # in several times within one 30 s step with the same code. WINDOW_SIZE 3 accepts the codes of
  # the previous, current and next step. Without those options (and with noskewadj in PAM) the
  # module never rewrites the file.
  home=$(home_of "$TWOFA_USER")
  ga=$home/.google_authenticator
  if [[ -f $ga ]]; then read -r secret <"$ga" || true; fi
  if ! [[ $secret =~ ^[A-Z2-7]{16,}$ ]]; then
    say "making the TOTP secret of $TWOFA_USER…"
    secret=$(head -c 20 /dev/urandom | base32)
  fi
  TOTP_SECRET=$secret
  printf '%s\n' "$secret" '" TOTP_AUTH' "\" STEP_SIZE $TOTP_STEP" "\" WINDOW_SIZE $TOTP_WINDOW" |
    write_if_changed "$ga" 600 || true
  chown "$TWOFA_USER:$TWOFA_USER" "$ga"
  chmod 600 "$ga"
}

setup_pass_user() {
  ensure_user "$PASS_USER"
  # Tests install keys here (key setup): start never empties it, only reset-keys does.
  ssh_dir "$PASS_USER" >/dev/null
  install -d -m 700 "$SECRETS_DIR"
  local pwfile=$SECRETS_DIR/$PASS_USER.password hashfile=$SECRETS_DIR/$PASS_USER.shadow hash
  if [[ ! -s $pwfile ]]; then
    say "making the password of $PASS_USER…"
    (umask 077 && head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$pwfile")
  fi
  chmod 600 "$pwfile"
  read -r PASSWORD <"$pwfile"
  # Set it only when the shadow entry is not the one set last time (keeps start idempotent).
  hash=$(getent shadow "$PASS_USER" | cut -d: -f2)
  if [[ ! -s $hashfile ]] || [[ $hash != "$(cat "$hashfile")" ]]; then
    printf '%s:%s\n' "$PASS_USER" "$PASSWORD" | chpasswd
    (umask 077 && getent shadow "$PASS_USER" | cut -d: -f2 >"$hashfile")
  fi
}

pam_2fa() {
  cat <<EOF
# Written by tests/cluster/ssh-fixtures.sh; rewritten by each start. The PAM service of the
# 2FA fixture sshd ($SBIN/$(daemon 2fa), a symlink to /usr/sbin/sshd: OpenSSH names its PAM
# service after argv[0]). sshd checks the public key itself (AuthenticationMethods
# publickey,keyboard-interactive:pam); PAM asks only for the TOTP code ("Verification code:").
auth     required  pam_google_authenticator.so noskewadj
@include common-account
@include common-session-noninteractive
EOF
}

pam_pass() {
  cat <<EOF
# Written by tests/cluster/ssh-fixtures.sh; rewritten by each start. The PAM service of the
# password fixture sshd ($SBIN/$(daemon pass), a symlink to /usr/sbin/sshd: OpenSSH names its
# PAM service after argv[0]): the Unix password, for both "password" and "keyboard-interactive".
@include common-auth
@include common-account
@include common-session-noninteractive
@include common-password
EOF
}

# ---------------------------------------------------------------------------------------------
# 4. the sshds

sshd_config() {
  local fx=$1 dir use_pam=no password=no kbd=no
  dir=$(sshd_dir "$fx")
  case $fx in
    2fa) use_pam=yes kbd=yes ;;
    pass) use_pam=yes kbd=yes password=yes ;;
  esac
  cat <<EOF
# Written by tests/cluster/ssh-fixtures.sh (jupyterlab-hpc SSH fixture "$fx"); rewritten by each
# start. Run as $SBIN/$(daemon "$fx")${NETNS[$fx]:+ in the network namespace ${NETNS[$fx]}}.
Port ${PORT[$fx]}
ListenAddress ${ADDR[$fx]}
HostKey $dir/ssh_host_ed25519_key
HostKey $dir/ssh_host_ecdsa_key
HostKey $dir/ssh_host_rsa_key
PidFile $RUN_DIR/$(daemon "$fx").pid
AllowUsers ${USER_OF[$fx]}
PermitRootLogin no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication $password
KbdInteractiveAuthentication $kbd
UsePAM $use_pam
EOF
  if [[ $fx == 2fa ]]; then echo "AuthenticationMethods publickey,keyboard-interactive:pam"; fi
  cat <<EOF
StrictModes yes
AllowTcpForwarding yes
X11Forwarding no
PrintMotd no
LogLevel VERBOSE
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
}

start_sshd() {
  local fx=$1 name dir t changed=0
  name=$(daemon "$fx")
  dir=$(sshd_dir "$fx")
  install -d -m 755 "$dir" /run/sshd
  if [[ $(readlink "$SBIN/$name" 2>/dev/null) != /usr/sbin/sshd ]]; then
    ln -sfn /usr/sbin/sshd "$SBIN/$name"
    changed=1
  fi
  for t in ed25519 ecdsa rsa; do
    if [[ ! -s $dir/ssh_host_${t}_key || ! -s $dir/ssh_host_${t}_key.pub ]]; then
      rm -f "$dir/ssh_host_${t}_key" "$dir/ssh_host_${t}_key.pub"
      ssh-keygen -q -t "$t" -N '' -C "${ALIAS[$fx]}" -f "$dir/ssh_host_${t}_key" </dev/null
      changed=1
    fi
  done
  if sshd_config "$fx" | write_if_changed "$dir/sshd_config" 644; then changed=1; fi
  case $fx in
    2fa) if pam_2fa | write_if_changed "/etc/pam.d/$name" 644; then changed=1; fi ;;
    pass) if pam_pass | write_if_changed "/etc/pam.d/$name" 644; then changed=1; fi ;;
  esac
  if ((changed)) && is_running "$name"; then
    say "$name: configuration changed, restarting it…"
    halt "$fx"
  fi
  /usr/sbin/sshd -t -f "$dir/sshd_config" || die "invalid $dir/sshd_config"
  is_running "$name" && return 0
  if [[ -z ${NETNS[$fx]} ]] && port_open "$fx"; then
    die "${ADDR[$fx]}:${PORT[$fx]} is taken by another program; choose another port (see $0 header)"
  fi
  say "starting $name on ${ADDR[$fx]}:${PORT[$fx]}${NETNS[$fx]:+ (netns ${NETNS[$fx]}, hostname ${UTS_NAME[$fx]})}…"
  local -a cmd=("$SBIN/$name" -f "$dir/sshd_config" -E "$LOG_DIR/$name.log")
  if [[ -n ${NETNS[$fx]} ]]; then
    # Its own network namespace, and its own UTS namespace so that `hostname` tells the hosts
    # apart. sshd re-executes itself for each connection: the path must be absolute.
    # shellcheck disable=SC2016 # $0 and $@ belong to the inner sh
    cmd=(ip netns exec "${NETNS[$fx]}" unshare --uts /bin/sh -c 'hostname "$0" && exec "$@"'
      "${UTS_NAME[$fx]}" "${cmd[@]}")
  fi
  launch "$name" "${cmd[@]}" || die "$name did not start; see $LOG_DIR/$name.log and $LOG_DIR/$name.out"
  STARTED=1
  local i
  for ((i = 0; i < 50; i++)); do
    port_open "$fx" && return 0
    sleep 0.1
  done
  die "$name is not listening on ${ADDR[$fx]}:${PORT[$fx]}; see $LOG_DIR/$name.log"
}

# ---------------------------------------------------------------------------------------------
# 5. client files

known_hosts_lines() {
  local fx=$1 dir name f
  dir=$(sshd_dir "$fx")
  name=$(known_hosts_name "$fx")
  for f in "$dir"/ssh_host_{ed25519,ecdsa,rsa}_key.pub; do
    awk -v h="$name" '{ print h, $1, $2 }' "$f"
  done
}

ssh_config() {
  local kh=$KNOWN_HOSTS cfg=$SSH_CONFIG
  cat <<EOF
# Written by tests/cluster/ssh-fixtures.sh; rewritten by each start. Use with: ssh -F $cfg ALIAS
# Absolute paths only: OpenSSH takes ~ from the passwd entry, not from \$HOME.
EOF
  local alias host port user proxy
  while read -r alias host port user proxy; do
    printf '\nHost %s\n' "$alias"
    printf '    HostName %s\n    Port %s\n    User %s\n' "$host" "$port" "$user"
    if [[ $alias != hpc-pass ]]; then
      printf '    IdentityFile %s\n' "$CLIENT_KEY"
    fi
    printf '    IdentitiesOnly yes\n'
    printf '    UserKnownHostsFile %s\n    GlobalKnownHostsFile /dev/null\n    StrictHostKeyChecking yes\n' "$kh"
    case $proxy in
      jump) printf '    ProxyJump hpc-gw\n' ;;
      nc) printf '    ProxyCommand ssh -F %s hpc-gw exec nc %%h %%p\n' "$cfg" ;;
      w) printf '    ProxyCommand ssh -F %s -W %%h:%%p hpc-gw\n' "$cfg" ;;
    esac
  done <<EOF
hpc-gw $GW_ADDR 22 $DEMO_USER -
hpc-inner-jump $LOGIN_ADDR 22 $DEMO_USER jump
hpc-inner-nc $LOGIN_ADDR 22 $DEMO_USER nc
hpc-inner-w $LOGIN_ADDR 22 $DEMO_USER w
hpc-2fa $LOOPBACK $TWOFA_PORT $TWOFA_USER -
hpc-pass $LOOPBACK $PASS_PORT $PASS_USER -
EOF
}

readonly INFO_JSON_PY='
import json, os, sys
a = json.loads(sys.argv[2])
def host(fx, **extra):
    d = {"alias": a["alias_" + fx], "host": a["addr_" + fx], "port": int(a["port_" + fx]),
         "user": a["user_" + fx], "knownHostsName": a["khname_" + fx],
         "knownHosts": a["kh_" + fx].splitlines()}
    d.update(extra)
    return d
info = {
    "clientKey": a["client_key"],
    "knownHostsFile": a["known_hosts"],
    "sshConfigFile": a["ssh_config"],
    "hosts": {
        "gateway": host("gw", hostname=a["uts_gw"], netns=a["ns_gw"]),
        "inner": host("login", hostname=a["uts_login"], netns=a["ns_login"], via="gateway",
                      aliases={"proxyJump": "hpc-inner-jump", "proxyCommandNc": "hpc-inner-nc",
                               "proxyCommandW": "hpc-inner-w"}),
        "twoFactor": host("2fa", pamService=a["pam_2fa"],
                          authenticationMethods="publickey,keyboard-interactive:pam",
                          totp={"secret": a["totp_secret"], "algorithm": "SHA1", "digits": 6,
                                "period": int(a["totp_step"]), "window": int(a["totp_window"])}),
        "password": host("pass", pamService=a["pam_pass"], password=a["password"],
                         authorizedKeys=a["pass_authorized_keys"]),
    },
    "netns": {
        "gateway": {"name": a["ns_gw"], "hostname": a["uts_gw"], "address": a["addr_gw"],
                    "innerAddress": a["gw_inner_addr"], "hostAddress": a["host_addr"],
                    "hostInterface": a["host_if"]},
        "login": {"name": a["ns_login"], "hostname": a["uts_login"], "address": a["addr_login"]},
        "outerSubnet": a["outer_net"] + ".0/24",
        "innerSubnet": a["inner_net"] + ".0/24",
    },
}
out = sys.argv[1]
text = json.dumps(info, indent=2) + "\n"
if os.path.exists(out) and open(out).read() == text:
    sys.exit(0)
fd = os.open(out + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as f:
    f.write(text)
os.chmod(out + ".tmp", 0o600)
os.replace(out + ".tmp", out)
'

write_client_files() {
  install -d -m 755 "$STATE_DIR"
  local fx all=''
  for fx in "${FIXTURES[@]}"; do all+=$(known_hosts_lines "$fx")$'\n'; done
  printf '%s' "$all" | write_if_changed "$KNOWN_HOSTS" 644 || true
  ssh_config | write_if_changed "$SSH_CONFIG" 644 || true
  # The facts as one JSON object, through the environment-free argv (python builds the JSON).
  local args
  args=$("$VENV_PYTHON" -c 'import json, sys; it = iter(sys.argv[1:]); print(json.dumps(dict(zip(it, it))))' \
    client_key "$CLIENT_KEY" known_hosts "$KNOWN_HOSTS" ssh_config "$SSH_CONFIG" \
    alias_gw hpc-gw alias_login hpc-inner-jump alias_2fa hpc-2fa alias_pass hpc-pass \
    addr_gw "$GW_ADDR" addr_login "$LOGIN_ADDR" addr_2fa "$LOOPBACK" addr_pass "$LOOPBACK" \
    port_gw 22 port_login 22 port_2fa "$TWOFA_PORT" port_pass "$PASS_PORT" \
    user_gw "$DEMO_USER" user_login "$DEMO_USER" user_2fa "$TWOFA_USER" user_pass "$PASS_USER" \
    khname_gw "$(known_hosts_name gw)" khname_login "$(known_hosts_name login)" \
    khname_2fa "$(known_hosts_name 2fa)" khname_pass "$(known_hosts_name pass)" \
    kh_gw "$(known_hosts_lines gw)" kh_login "$(known_hosts_lines login)" \
    kh_2fa "$(known_hosts_lines 2fa)" kh_pass "$(known_hosts_lines pass)" \
    uts_gw "${UTS_NAME[gw]}" uts_login "${UTS_NAME[login]}" ns_gw "$NS_GW" ns_login "$NS_LOGIN" \
    pam_2fa "$(daemon 2fa)" pam_pass "$(daemon pass)" totp_secret "$TOTP_SECRET" \
    totp_step "$TOTP_STEP" totp_window "$TOTP_WINDOW" password "$PASSWORD" \
    pass_authorized_keys "$(home_of "$PASS_USER")/.ssh/authorized_keys" \
    gw_inner_addr "$GW_INNER_ADDR" host_addr "$HOST_ADDR" host_if "$HOST_IF" \
    outer_net "$OUTER_NET" inner_net "$INNER_NET")
  "$VENV_PYTHON" -c "$INFO_JSON_PY" "$INFO_JSON" "$args"
  # Secrets inside: only the client (the owner of the demo client key; root by default) reads it.
  chown "$CLIENT_USER" "$INFO_JSON"
  chmod 600 "$INFO_JSON"
}

# The fixtures' aliases in the client's own ~/.ssh/config too (an Include, in a marked block right
# after the demo cluster's), so JupyterLab's "Add cluster" offers them and a browser test can log
# in through the 2FA and password fixtures. Their hosts' keys come from the fixtures' own
# known_hosts (UserKnownHostsFile in $SSH_CONFIG), so ~/.ssh/known_hosts is not touched.
readonly CLIENT_MARK_BEGIN='# >>> jupyterlab-hpc ssh fixtures >>>'
readonly CLIENT_MARK_END='# <<< jupyterlab-hpc ssh fixtures <<<'
readonly DEMO_MARK_END='# <<< jupyterlab-hpc demo <<<'

client_ssh_config() { echo "$(home_of "$CLIENT_USER")/.ssh/config"; }

write_client_include() {
  local config block
  config=$(client_ssh_config)
  [[ -d ${config%/*} ]] || return 0
  block=$(printf '%s\n' "$CLIENT_MARK_BEGIN" \
    "# The SSH fixtures of jupyterlab-hpc's tests (tests/cluster/ssh-fixtures.sh); removed by its stop." \
    "Include $SSH_CONFIG" 'Host *' "$CLIENT_MARK_END")
  # After the demo's block if there is one, else first: never inside one of the user's Host
  # blocks, where an Include would only apply to that host.
  local after=''
  if [[ -f $config ]] && grep -qxF "$DEMO_MARK_END" "$config"; then after=$DEMO_MARK_END; fi
  without_block "$config" "$CLIENT_MARK_BEGIN" "$CLIENT_MARK_END" |
    awk -v block="$block" -v after="$after" '
      NR == 1 && after == "" { print block }
      { print }
      after != "" && $0 == after { print block }
      END { if (NR == 0) print block }' |
    install_content "$config" "$CLIENT_USER:$(id -gn "$CLIENT_USER")" 600
}

remove_client_include() {
  local config
  config=$(client_ssh_config)
  [[ -f $config ]] || return 0
  grep -qxF "$CLIENT_MARK_BEGIN" "$config" || return 0
  without_block "$config" "$CLIENT_MARK_BEGIN" "$CLIENT_MARK_END" |
    install_content "$config" "$CLIENT_USER:$(id -gn "$CLIENT_USER")" 600
}

# ---------------------------------------------------------------------------------------------
# 6. a real login to each fixture with OpenSSH, as the client

verify_logins() {
  local tmp
  tmp=$(mktemp -d)
  VERIFY_TMP=$tmp
  trap 'rm -rf "$VERIFY_TMP"' EXIT
  # shellcheck disable=SC2016 # expanded by the askpass script
  printf '#!/bin/sh\nprintf "%%s\\n" "$JLHPC_ANSWER"\n' >"$tmp/askpass"
  chmod 755 "$tmp/askpass"
  chown -R "$CLIENT_USER" "$tmp"
  local -a ssh=(ssh -F "$SSH_CONFIG" -o ConnectTimeout=10 -o NumberOfPasswordPrompts=1)
  local -a ask=(env SSH_ASKPASS="$tmp/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:0)
  local alias code err=$LOG_DIR/ssh-fixtures-check.err
  : >"$err"
  # All at once (a login through the gateway takes up to a second); each writes what it got.
  for alias in hpc-gw hpc-inner-jump hpc-inner-nc hpc-inner-w; do
    as_client "${ssh[@]}" -o BatchMode=yes "$alias" hostname >"$tmp/$alias" 2>>"$err" &
  done
  code=$(oathtool --totp -b "$TOTP_SECRET")
  as_client "${ask[@]}" JLHPC_ANSWER="$code" "${ssh[@]}" hpc-2fa whoami >"$tmp/hpc-2fa" 2>>"$err" &
  as_client "${ask[@]}" JLHPC_ANSWER="$PASSWORD" "${ssh[@]}" hpc-pass whoami >"$tmp/hpc-pass" 2>>"$err" &
  wait || true
  local fail=0 want got
  for alias in hpc-gw hpc-inner-jump hpc-inner-nc hpc-inner-w hpc-2fa hpc-pass; do
    case $alias in
      hpc-gw) want=${UTS_NAME[gw]} ;;
      hpc-inner-*) want=${UTS_NAME[login]} ;;
      hpc-2fa) want=$TWOFA_USER ;;
      hpc-pass) want=$PASS_USER ;;
    esac
    got=$(cat "$tmp/$alias")
    if [[ $got != "$want" ]]; then
      say "login check: ssh $alias printed '$got', not '$want'" >&2
      fail=1
    fi
  done
  ((fail == 0)) || die "a fixture login failed; see $err and $LOG_DIR/jlhpc-sshd-*.log"
}

# ---------------------------------------------------------------------------------------------
# commands


take_lock() {
  install -d -m 755 "$(dirname "$LOCK_FILE")"
  exec 8>"$LOCK_FILE"
  flock -w 300 8 || die "another $PROG is still running (lock $LOCK_FILE)"
}

cmd_start() {
  local t0 fx
  t0=$(now_us)
  need_root start
  check_settings
  install -d -m 755 "$LOG_DIR" "$RUN_DIR" "$STATE_DIR"
  take_lock
  ensure_packages
  ensure_demo_cluster
  resolve_client
  net_up
  setup_2fa_user
  setup_pass_user
  STARTED=0
  for fx in "${FIXTURES[@]}"; do start_sshd "$fx"; done
  write_client_files
  write_client_include
  # A full login to each fixture when one was (re)started; otherwise the ports were checked.
  if ((STARTED)); then verify_logins; fi
  for fx in "${FIXTURES[@]}"; do
    port_open "$fx" || die "$(daemon "$fx") does not answer on ${ADDR[$fx]}:${PORT[$fx]}"
  done
  say "up: ssh -F $SSH_CONFIG hpc-gw | hpc-inner-jump | hpc-inner-nc | hpc-inner-w | hpc-2fa | hpc-pass; $INFO_JSON"
  local ms=$((($(now_us) - t0) / 1000))
  say "started in $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s"
}

cmd_stop() {
  need_root stop
  install -d -m 755 "$RUN_DIR"
  take_lock
  halt 2fa
  halt pass
  end_user_processes "$TWOFA_USER"
  end_user_processes "$PASS_USER"
  net_down
  if [[ -r $CLUSTER_JSON ]]; then
    resolve_client
    remove_client_include
  fi
  say "stopped (users, keys, secrets and client files stay; start again with: $0 start)"
}

cmd_status() {
  local fx name pid down=0
  for fx in "${FIXTURES[@]}"; do
    name=$(daemon "$fx")
    if ! pid=$(pid_of "$name"); then
      printf '%-17s not running\n' "$name"
      down=1
    elif port_open "$fx"; then
      printf '%-17s running (pid %s), listening on %s:%s%s\n' "$name" "$pid" "${ADDR[$fx]}" \
        "${PORT[$fx]}" "${NETNS[$fx]:+ in netns ${NETNS[$fx]}}"
    else
      printf '%-17s running (pid %s) but NOT listening on %s:%s\n' "$name" "$pid" "${ADDR[$fx]}" "${PORT[$fx]}"
      down=1
    fi
  done
  if net_ok; then
    printf '%-17s %s, %s (inner net unreachable from the host, no forwarding)\n' netns "$NS_GW" "$NS_LOGIN"
  else
    printf '%-17s missing or not as expected\n' netns
    down=1
  fi
  return "$down"
}

cmd_info() {
  [[ -r $INFO_JSON ]] || die "$INFO_JSON not found or not readable: run '$0 start' first (as root)"
  cat "$INFO_JSON"
}

cmd_reset_keys() {
  need_root reset-keys
  take_lock
  id "$PASS_USER" >/dev/null 2>&1 || die "user $PASS_USER does not exist: run '$0 start' first"
  local dir
  dir=$(ssh_dir "$PASS_USER")
  : >"$dir/authorized_keys"
  say "emptied $dir/authorized_keys"
}

main() {
  (($# == 1)) || usage
  case $1 in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    info) cmd_info ;;
    reset-keys) cmd_reset_keys ;;
    *) usage ;;
  esac
}

main "$@"
