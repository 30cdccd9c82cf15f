#!/usr/bin/env bash
# demo-cluster.sh: a real one-node SLURM cluster behind its own sshd on 127.0.0.1, with a cluster
# user whose home looks like a researcher's (miniforge-layout conda environments), for the
# jupyterlab-hpc demo and integration tests. See tests/cluster/README.md.
#
#   tests/cluster/demo-cluster.sh start|stop|status|info        (as root, on Debian 12)
#
# Environment: DEMO_SSH_PORT (default 2222), DEMO_CLIENT_USER (default $SUDO_USER, else root).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
# shellcheck source=tests/cluster/lib.sh
source "$HERE/lib.sh"

readonly PROG=demo-cluster
readonly SSH_HOST=127.0.0.1
readonly SSH_PORT=${DEMO_SSH_PORT:-2222}
readonly SSH_ALIAS=hpc-demo
readonly CLUSTER_USER=hpcdemo
readonly PARTITION=debug
# A second partition with a shorter limit and GPUs (null devices: GRES needs device files).
readonly GPU_PARTITION=gpu
readonly GPU_PARTITION_MAX_TIME=01:00:00
readonly GPU_TYPE=tesla
readonly GPU_COUNT=2
# Accounting: the cluster user's two accounts and a QOS with a wall time limit.
readonly ACCOUNTS=(physics chemistry)
readonly QOS_SHORT=short
readonly QOS_SHORT_MAX_WALL=00:30:00
# A second, independent cluster on the same machine, without accounting (no slurmdbd: sacct has
# no history and accounts and QOS are not checked), for the fallbacks. Its own slurm.conf, ports,
# state and node; client commands reach it through SLURM_CONF, which its user's shell exports.
readonly NOACCT_CLUSTER=noacct
readonly NOACCT_ALIAS=hpc-noacct
readonly NOACCT_USER=hpcnoacct
readonly NOACCT_NODE=noacct1
readonly NOACCT_PARTITION=batch
readonly NOACCT_PARTITION_MAX_TIME=04:00:00
readonly NOACCT_CPUS=4
readonly NOACCT_CTLD_PORT=6827
readonly NOACCT_SLURMD_PORT=6828
# Ended jobs leave squeue 10-70 s after they end (slurmctld purges once a minute), not after
# 300 s: sessions must then end from what the job itself recorded.
readonly NOACCT_MIN_JOB_AGE=10
# Another user of the cluster, with no login and no jobs: what a neighbour on a shared cluster can
# reach (tests run commands as this user with runuser, e.g. against a kernel's ports).
readonly OTHER_USER=hpcother
readonly PACKAGES=(slurm-wlm slurmdbd mariadb-server munge openssh-server python3-venv netcat-openbsd)

readonly CONF_DIR=/etc/jupyterlab-hpc-demo
readonly SSHD_DIR=$CONF_DIR/ssh
readonly SSHD_CONFIG=$SSHD_DIR/sshd_config
readonly STATE_DIR=/var/lib/jupyterlab-hpc-demo
readonly CLUSTER_JSON=$STATE_DIR/cluster.json
readonly LOG_DIR=/var/log/jupyterlab-hpc-demo
readonly RUN_DIR=/run/jupyterlab-hpc-demo
readonly PIP_CACHE=/var/cache/jupyterlab-hpc-demo/pip
readonly LOCK_FILE=/run/lock/jupyterlab-hpc-demo.lock
readonly MUNGE_KEY=/etc/munge/munge.key
readonly SLURM_CONF=/etc/slurm/slurm.conf
readonly SLURMDBD_CONF=/etc/slurm/slurmdbd.conf
readonly GRES_CONF=/etc/slurm/gres.conf
readonly FAKE_GPU_DIR=$STATE_DIR/dev
readonly MARIADB_DIR=$STATE_DIR/mariadb
readonly MARIADB_SOCKET=/run/mysqld/mysqld.sock
readonly SLURM_LOG_DIR=/var/log/slurm
readonly SLURM_STATE_DIR=/var/lib/slurm
readonly NOACCT_CONF_DIR=/etc/slurm-noacct
readonly NOACCT_CONF=$NOACCT_CONF_DIR/slurm.conf
readonly NOACCT_STATE_DIR=/var/lib/slurm-noacct
# Its daemons run through these symlinks, so that their process names (and pid files) tell them
# from the first cluster's.
readonly NOACCT_CTLD=/usr/local/sbin/slurmctld-noacct
readonly NOACCT_SLURMD=/usr/local/sbin/slurmd-noacct
readonly VENV_PYTHON=/usr/bin/python3 # Debian's; the default python3 may be one only root can run
readonly MARK_BEGIN='# >>> jupyterlab-hpc demo >>>'
readonly MARK_END='# <<< jupyterlab-hpc demo <<<'
readonly NOACCT_MARK_BEGIN='# >>> jupyterlab-hpc demo: cluster without accounting >>>'
readonly NOACCT_MARK_END='# <<< jupyterlab-hpc demo: cluster without accounting <<<'
readonly DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd slurmctld-noacct slurmd-noacct sshd)

export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C.UTF-8
umask 022

usage() {
  cat >&2 <<EOF
usage: $0 start|stop|status|info
  start   install and start the demo cluster (idempotent; fast when already up)
  stop    stop the daemons this script started (packages, users and files stay)
  status  print each daemon's state; exit non-zero if one is down
  info    print $CLUSTER_JSON
EOF
  exit 2
}

# ---------------------------------------------------------------------------------------------
# Users and paths

resolve_users() {
  CLIENT_USER=${DEMO_CLIENT_USER:-${SUDO_USER:-root}}
  local pw
  pw=$(getent passwd "$CLIENT_USER") || die "client user '$CLIENT_USER' does not exist"
  CLIENT_HOME=$(cut -d: -f6 <<<"$pw")
  CLIENT_GROUP=$(id -gn "$CLIENT_USER")
  CLIENT_KEY=$CLIENT_HOME/.ssh/jupyterlab_hpc_demo_ed25519
  CLIENT_KNOWN_HOSTS=$CLIENT_HOME/.ssh/known_hosts
  CLIENT_SSH_CONFIG=$CLIENT_HOME/.ssh/config
  if [[ $SSH_PORT == 22 ]]; then KNOWN_HOSTS_NAME=$SSH_HOST; else KNOWN_HOSTS_NAME="[$SSH_HOST]:$SSH_PORT"; fi
  if pw=$(getent passwd "$CLUSTER_USER"); then
    CLUSTER_HOME=$(cut -d: -f6 <<<"$pw")
  else
    CLUSTER_HOME=/home/$CLUSTER_USER
  fi
  CONDA_ROOT=$CLUSTER_HOME/.local/miniforge
  if pw=$(getent passwd "$NOACCT_USER"); then
    NOACCT_HOME=$(cut -d: -f6 <<<"$pw")
  else
    NOACCT_HOME=/home/$NOACCT_USER
  fi
}

# Run a command as the cluster user with a clean, predictable environment (root's PATH here may
# point into /root, which the cluster user cannot enter). Proxy and index settings pass through.
as_cluster_user() {
  local -a keep=()
  local var
  for var in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY PIP_INDEX_URL \
    PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST PIP_CERT PIP_DEFAULT_TIMEOUT SSL_CERT_FILE SSL_CERT_DIR; do
    if [[ -n ${!var:-} ]]; then keep+=("$var=${!var}"); fi
  done
  (cd / && runuser -u "$CLUSTER_USER" -- env -i HOME="$CLUSTER_HOME" USER="$CLUSTER_USER" \
    LOGNAME="$CLUSTER_USER" SHELL=/bin/bash PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 \
    "${keep[@]}" "$@") </dev/null
}

# ---------------------------------------------------------------------------------------------
# Daemons (pid_of, launch: lib.sh)

# halt NAME...: TERM those daemons (from their pid files) together, wait up to 10 s, then KILL.
halt() {
  local name pid i
  local -A pids=()
  for name in "$@"; do
    if pid=$(pid_of "$name"); then
      pids[$name]=$pid
      kill -TERM "$pid" 2>/dev/null || true
    fi
    rm -f "$RUN_DIR/$name.pid"
  done
  for ((i = 0; i < 100; i++)); do
    for name in "${!pids[@]}"; do
      kill -0 "${pids[$name]}" 2>/dev/null || { say "stopped $name (pid ${pids[$name]})" && unset "pids[$name]"; }
    done
    ((${#pids[@]})) || return 0
    sleep 0.1
  done
  for name in "${!pids[@]}"; do
    kill -KILL "${pids[$name]}" 2>/dev/null || true
    say "killed $name (pid ${pids[$name]}): it did not stop within 10 s"
  done
}

port_open() { nc -z -w 1 "$SSH_HOST" "$1" >/dev/null 2>&1; }

# ---------------------------------------------------------------------------------------------
# 1. packages

install_packages() {
  local -a missing=()
  local p installed
  installed=" $(dpkg-query -W -f='${db:Status-Abbrev}${Package} ' "${PACKAGES[@]}" 2>/dev/null || true)"
  for p in "${PACKAGES[@]}"; do
    [[ $installed == *" ii $p "* ]] || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  say "installing ${missing[*]} (apt-get; log: $LOG_DIR/apt.log)…"
  # Keep the packages' maintainer scripts from starting their own munged/slurmd/sshd (port 22):
  # this script starts exactly the daemons it manages.
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# temporary, from %s\nexit 101\n' "$0" >"$policy"
    chmod 755 "$policy"
    made_policy=1
  fi
  local rc=0
  {
    apt-get -o DPkg::Lock::Timeout=300 update &&
      apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${PACKAGES[@]}"
  } </dev/null >>"$LOG_DIR/apt.log" 2>&1 || rc=$?
  if ((made_policy)); then rm -f "$policy"; fi
  if ((rc != 0)); then
    tail -n 20 "$LOG_DIR/apt.log" >&2
    die "apt-get failed (exit $rc); full log: $LOG_DIR/apt.log"
  fi
}

# ---------------------------------------------------------------------------------------------
# 2. munge

munge_works() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
  if [[ ! -s $MUNGE_KEY ]]; then
    say "creating $MUNGE_KEY…"
    install -d -m 700 -o munge -g munge /etc/munge
    dd if=/dev/urandom of="$MUNGE_KEY" bs=1024 count=1 status=none
  fi
  chown munge:munge "$MUNGE_KEY"
  chmod 400 "$MUNGE_KEY"
  install -d -m 755 -o munge -g munge /run/munge
  install -d -m 700 -o munge -g munge /var/lib/munge /var/log/munge
  if is_running munged; then
    :
  elif munge_works; then
    say "munged: one not started by this script is already running; using it"
    return 0
  else
    say "starting munged…"
    launch munged /usr/sbin/munged --force --pid-file="$RUN_DIR/munged.pid" ||
      die "munged did not start; see /var/log/munge/munged.log and $LOG_DIR/munged.out"
  fi
  local i
  for ((i = 0; i < 50; i++)); do
    munge_works && return 0
    sleep 0.1
  done
  die "munge -n | unmunge fails; see /var/log/munge/munged.log"
}

# ---------------------------------------------------------------------------------------------
# 3. SLURM

slurm_conf() {
  local node=$1 cpus mem_mb
  # At least 8 CPUs, whatever the machine has (slurmd takes the configured
  # count as it is: config_overrides): sessions and kernels mostly wait, and
  # tests run several at once beside jobs others left running.
  cpus=$(nproc)
  ((cpus >= 8)) || cpus=8
  # slurmd drains a node that claims more memory than it has. Use the total (stable from run to
  # run, so the file does not change and the daemons are not restarted), minus a margin, capped.
  mem_mb=$(awk '/^MemTotal:/ { m = int($2 / 1024 * 0.8); print (m > 4000 ? 4000 : m) }' /proc/meminfo)
  cat <<EOF
# Written by tests/cluster/demo-cluster.sh (jupyterlab-hpc demo cluster); rewritten by each start.
# No systemd or cgroups here: linuxproc process tracking, no task plugin. Accounting through
# slurmdbd (MariaDB), enforcing associations, limits and QOS as real clusters do.
ClusterName=demo
SlurmctldHost=$node($SSH_HOST)
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$SLURM_STATE_DIR/slurmctld
SlurmdSpoolDir=$SLURM_STATE_DIR/slurmd
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=$SLURM_LOG_DIR/slurmctld.log
SlurmdLogFile=$SLURM_LOG_DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/linux
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
AccountingStorageEnforce=associations,limits,qos
GresTypes=gpu
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MailProg=/bin/true
# Finished jobs stay visible in squeue for MinJobAge seconds (there is no sacct history here).
MinJobAge=300
KillWait=5
# Schedule a submitted batch job at once rather than up to 3 s later (submit to RUNNING measured
# here: 0.9-3.0 s with the default, 0.1-1.0 s with this).
SchedulerParameters=batch_sched_delay=0
SlurmdParameters=config_overrides
NodeName=$node NodeAddr=$SSH_HOST CPUs=$cpus RealMemory=$mem_mb Gres=gpu:$GPU_TYPE:$GPU_COUNT State=UNKNOWN
PartitionName=$PARTITION Nodes=$node Default=YES MaxTime=INFINITE State=UP
PartitionName=$GPU_PARTITION Nodes=$node MaxTime=$GPU_PARTITION_MAX_TIME DefaultTime=00:10:00 State=UP
EOF
}

slurmdbd_conf() {
  cat <<EOF
# Written by tests/cluster/demo-cluster.sh (jupyterlab-hpc demo cluster); rewritten by each start.
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=root
LogFile=$SLURM_LOG_DIR/slurmdbd.log
PidFile=$RUN_DIR/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=root
StorageLoc=slurm_acct_db
EOF
}

# gres.conf: GRES gpu without File= is dropped by slurmd 22.05, and File= must name character
# devices; null devices stand in for the GPUs.
gres_conf() {
  local node=$1 last=$((GPU_COUNT - 1))
  cat <<EOF
# Written by tests/cluster/demo-cluster.sh (jupyterlab-hpc demo cluster); rewritten by each start.
NodeName=$node Name=gpu Type=$GPU_TYPE File=$FAKE_GPU_DIR/fakegpu[0-$last]
EOF
}

make_fake_gpus() {
  local i dev
  install -d -m 755 "$FAKE_GPU_DIR"
  for ((i = 0; i < GPU_COUNT; i++)); do
    dev=$FAKE_GPU_DIR/fakegpu$i
    [[ -c $dev ]] || { rm -f "$dev" && mknod -m 666 "$dev" c 1 3; }
  done
}

# ---------------------------------------------------------------------------------------------
# 3a. accounting: MariaDB (root through its unix socket, no password) and slurmdbd

mariadb_works() { mariadb-admin --socket="$MARIADB_SOCKET" ping >/dev/null 2>&1; }

start_mariadb() {
  install -d -m 755 -o mysql -g mysql /run/mysqld
  if [[ ! -d $MARIADB_DIR/mysql ]]; then
    say "initialising MariaDB in $MARIADB_DIR…"
    install -d -m 700 -o mysql -g mysql "$MARIADB_DIR"
    mariadb-install-db --user=mysql --datadir="$MARIADB_DIR" --auth-root-authentication-method=socket \
      >>"$LOG_DIR/mariadb-install.log" 2>&1 || die "mariadb-install-db failed; see $LOG_DIR/mariadb-install.log"
  fi
  if ! is_running mariadbd; then
    say "starting mariadbd…"
    # No TCP port: slurmdbd's StorageHost=localhost goes through the socket. mariadbd runs as
    # mysql, so its pid file lives in /run/mysqld, linked from where pid_of looks; it logs to
    # stderr, which launch keeps in $LOG_DIR/mariadbd.out.
    # shellcheck disable=SC2016 # the inner sh expands $1 and $@
    launch mariadbd sh -c 'ln -sfn /run/mysqld/mariadbd.pid "$1" && shift && exec setsid -f "$@"' sh \
      "$RUN_DIR/mariadbd.pid" /usr/sbin/mariadbd --user=mysql --datadir="$MARIADB_DIR" \
      --socket="$MARIADB_SOCKET" --skip-networking --pid-file=/run/mysqld/mariadbd.pid ||
      die "mariadbd did not start; see $LOG_DIR/mariadbd.out"
  fi
  local i
  for ((i = 0; i < 100; i++)); do
    mariadb_works && return 0
    sleep 0.1
  done
  die "MariaDB does not answer on $MARIADB_SOCKET; see $LOG_DIR/mariadbd.out"
}

slurmdbd_works() { sacctmgr -n show cluster format=cluster >/dev/null 2>&1; }

start_slurmdbd() {
  if slurmdbd_conf | write_if_changed "$SLURMDBD_CONF" 600 && is_running slurmdbd; then
    say "slurmdbd.conf changed: restarting slurmdbd…"
    halt slurmdbd
  fi
  if ! is_running slurmdbd; then
    say "starting slurmdbd…"
    launch slurmdbd /usr/sbin/slurmdbd || die "slurmdbd did not start; see $SLURM_LOG_DIR/slurmdbd.log"
  fi
  local i
  for ((i = 0; i < 150; i++)); do
    slurmdbd_works && break
    sleep 0.2
  done
  slurmdbd_works || die "sacctmgr gets no answer from slurmdbd; see $SLURM_LOG_DIR/slurmdbd.log"
  # slurmctld registers with the cluster only if it exists in the database first.
  if [[ -z $(sacctmgr -nP show cluster format=cluster where cluster=demo 2>/dev/null) ]]; then
    sacctmgr -i add cluster demo >/dev/null || die "sacctmgr add cluster demo failed"
  fi
}

# The cluster user's associations: two accounts (the first is the default), the QOS normal and
# short (a wall time limit that is accepted at submission and keeps the job pending).
setup_accounting() {
  local account have want
  for account in "${ACCOUNTS[@]}"; do
    [[ -n $(sacctmgr -nP show account format=account where name="$account" 2>/dev/null) ]] ||
      sacctmgr -i add account "$account" Cluster=demo Description="demo $account" >/dev/null
  done
  [[ -n $(sacctmgr -nP show qos format=name where name="$QOS_SHORT" 2>/dev/null) ]] ||
    sacctmgr -i add qos "$QOS_SHORT" MaxWall="$QOS_SHORT_MAX_WALL" >/dev/null
  want=$(printf '%s\n' "${ACCOUNTS[@]}" | sort | paste -sd, -)
  have=$(sacctmgr -nP show assoc where user="$CLUSTER_USER" format=account 2>/dev/null | sort -u | paste -sd, -)
  if [[ $have != "$want" ]]; then
    sacctmgr -i add user "$CLUSTER_USER" Account="$want" DefaultAccount="${ACCOUNTS[0]}" >/dev/null || true
  fi
  have=$(sacctmgr -nP show assoc where user="$CLUSTER_USER" format=qos 2>/dev/null | sort -u | paste -sd' ' -)
  if [[ $have != "normal,$QOS_SHORT" ]]; then
    sacctmgr -i modify user where name="$CLUSTER_USER" set qos=normal,"$QOS_SHORT" >/dev/null || true
  fi
  have=$(sacctmgr -nP show assoc where user="$CLUSTER_USER" format=account,qos 2>/dev/null | sort | paste -sd' ' -)
  [[ $have == "chemistry|normal,$QOS_SHORT physics|normal,$QOS_SHORT" ]] ||
    die "the associations of $CLUSTER_USER are not as expected: $have"
}

node_state() { sinfo -h -n "$NODE" -o %T 2>/dev/null | head -n 1; }

slurm_fail() {
  die "$1; see $SLURM_LOG_DIR/slurmctld.log, $SLURM_LOG_DIR/slurmd.log and $LOG_DIR/slurm*.out"
}

start_slurm() {
  NODE=$(hostname -s 2>/dev/null || hostname)
  # The spool must stay 0755: slurmstepd execs the batch script from it as the job's user.
  install -d -m 755 /etc/slurm "$SLURM_LOG_DIR" "$SLURM_STATE_DIR" "$SLURM_STATE_DIR/slurmd"
  install -d -m 700 "$SLURM_STATE_DIR/slurmctld"
  if [[ -f $SLURM_CONF ]] && ! grep -q 'jupyterlab-hpc demo cluster' "$SLURM_CONF" &&
    [[ ! -e $SLURM_CONF.before-jupyterlab-hpc-demo ]]; then
    cp -p "$SLURM_CONF" "$SLURM_CONF.before-jupyterlab-hpc-demo"
    say "kept the previous $SLURM_CONF as $SLURM_CONF.before-jupyterlab-hpc-demo"
  fi
  make_fake_gpus
  local changed=0
  if slurm_conf "$NODE" | write_if_changed "$SLURM_CONF" 644; then changed=1; fi
  if gres_conf "$NODE" | write_if_changed "$GRES_CONF" 644; then changed=1; fi
  if ((changed)); then
    if is_running slurmctld || is_running slurmd; then
      say "slurm.conf changed: restarting SLURM…"
      halt slurmd slurmctld
    fi
  fi
  # Accounting first: slurmctld registers with a cluster that exists in slurmdbd's database, and
  # sacctmgr reads the slurm.conf just written.
  start_mariadb
  start_slurmdbd
  if ! is_running slurmctld; then
    say "starting slurmctld…"
    launch slurmctld /usr/sbin/slurmctld || slurm_fail "slurmctld did not start"
  fi
  if ! is_running slurmd; then
    say "starting slurmd…"
    launch slurmd /usr/sbin/slurmd -N "$NODE" || slurm_fail "slurmd did not start"
  fi
  local i state="" resumed=0
  for ((i = 0; i < 150; i++)); do
    state=$(node_state || true)
    case $state in
      idle | mixed | allocated | completing) break ;;
      drain* | down | fail*)
        if ((!resumed)); then
          say "node $NODE is $state: resuming it"
          scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true
          resumed=1
        fi
        ;;
    esac
    sleep 0.2
  done
  case $state in
    idle | mixed | allocated | completing) ;;
    *) slurm_fail "node $NODE did not become idle within 30 s (state: '${state:-no answer}')" ;;
  esac
  SLURM_VERSION=$(sinfo --version | awk '{ print $2 }')
}

# ---------------------------------------------------------------------------------------------
# 3b. the second cluster, without accounting

noacct_slurm_conf() {
  local host=$1 mem_mb
  mem_mb=$(awk '/^MemTotal:/ { m = int($2 / 1024 * 0.4); print (m > 2000 ? 2000 : m) }' /proc/meminfo)
  cat <<EOF
# Written by tests/cluster/demo-cluster.sh (jupyterlab-hpc demo cluster without accounting);
# rewritten by each start. A second cluster beside the first (/etc/slurm/slurm.conf) on the same
# machine and munge key: its own ports, state, spool, node and logs. No slurmdbd: accounts and
# QOS are not checked, sacct has no history, and squeue forgets an ended job after MinJobAge
# (purged once a minute).
ClusterName=$NOACCT_CLUSTER
SlurmctldHost=$host($SSH_HOST)
SlurmctldPort=$NOACCT_CTLD_PORT
SlurmdPort=$NOACCT_SLURMD_PORT
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$NOACCT_STATE_DIR/slurmctld
SlurmdSpoolDir=$NOACCT_STATE_DIR/slurmd
SlurmctldPidFile=$RUN_DIR/slurmctld-noacct.pid
SlurmdPidFile=$RUN_DIR/slurmd-noacct.pid
SlurmctldLogFile=$SLURM_LOG_DIR/slurmctld-noacct.log
SlurmdLogFile=$SLURM_LOG_DIR/slurmd-noacct.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MailProg=/bin/true
MinJobAge=$NOACCT_MIN_JOB_AGE
KillWait=5
SchedulerParameters=batch_sched_delay=0
SlurmdParameters=config_overrides
NodeName=$NOACCT_NODE NodeHostname=$host NodeAddr=$SSH_HOST CPUs=$NOACCT_CPUS RealMemory=$mem_mb State=UNKNOWN
PartitionName=$NOACCT_PARTITION Nodes=$NOACCT_NODE Default=YES MaxTime=$NOACCT_PARTITION_MAX_TIME State=UP
EOF
}

noacct() { env SLURM_CONF="$NOACCT_CONF" "$@"; }

noacct_node_state() { noacct sinfo -h -n "$NOACCT_NODE" -o %T 2>/dev/null | head -n 1; }

noacct_fail() {
  die "$1; see $SLURM_LOG_DIR/slurm{ctld,d}-noacct.log and $LOG_DIR/slurm{ctld,d}-noacct.out"
}

start_noacct_slurm() {
  local port
  install -d -m 755 "$NOACCT_CONF_DIR" "$NOACCT_STATE_DIR" "$NOACCT_STATE_DIR/slurmd"
  install -d -m 700 "$NOACCT_STATE_DIR/slurmctld"
  ln -sfn /usr/sbin/slurmctld "$NOACCT_CTLD"
  ln -sfn /usr/sbin/slurmd "$NOACCT_SLURMD"
  if noacct_slurm_conf "$NODE" | write_if_changed "$NOACCT_CONF" 644; then
    if is_running slurmctld-noacct || is_running slurmd-noacct; then
      say "$NOACCT_CONF changed: restarting the cluster without accounting…"
      halt slurmd-noacct slurmctld-noacct
    fi
  fi
  if ! is_running slurmctld-noacct && ! is_running slurmd-noacct; then
    for port in "$NOACCT_CTLD_PORT" "$NOACCT_SLURMD_PORT"; do
      port_open "$port" && die "port $port is taken by another program; the cluster without accounting needs it"
    done
  fi
  if ! is_running slurmctld-noacct; then
    say "starting slurmctld-noacct…"
    launch slurmctld-noacct "$NOACCT_CTLD" -f "$NOACCT_CONF" || noacct_fail "slurmctld-noacct did not start"
  fi
  if ! is_running slurmd-noacct; then
    say "starting slurmd-noacct…"
    launch slurmd-noacct "$NOACCT_SLURMD" -f "$NOACCT_CONF" -N "$NOACCT_NODE" ||
      noacct_fail "slurmd-noacct did not start"
  fi
  local i state="" resumed=0
  for ((i = 0; i < 150; i++)); do
    state=$(noacct_node_state || true)
    case $state in
      idle | mixed | allocated | completing) break ;;
      drain* | down | fail*)
        if ((!resumed)); then
          say "node $NOACCT_NODE is $state: resuming it"
          noacct scontrol update NodeName="$NOACCT_NODE" State=RESUME >/dev/null 2>&1 || true
          resumed=1
        fi
        ;;
    esac
    sleep 0.2
  done
  case $state in
    idle | mixed | allocated | completing) ;;
    *) noacct_fail "node $NOACCT_NODE did not become idle within 30 s (state: '${state:-no answer}')" ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# 4. cluster user

# ensure_user NAME: a cluster user with bash, reached by key only.
ensure_user() {
  local user=$1
  if ! id "$user" >/dev/null 2>&1; then
    say "creating user $user…"
    useradd -m -s /bin/bash "$user"
    resolve_users
  fi
  # useradd leaves the password field '!' (locked), and sshd refuses even key logins to a locked
  # account; '*' means "no password can match" without locking it.
  if [[ $(getent shadow "$user" | cut -d: -f2) == '!'* ]]; then
    usermod -p '*' "$user"
  fi
}

# ---------------------------------------------------------------------------------------------
# 5. sshd (a separate instance, not the system's)

sshd_config() {
  local use_pam=$1
  cat <<EOF
# Written by tests/cluster/demo-cluster.sh (jupyterlab-hpc demo cluster); rewritten by each start.
# A separate sshd for the demo cluster user only; the system's sshd and port 22 are untouched.
Port $SSH_PORT
ListenAddress $SSH_HOST
HostKey $SSHD_DIR/ssh_host_ed25519_key
HostKey $SSHD_DIR/ssh_host_ecdsa_key
HostKey $SSHD_DIR/ssh_host_rsa_key
PidFile $RUN_DIR/sshd.pid
AllowUsers $CLUSTER_USER $NOACCT_USER
PermitRootLogin no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM $use_pam
StrictModes yes
AllowTcpForwarding yes
X11Forwarding no
PrintMotd no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
}

start_sshd() {
  local use_pam=${1:-yes} t changed=0
  install -d -m 755 "$CONF_DIR" "$SSHD_DIR"
  install -d -m 755 /run/sshd
  for t in ed25519 ecdsa rsa; do
    if [[ ! -s $SSHD_DIR/ssh_host_${t}_key || ! -s $SSHD_DIR/ssh_host_${t}_key.pub ]]; then
      rm -f "$SSHD_DIR/ssh_host_${t}_key" "$SSHD_DIR/ssh_host_${t}_key.pub"
      ssh-keygen -q -t "$t" -N '' -C "$SSH_ALIAS" -f "$SSHD_DIR/ssh_host_${t}_key" </dev/null
      changed=1
    fi
  done
  if sshd_config "$use_pam" | write_if_changed "$SSHD_CONFIG" 644; then changed=1; fi
  if ((changed)) && is_running sshd; then
    say "sshd config or host keys changed: restarting the demo sshd…"
    halt sshd
  fi
  /usr/sbin/sshd -t -f "$SSHD_CONFIG" || die "invalid $SSHD_CONFIG"
  if ! is_running sshd; then
    if port_open "$SSH_PORT"; then
      die "$SSH_HOST:$SSH_PORT is taken by another program; set DEMO_SSH_PORT to a free port"
    fi
    say "starting sshd on $SSH_HOST:$SSH_PORT…"
    launch sshd /usr/sbin/sshd -f "$SSHD_CONFIG" -E "$LOG_DIR/sshd.log" ||
      die "sshd did not start; see $LOG_DIR/sshd.log and $LOG_DIR/sshd.out"
  fi
  local i
  for ((i = 0; i < 50; i++)); do
    port_open "$SSH_PORT" && return 0
    sleep 0.1
  done
  die "sshd is not listening on $SSH_HOST:$SSH_PORT; see $LOG_DIR/sshd.log"
}

# ---------------------------------------------------------------------------------------------
# 6. client side: key, authorized_keys, known_hosts, ~/.ssh/config

# authorize_client_key USER HOME: the client key in that cluster user's authorized_keys.
authorize_client_key() {
  local user=$1 ssh_dir=$2/.ssh auth blob
  auth=$ssh_dir/authorized_keys
  install -d -m 700 -o "$user" -g "$user" "$ssh_dir"
  [[ -f $auth ]] || install -m 600 -o "$user" -g "$user" /dev/null "$auth"
  blob=$(awk '{ print $2 }' "$CLIENT_KEY.pub")
  if ! awk -v k="$blob" '$2 == k || $3 == k { found = 1 } END { exit !found }' "$auth"; then
    cat "$CLIENT_KEY.pub" >>"$auth"
  fi
  chown "$user:$user" "$auth"
  chmod 600 "$auth"
}

setup_client() {
  install -d -m 700 -o "$CLIENT_USER" -g "$CLIENT_GROUP" "$CLIENT_HOME/.ssh"
  if [[ ! -s $CLIENT_KEY || ! -s $CLIENT_KEY.pub ]]; then
    say "creating the client key $CLIENT_KEY…"
    rm -f "$CLIENT_KEY" "$CLIENT_KEY.pub"
    as_client ssh-keygen -q -t ed25519 -N '' -C "jupyterlab-hpc-demo $CLIENT_USER@$(hostname -s)" \
      -f "$CLIENT_KEY" </dev/null
  fi
  chown "$CLIENT_USER:$CLIENT_GROUP" "$CLIENT_KEY" "$CLIENT_KEY.pub"
  chmod 600 "$CLIENT_KEY"

  authorize_client_key "$CLUSTER_USER" "$CLUSTER_HOME"
  authorize_client_key "$NOACCT_USER" "$NOACCT_HOME"

  # known_hosts: exactly the demo sshd's host keys for [127.0.0.1]:port
  local kh=$CLIENT_KNOWN_HOSTS want have f
  [[ -f $kh ]] || install -m 644 -o "$CLIENT_USER" -g "$CLIENT_GROUP" /dev/null "$kh"
  want=$(for f in "$SSHD_DIR"/ssh_host_*_key.pub; do awk '{ print $1, $2 }' "$f"; done | sort)
  have=$(as_client ssh-keygen -F "$KNOWN_HOSTS_NAME" -f "$kh" 2>/dev/null |
    awk '!/^#/ && NF >= 3 { print $2, $3 }' | sort || true)
  if [[ $want != "$have" ]]; then
    if [[ -n $have ]]; then
      say "host keys for $KNOWN_HOSTS_NAME changed: replacing them in $kh"
      as_client ssh-keygen -R "$KNOWN_HOSTS_NAME" -f "$kh" >/dev/null 2>&1
    fi
    awk -v h="$KNOWN_HOSTS_NAME" '{ print h, $0 }' <<<"$want" >>"$kh"
  fi

  # ~/.ssh/config: our block first (ssh takes the first value it finds for each option), closed
  # by "Host *" so that whatever follows keeps applying to every host, as before.
  {
    printf '%s\n' "$MARK_BEGIN" \
      "# The jupyterlab-hpc demo cluster (tests/cluster/demo-cluster.sh); rewritten by each start." \
      "Host $SSH_ALIAS" \
      "    HostName $SSH_HOST" \
      "    Port $SSH_PORT" \
      "    User $CLUSTER_USER" \
      "    IdentityFile ~/.ssh/${CLIENT_KEY##*/}" \
      "    IdentitiesOnly yes" \
      "# The second demo cluster, without accounting: the same sshd, another user." \
      "Host $NOACCT_ALIAS" \
      "    HostName $SSH_HOST" \
      "    Port $SSH_PORT" \
      "    User $NOACCT_USER" \
      "    IdentityFile ~/.ssh/${CLIENT_KEY##*/}" \
      "    IdentitiesOnly yes" \
      "Host *" \
      "$MARK_END"
    without_block "$CLIENT_SSH_CONFIG" "$MARK_BEGIN" "$MARK_END"
  } | install_content "$CLIENT_SSH_CONFIG" "$CLIENT_USER:$CLIENT_GROUP" 600
}

verify_ssh() {
  as_client ssh -o BatchMode=yes -o ConnectTimeout=10 "$SSH_ALIAS" true </dev/null 2>>"$LOG_DIR/ssh-check.err"
}

# The second cluster's user reaches its own cluster (SLURM_CONF from ~/.bashrc) with a plain
# `ssh hpc-noacct CMD` and in a login shell (the sidecar's), in one login.
verify_noacct_ssh() {
  local want=$NOACCT_PARTITION$'\n'$NOACCT_PARTITION got
  got=$(as_client ssh -o BatchMode=yes -o ConnectTimeout=10 "$NOACCT_ALIAS" \
    "sinfo -h -o %R && bash -lc 'sinfo -h -o %R'" 2>>"$LOG_DIR/ssh-check.err") || true
  [[ $got == "$want" ]] ||
    die "ssh $NOACCT_ALIAS sinfo shows '${got//$'\n'/ }', not the partition $NOACCT_PARTITION (twice); see $LOG_DIR/sshd.log and $LOG_DIR/ssh-check.err"
}

# ---------------------------------------------------------------------------------------------
# 7. the cluster user's conda-layout environments (real venvs from Debian's python3)

# name|prefix|pip packages
env_table() {
  cat <<EOF
base|$CONDA_ROOT|
jupyterlab|$CONDA_ROOT/envs/jupyterlab|jupyterlab ipykernel
my-project-env|$CONDA_ROOT/envs/my-project-env|ipykernel ipywidgets
analysis|$CONDA_ROOT/envs/analysis|tabulate
scratch-env|$CLUSTER_HOME/projects/scratch-env|ipykernel
EOF
}

# Writes conda-meta/ records for a venv (tests/cluster/conda_meta.py). Passed with -c because the
# cluster user may not be able to read this checkout.
CONDA_META_PY=$(<"$HERE/conda_meta.py")
readonly CONDA_META_PY

env_complete() {
  local prefix=$1 pkg
  shift
  [[ -x $prefix/bin/python && -f $prefix/conda-meta/history ]] || return 1
  for pkg in "$@"; do
    compgen -G "$prefix/conda-meta/$pkg-[0-9]*.json" >/dev/null || return 1
  done
}

build_env() {
  local name=$1 prefix=$2
  shift 2
  local -a pkgs=("$@")
  env_complete "$prefix" "${pkgs[@]}" && return 0
  local log=$LOG_DIR/env-$name.log t0
  t0=$(now_us)
  say "building env $name at $prefix${pkgs[*]:+ with ${pkgs[*]}} (log: $log)…"
  : >"$log"
  chown "$CLUSTER_USER" "$log"
  local cmd="$VENV_PYTHON -m venv $prefix"
  if ! as_cluster_user mkdir -p "$(dirname "$prefix")" >>"$log" 2>&1 ||
    ! as_cluster_user "$VENV_PYTHON" -m venv "$prefix" >>"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "could not create the venv $prefix; log: $log"
  fi
  if ((${#pkgs[@]})); then
    cmd+=" && $prefix/bin/pip install ${pkgs[*]}"
    if ! as_cluster_user PIP_CACHE_DIR="$PIP_CACHE" PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
      "$prefix/bin/python" -m pip install --progress-bar off "${pkgs[@]}" >>"$log" 2>&1; then
      tail -n 20 "$log" >&2
      die "pip install ${pkgs[*]} failed in $prefix; log: $log"
    fi
  fi
  if ! as_cluster_user "$prefix/bin/python" -c "$CONDA_META_PY" "$prefix" "$cmd" "${pkgs[@]}" \
    >>"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "could not write $prefix/conda-meta; log: $log"
  fi
  say "env $name ready ($((($(now_us) - t0) / 1000000)) s)"
}

setup_envs() {
  install -d -m 755 "$(dirname "$PIP_CACHE")"
  install -d -m 755 -o "$CLUSTER_USER" -g "$CLUSTER_USER" "$PIP_CACHE"
  local name prefix pkgs
  while IFS='|' read -r name prefix pkgs; do
    # shellcheck disable=SC2086 # pkgs is a space-separated list of package names
    build_env "$name" "$prefix" $pkgs
  done < <(env_table)

  # ~/.conda/environments.txt, as conda keeps it: one prefix a line; add ours, keep the rest.
  local envs_txt=$CLUSTER_HOME/.conda/environments.txt
  as_cluster_user mkdir -p "$CLUSTER_HOME/.conda"
  [[ -f $envs_txt ]] || as_cluster_user touch "$envs_txt"
  while IFS='|' read -r name prefix pkgs; do
    grep -qxF "$prefix" "$envs_txt" || printf '%s\n' "$prefix" >>"$envs_txt"
  done < <(env_table)

  # ~/.bashrc: like the tutorial's "conda activate" in every shell, put base first on PATH.
  local rc=$CLUSTER_HOME/.bashrc
  {
    without_block "$rc" "$MARK_BEGIN" "$MARK_END"
    printf '%s\n' "$MARK_BEGIN" \
      '# The demo cluster has no conda: this stands in for "conda activate" (base) of the tutorial.' \
      "export PATH=\"$CONDA_ROOT/bin:\$PATH\"" \
      "export CONDA_PREFIX=\"$CONDA_ROOT\" CONDA_DEFAULT_ENV=base CONDA_SHLVL=1" \
      "$MARK_END"
  } | install_content "$rc" "$CLUSTER_USER:$CLUSTER_USER" 644
}

# The second cluster's user: SLURM_CONF in every shell, and hpcdemo's environments (the same
# prefixes, which everyone may read, as a shared conda install would be) rather than copies.
setup_noacct_user() {
  local name prefix pkgs
  if ! runuser -u "$NOACCT_USER" -- test -x "$CONDA_ROOT/envs/jupyterlab/bin/jupyter"; then
    say "letting $NOACCT_USER into $CLUSTER_HOME to use its environments"
    chmod o+x "$CLUSTER_HOME"
    runuser -u "$NOACCT_USER" -- test -x "$CONDA_ROOT/envs/jupyterlab/bin/jupyter" ||
      die "$NOACCT_USER cannot run $CONDA_ROOT/envs/jupyterlab/bin/jupyter"
  fi
  install -d -m 755 -o "$NOACCT_USER" -g "$NOACCT_USER" "$NOACCT_HOME/.conda"
  # ~/.conda/environments.txt: hpcdemo's prefixes; keep the rest.
  local envs_txt=$NOACCT_HOME/.conda/environments.txt
  [[ -f $envs_txt ]] || install -m 644 -o "$NOACCT_USER" -g "$NOACCT_USER" /dev/null "$envs_txt"
  # shellcheck disable=SC2034 # name and pkgs: columns of env_table, unused here
  while IFS='|' read -r name prefix pkgs; do
    grep -qxF "$prefix" "$envs_txt" || printf '%s\n' "$prefix" >>"$envs_txt"
  done < <(env_table)

  # ~/.bashrc: SLURM_CONF first, before Debian's "not interactive? return" line, so that login
  # shells (~/.profile reads ~/.bashrc) and `ssh hpc-noacct CMD` (bash reads ~/.bashrc for
  # commands from sshd) both have it; base on PATH at the end, as for hpcdemo.
  local rc=$NOACCT_HOME/.bashrc
  [[ -f $rc ]] || install -m 644 -o "$NOACCT_USER" -g "$NOACCT_USER" /etc/skel/.bashrc "$rc"
  {
    printf '%s\n' "$NOACCT_MARK_BEGIN" \
      "# The cluster without accounting (tests/cluster/demo-cluster.sh): Slurm's commands read this." \
      "export SLURM_CONF=$NOACCT_CONF" \
      "$NOACCT_MARK_END"
    without_block "$rc" "$NOACCT_MARK_BEGIN" "$NOACCT_MARK_END" |
      awk -v b="$MARK_BEGIN" -v e="$MARK_END" '$0 == b { skip = 1; next } $0 == e { skip = 0; next } !skip'
    printf '%s\n' "$MARK_BEGIN" \
      '# The demo cluster has no conda: this stands in for "conda activate" (base) of the tutorial.' \
      "export PATH=\"$CONDA_ROOT/bin:\$PATH\"" \
      "export CONDA_PREFIX=\"$CONDA_ROOT\" CONDA_DEFAULT_ENV=base CONDA_SHLVL=1" \
      "$MARK_END"
  } | install_content "$rc" "$NOACCT_USER:$NOACCT_USER" 644
}

# ---------------------------------------------------------------------------------------------
# 8. cluster.json

readonly CLUSTER_JSON_PY='
import glob, json, os, sys
(out, port, ident, known, version, root, slurm, noacct), table = sys.argv[1:9], sys.argv[9:]
def has(prefix, pkg):
    for f in glob.glob(os.path.join(prefix, "conda-meta", pkg + "-*.json")):
        with open(f) as fh:
            if json.load(fh).get("name") == pkg:
                return True
    return False
envs = []
for row in table:
    name, prefix = row.split("|")[:2]
    envs.append({"name": name, "prefix": prefix, "ipykernel": has(prefix, "ipykernel"),
                 "jupyterlab": has(prefix, "jupyterlab")})
info = {"name": "demo", "alias": "hpc-demo", "host": "127.0.0.1", "port": int(port),
        "user": "hpcdemo", "identityFile": ident, "knownHosts": known, "slurmVersion": version,
        "partition": "debug", "condaRoot": root, "envs": envs, **json.loads(slurm)}
info["noAccounting"] = {"host": "127.0.0.1", "port": int(port), "identityFile": ident,
                        "knownHosts": known, "slurmVersion": version, "condaRoot": root,
                        "envs": envs, **json.loads(noacct)}
with open(out + ".tmp", "w") as f:
    json.dump(info, f, indent=2)
    f.write("\n")
os.chmod(out + ".tmp", 0o644)
os.replace(out + ".tmp", out)
'

write_cluster_json() {
  install -d -m 755 "$STATE_DIR"
  local -a rows
  mapfile -t rows < <(env_table)
  # What the launch form meets: partitions with limits and GRES, accounts and QOS.
  local slurm
  slurm=$(printf '{"partitions": [{"name": "%s", "default": true, "maxTime": null, "gres": "gpu:%s:%s"},
    {"name": "%s", "default": false, "maxTime": "%s", "gres": "gpu:%s:%s"}],
    "otherUser": "%s", "accounting": true, "accounts": ["%s", "%s"], "defaultAccount": "%s",
    "qos": ["normal", "%s"], "qosMaxWall": {"%s": "%s"}}' \
    "$PARTITION" "$GPU_TYPE" "$GPU_COUNT" "$GPU_PARTITION" "$GPU_PARTITION_MAX_TIME" "$GPU_TYPE" "$GPU_COUNT" \
    "$OTHER_USER" "${ACCOUNTS[0]}" "${ACCOUNTS[1]}" "${ACCOUNTS[0]}" "$QOS_SHORT" "$QOS_SHORT" "$QOS_SHORT_MAX_WALL")
  # The second cluster: the same sshd, environments and client key; its own user and Slurm.
  local noacct
  noacct=$(printf '{"name": "%s", "alias": "%s", "user": "%s", "slurmConf": "%s", "node": "%s",
    "partition": "%s", "partitions": [{"name": "%s", "default": true, "maxTime": "%s", "gres": null}],
    "accounting": false, "minJobAgeSeconds": %s}' \
    "$NOACCT_CLUSTER" "$NOACCT_ALIAS" "$NOACCT_USER" "$NOACCT_CONF" "$NOACCT_NODE" \
    "$NOACCT_PARTITION" "$NOACCT_PARTITION" "$NOACCT_PARTITION_MAX_TIME" "$NOACCT_MIN_JOB_AGE")
  "$VENV_PYTHON" -c "$CLUSTER_JSON_PY" "$CLUSTER_JSON" "$SSH_PORT" "$CLIENT_KEY" \
    "$CLIENT_KNOWN_HOSTS" "$SLURM_VERSION" "$CONDA_ROOT" "$slurm" "$noacct" "${rows[@]}"
}

# ---------------------------------------------------------------------------------------------
# commands

take_lock() {
  install -d -m 755 "$(dirname "$LOCK_FILE")"
  exec 9>"$LOCK_FILE"
  flock -w 900 9 || die "another $PROG is still running (lock $LOCK_FILE)"
}

cmd_start() {
  local t0
  t0=$(now_us)
  need_root start
  install -d -m 755 "$LOG_DIR" "$RUN_DIR" "$STATE_DIR"
  take_lock
  install_packages
  resolve_users
  start_munge
  start_slurm
  start_noacct_slurm
  ensure_user "$CLUSTER_USER"
  ensure_user "$NOACCT_USER"
  ensure_user "$OTHER_USER"
  setup_accounting
  # pam_loginuid and friends can refuse sessions inside some containers: then run without PAM,
  # and remember it.
  local use_pam=yes
  [[ -e $STATE_DIR/sshd-without-pam ]] && use_pam=no
  start_sshd "$use_pam"
  setup_client
  if ! verify_ssh; then
    [[ $use_pam == yes ]] || die "ssh -o BatchMode=yes $SSH_ALIAS true fails as $CLIENT_USER; see $LOG_DIR/sshd.log and $LOG_DIR/ssh-check.err"
    say "ssh login with UsePAM yes failed (see $LOG_DIR/sshd.log); retrying with UsePAM no"
    start_sshd no
    touch "$STATE_DIR/sshd-without-pam"
    verify_ssh || die "ssh -o BatchMode=yes $SSH_ALIAS true fails as $CLIENT_USER; see $LOG_DIR/sshd.log and $LOG_DIR/ssh-check.err"
  fi
  setup_envs
  setup_noacct_user
  verify_noacct_ssh
  write_cluster_json
  say "up: slurm $SLURM_VERSION, node $NODE $(node_state); ssh $SSH_ALIAS ($CLUSTER_USER@$SSH_HOST:$SSH_PORT) for $CLIENT_USER; $CLUSTER_JSON"
  say "up without accounting: node $NOACCT_NODE $(noacct_node_state); ssh $NOACCT_ALIAS ($NOACCT_USER@$SSH_HOST:$SSH_PORT)"
  local ms=$((($(now_us) - t0) / 1000))
  say "started in $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s"
}

# cancel_jobs [noacct]: cancel every queued or running job of one cluster and wait (10 s at
# most) for them to end, so no job processes outlive it.
cancel_jobs() {
  local -a run=()
  [[ ${1:-} == noacct ]] && run=(noacct)
  local job_ids i
  job_ids=$("${run[@]}" squeue -h -o %i 2>/dev/null || true)
  [[ -n $job_ids ]] || return 0
  say "cancelling jobs${1:+ of the cluster without accounting}: $(tr '\n' ' ' <<<"$job_ids")"
  # shellcheck disable=SC2086 # job ids, one a word
  "${run[@]}" scancel $job_ids 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    [[ -z $("${run[@]}" squeue -h -t RUNNING,COMPLETING,SUSPENDED -o %i 2>/dev/null) ]] && break
    sleep 0.1
  done
}

# end_processes_of USER: what the user still runs (e.g. commands of ssh sessions without a
# terminal, which sshd leaves running when it goes) would outlive the cluster: end it.
end_processes_of() {
  local user=$1 uid i
  uid=$(id -u "$user" 2>/dev/null) || return 0
  local -a left
  mapfile -t left < <(pids_of_uid "$uid")
  ((${#left[@]})) || return 0
  say "ending ${#left[@]} leftover process(es) of $user: ${left[*]}"
  kill -TERM "${left[@]}" 2>/dev/null || true
  for ((i = 0; i < 30; i++)); do
    mapfile -t left < <(pids_of_uid "$uid")
    ((${#left[@]})) || break
    sleep 0.1
  done
  if ((${#left[@]})); then kill -KILL "${left[@]}" 2>/dev/null || true; fi
}

cmd_stop() {
  need_root stop
  install -d -m 755 "$RUN_DIR"
  take_lock
  if is_running slurmctld; then cancel_jobs; fi
  if is_running slurmctld-noacct; then cancel_jobs noacct; fi
  # sshd's per-connection children outlive the listener: end them too.
  local pid child
  local -a children=()
  if pid=$(pid_of sshd); then mapfile -t children < <(children_of "$pid"); fi
  halt sshd slurmd slurmctld slurmd-noacct slurmctld-noacct slurmdbd mariadbd munged
  for child in "${children[@]}"; do
    kill -TERM "$child" 2>/dev/null || true
  done
  end_processes_of "$CLUSTER_USER"
  end_processes_of "$NOACCT_USER"
  end_processes_of "$OTHER_USER"
  say "stopped (packages, $CLUSTER_USER's and $NOACCT_USER's homes and keys stay; start again with: $0 start)"
}

cmd_status() {
  local name pid down=0
  for name in "${DAEMONS[@]}"; do
    if pid=$(pid_of "$name"); then
      printf '%-10s running (pid %s)\n' "$name" "$pid"
    elif [[ $name == munged ]] && munge_works; then
      printf '%-10s running (not started by this script)\n' "$name"
    else
      printf '%-10s not running\n' "$name"
      down=1
    fi
  done
  if is_running slurmctld; then
    printf '%-10s %s\n' node "$(sinfo -h -o '%n %T' 2>/dev/null | head -n 1)"
  fi
  if is_running slurmctld-noacct; then
    printf '%-10s %s (without accounting)\n' node "$(noacct sinfo -h -o '%N %T' 2>/dev/null | head -n 1)"
  fi
  if is_running sshd; then
    if port_open "$SSH_PORT"; then
      printf '%-10s listening on %s:%s\n' ssh "$SSH_HOST" "$SSH_PORT"
    else
      printf '%-10s NOT listening on %s:%s\n' ssh "$SSH_HOST" "$SSH_PORT"
      down=1
    fi
  fi
  return "$down"
}

cmd_info() {
  [[ -r $CLUSTER_JSON ]] || die "$CLUSTER_JSON not found: run '$0 start' first"
  cat "$CLUSTER_JSON"
}

main() {
  (($# == 1)) || usage
  case $1 in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    info) cmd_info ;;
    -h | --help | help) usage ;;
    *) usage ;;
  esac
}

main "$@"
