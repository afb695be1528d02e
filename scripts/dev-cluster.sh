#!/usr/bin/env bash
# The embedded single-host Slurm cluster: munge, MariaDB + slurmdbd (accounting, so sacct
# works), slurmctld, two slurmd nodes with FAKE typed GPUs (gres files are symlinks to
# /dev/null: there is no GPU on this machine), one CLOUD a10g node that never boots (the
# seed study's pinned-A10G hang), and an sshd on 127.0.0.1 with its own host key, so
# the plugin reaches the cluster through the same SSH path it uses in production.
#
#   [CRYOET_CLUSTER=dev2|dev3] scripts/dev-cluster.sh start | stop | status | env
#
# CRYOET_CLUSTER picks the cluster: `dev` (the default, with accounting) or `dev2`, a
# second cluster on the same host (own ClusterName, ports, munge, sshd on 2223, job ids
# from 100000, no accounting) standing in for another region or an on-demand pool in
# failover tests, or `dev3`, a third of the same shape (sshd on 2224, job ids from 200000)
# for the science suite (test/science/: RELION 5 campaigns) that scripts/test.sh runs beside
# the others. dev3's slurmd nodes, and so its jobs, run at low priority (see low_priority):
# its CPU-bound refines take the cores the other suites leave idle and never delay their
# daemons, workers or timers; its head node (slurmctld, sshd) answers at normal priority.
#
# Idempotent: `start` on a running, unchanged cluster does nothing; `stop` leaves no
# process behind. State lives in $CRYOET_DEV_DIR (default <repo>/.dev/cluster[-dev2]).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLUSTER=${CRYOET_CLUSTER:-dev}
DBD_PORT=16819
DB_PORT=13306
case $CLUSTER in
  dev) D=${CRYOET_DEV_DIR:-$ROOT/.dev/cluster}; SSH_PORT=2222; CTLD_PORT=16817; NODE_PORT0=17001
       NODES=(n1 n2); CLOUD=c1; ACCOUNTING=1; FIRST_JOB_ID=1 ;;
  dev2) D=${CRYOET_DEV_DIR:-$ROOT/.dev/cluster-dev2}; SSH_PORT=2223; CTLD_PORT=16917; NODE_PORT0=17101
       NODES=(m1 m2); CLOUD=d1; ACCOUNTING=0; FIRST_JOB_ID=100000 ;;
  dev3) D=${CRYOET_DEV_DIR:-$ROOT/.dev/cluster-dev3}; SSH_PORT=2224; CTLD_PORT=17017; NODE_PORT0=17201
       NODES=(s1 s2); CLOUD=e1; ACCOUNTING=0; FIRST_JOB_ID=200000; LOW_PRIORITY=1 ;;
  *) echo "dev-cluster: CRYOET_CLUSTER must be dev, dev2 or dev3, got \"$CLUSTER\"" >&2; exit 2 ;;
esac
DAEMONS=(munged)
((ACCOUNTING)) && DAEMONS+=(mariadbd slurmdbd)
DAEMONS+=(slurmctld "${NODES[@]/#/slurmd-}" sshd)
NODE_LIST=$(IFS=,; echo "${NODES[*]}")

log() { printf 'dev-cluster: %s\n' "$*" >&2; }

# A daemon started here is reparented to PID 1 once it forks, and PID 1 in a sandbox may
# never reap it: a zombie answers kill -0, so look at its state too.
alive() {
  local pidfile=$1 pid state
  [[ -s $pidfile ]] || return 1
  pid=$(cat -- "$pidfile" 2>/dev/null) || return 1  # the daemon may remove it as it exits
  [[ -r /proc/$pid/stat ]] || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ $state != Z ]]
}

pidfile_of() {
  case $1 in
    munged) echo "$D/run/munged.pid" ;;
    mariadbd) echo "$D/run/mariadbd.pid" ;;
    slurmdbd) echo "$D/run/slurmdbd.pid" ;;
    slurmctld) echo "$D/run/slurmctld.pid" ;;
    slurmd-*) echo "$D/run/slurmd-${1#slurmd-}.pid" ;;
    sshd) echo "$D/run/sshd.pid" ;;
  esac
}

wait_for() { # wait_for <seconds> <description> <command...>
  local limit=$1 what=$2 i
  shift 2
  for ((i = 0; i < limit * 10; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  log "timed out after ${limit}s waiting for $what (logs: $D/log)"
  return 1
}

accounting_lines() {
  if ((ACCOUNTING)); then
    printf '%s\n' AccountingStorageType=accounting_storage/slurmdbd AccountingStorageHost=localhost \
      "AccountingStoragePort=$DBD_PORT" "AccountingStoragePass=$D/munge/munge.sock" \
      AccountingStorageTRES=gres/gpu,gres/gpu:t4,gres/gpu:a10g
  else
    echo AccountingStorageType=accounting_storage/none
  fi
}

# Slurm 22.05 has no bind-address setting: its daemons listen on every address unless
# CommunicationParameters has NoCtldInAddrAny (slurmctld) / NoInAddrAny (slurmd, slurmdbd),
# which binds them to the first IPv4 address this host's NAME resolves to (gethostname +
# getaddrinfo in slurm_setup_addr), not to NodeAddr or SlurmctldHost. Only where that is
# the address `localhost` resolves to (127.0.0.1) does this keep the cluster reachable;
# elsewhere (a LAN address, or Debian's usual 127.0.1.1) the daemons would move away from
# where this cluster reaches them, so they stay on the wildcard there
# (test/workflow/loopback-only.test.ts asserts exactly that exception).
loopback_hostname() {
  local mine local_addr
  mine=$(getent ahostsv4 "$(hostname)" 2>/dev/null | awk 'NR == 1 {print $1}' || true)
  local_addr=$(getent ahostsv4 localhost 2>/dev/null | awk 'NR == 1 {print $1}' || true)
  [[ $mine == 127.* && $mine == "$local_addr" ]]
}

comm_params() { # comm_params <options>: a CommunicationParameters line, or nothing
  if loopback_hostname; then echo "CommunicationParameters=$1"; fi
}

node_lines() {
  local i
  for i in "${!NODES[@]}"; do
    echo "NodeName=${NODES[$i]} NodeHostname=localhost Port=$((NODE_PORT0 + i)) CPUs=8 RealMemory=8000 Gres=gpu:t4:4"
  done
}

write_configs() {
  mkdir -p "$D"/{etc,run,log,state,spool,munge,gres,ssh,db,work}
  chmod 755 "$D/munge"
  for n in "${NODES[@]}"; do
    for g in 0 1 2 3; do ln -sfn /dev/null "$D/gres/${n}gpu$g"; done
  done
  cat >"$D/etc/resume-never.sh" <<'EOF'
#!/bin/sh
# CLOUD nodes in the dev cluster never boot: this is the empty spot pool of the seed study.
exit 1
EOF
  chmod 755 "$D/etc/resume-never.sh"

  cat >"$D/etc/slurm.conf" <<EOF
# Generated by scripts/dev-cluster.sh: a single-host cluster with FAKE GPUs.
ClusterName=$CLUSTER
FirstJobId=$FIRST_JOB_ID
SlurmctldHost=localhost
SlurmctldPort=$CTLD_PORT
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$D/munge/munge.sock,cred_expire=10
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool/%n
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd-%n.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
SlurmdParameters=config_overrides
SlurmdTimeout=10
MinJobAge=300
ReturnToService=1
# The scheduler runs every second and right after each submission (batch_sched_delay=0):
# with 2 s ticks a job waited ~1 s on average to start or to be released from a dependency
# (measured from slurmctld's log: 0.2-1.6 s; now 0.1-0.7 s).
SchedulerParameters=bf_interval=1,sched_interval=1,batch_sched_delay=0
DependencyParameters=kill_invalid_depend
JobAcctGatherType=jobacct_gather/none
$(comm_params NoCtldInAddrAny,NoInAddrAny)
$(accounting_lines)
GresTypes=gpu
ResumeProgram=$D/etc/resume-never.sh
SuspendProgram=/bin/true
SuspendTime=600
ResumeTimeout=10
SuspendExcNodes=$NODE_LIST
PrivateData=cloud
$(node_lines)
NodeName=$CLOUD State=CLOUD CPUs=8 RealMemory=8000 Gres=gpu:a10g:4
PartitionName=gpu Nodes=$NODE_LIST,$CLOUD Default=YES MaxTime=INFINITE State=UP PriorityTier=1
# Spot preemption on one host: a job in \`urgent\` preempts \`gpu\` jobs on the same nodes.
PartitionName=urgent Nodes=$NODE_LIST MaxTime=INFINITE State=UP PriorityTier=10
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
EOF

  {
    echo "AutoDetect=off"
    for n in "${NODES[@]}"; do echo "NodeName=$n Name=gpu Type=t4 File=$D/gres/${n}gpu[0-3]"; done
    echo "NodeName=$CLOUD Name=gpu Type=a10g File=/dev/null"
  } >"$D/etc/gres.conf"

  cat >"$D/etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$D/munge/munge.sock
DbdHost=localhost
DbdPort=$DBD_PORT
SlurmUser=root
PidFile=$D/run/slurmdbd.pid
LogFile=$D/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=root
StorageLoc=slurm_acct_db
$(comm_params NoInAddrAny)
EOF
  chmod 600 "$D/etc/slurmdbd.conf"

  cat >"$D/etc/my.cnf" <<EOF
[mariadbd]
datadir=$D/db
socket=$D/run/mysqld.sock
pid-file=$D/run/mariadbd.pid
bind-address=127.0.0.1
port=$DB_PORT
log-error=$D/log/mariadb.log
user=root
skip-name-resolve
innodb_buffer_pool_size=64M
EOF

  if [[ ! -s $D/ssh/ssh_host_ed25519_key ]]; then
    ssh-keygen -q -t ed25519 -N '' -C 'cryoet dev cluster host key' -f "$D/ssh/ssh_host_ed25519_key"
  fi
  if [[ ! -s $D/ssh/id_ed25519 ]]; then
    ssh-keygen -q -t ed25519 -N '' -C 'cryoet dev client' -f "$D/ssh/id_ed25519"
  fi
  cp "$D/ssh/id_ed25519.pub" "$D/ssh/authorized_keys"
  chmod 600 "$D/ssh/authorized_keys"
  echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1,2 "$D/ssh/ssh_host_ed25519_key.pub")" >"$D/ssh/known_hosts"
  # SHLVL=1: bash reads ~/.bashrc for a command run by sshd only at the top shell level, and
  # this machine's root .bashrc runs pyenv init (~0.1 s CPU) before anything else.
  cat >"$D/etc/sshd_config" <<EOF
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $D/ssh/ssh_host_ed25519_key
PidFile $D/run/sshd.pid
AuthorizedKeysFile $D/ssh/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
MaxSessions 64
MaxStartups 64:30:128
SetEnv SLURM_CONF=$D/etc/slurm.conf SHLVL=1
Subsystem sftp internal-sftp
LogLevel ERROR
EOF
}

start_munge() {
  alive "$(pidfile_of munged)" && return 0
  [[ -s $D/munge/munge.key ]] || { mungekey -c -k "$D/munge/munge.key" && chmod 600 "$D/munge/munge.key"; }
  munged --force --key-file="$D/munge/munge.key" --socket="$D/munge/munge.sock" \
    --pid-file="$D/run/munged.pid" --log-file="$D/log/munged.log" --seed-file="$D/munge/munged.seed"
  wait_for 5 munged test -S "$D/munge/munge.sock"
}

start_db() {
  if ! alive "$(pidfile_of mariadbd)"; then
    if [[ ! -d $D/db/mysql ]]; then
      mariadb-install-db --defaults-file="$D/etc/my.cnf" --auth-root-authentication-method=normal \
        --skip-test-db >"$D/log/mariadb-install.log" 2>&1
    fi
    setsid mariadbd --defaults-file="$D/etc/my.cnf" </dev/null >>"$D/log/mariadb.log" 2>&1 &
    wait_for 20 mariadb mariadb-admin --socket="$D/run/mysqld.sock" -uroot ping
  fi
  if ! alive "$(pidfile_of slurmdbd)"; then
    SLURM_CONF=$D/etc/slurm.conf slurmdbd
    wait_for 10 slurmdbd bash -c "exec 3<>/dev/tcp/127.0.0.1/$DBD_PORT"
  fi
}

start_slurm() {
  export SLURM_CONF=$D/etc/slurm.conf
  if ! alive "$(pidfile_of slurmctld)"; then
    ((ACCOUNTING)) && { sacctmgr -i add cluster "$CLUSTER" >/dev/null 2>&1 || true; }
    slurmctld
    wait_for 10 slurmctld scontrol ping
  fi
  for n in "${NODES[@]}"; do
    alive "$(pidfile_of "slurmd-$n")" && continue
    if ((${LOW_PRIORITY:-0})); then (low_priority "$n" && exec slurmd -N "$n"); else slurmd -N "$n"; fi
  done
  wait_for 15 "nodes $NODE_LIST idle" bash -c \
    "[[ \$(sinfo -h -N -n $NODE_LIST -t idle,mix,alloc -o '%N' | sort -u | wc -l) -eq ${#NODES[@]} ]]"
  # The a10g spot pool is empty from the start: a job pinned to it pends with
  # ReqNodeNotAvail at once, as in the seed study. (Left to power-save, the first such job
  # would sit CONFIGURING for ResumeTimeout and end NODE_FAIL under --no-requeue;
  # `scontrol update NodeName=<cloud node> State=RESUME` brings that boot-failure path back.)
  scontrol update "NodeName=$CLOUD" State=DOWN Reason=spot-pool-empty
}

start_sshd() {
  alive "$(pidfile_of sshd)" && return 0
  mkdir -p /run/sshd
  /usr/sbin/sshd -f "$D/etc/sshd_config" -E "$D/log/sshd.log"
  wait_for 5 sshd bash -c "exec 3<>/dev/tcp/127.0.0.1/$SSH_PORT"
}

cmd_start() {
  mkdir -p "$D/run" "$D/log"
  if [[ -n ${CRYOET_SUBREAPER:-} ]] || alive "$D/run/reaper.pid"; then
    start_all
    return
  fi
  # Nothing above us reaps orphans: start under a reaper that stays with the daemons.
  local rc=1
  : >"$D/log/start.log"
  read -r rc < <(setsid python3 "$ROOT/scripts/reaper.py" daemon "$D/run/reaper.pid" \
    "$D/log/start.log" -- bash "${BASH_SOURCE[0]}" start-here </dev/null) || true
  tail -n 3 "$D/log/start.log" >&2
  # Half a cluster helps nobody: take down what did start, and its reaper.
  [[ $rc == 0 ]] || cmd_stop
  return "$rc"
}

# A port held by a process that is not ours (another clone's dev cluster, a system
# service) would make a daemon fail later with a vague log line: say so up front.
check_ports() {
  local port holder
  local ports=("$SSH_PORT" "$CTLD_PORT")
  ((ACCOUNTING)) && ports+=("$DBD_PORT" "$DB_PORT")
  for i in "${!NODES[@]}"; do ports+=($((NODE_PORT0 + i))); done
  for port in "${ports[@]}"; do
    holder=$(ss -ltnpH "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2 || true)
    [[ -n $holder ]] || continue
    if ! grep -qsF -- "$D" "/proc/$holder/cmdline" "/proc/$holder/cwd" 2>/dev/null &&
       ! grep -qxF "$holder" "$D"/run/*.pid 2>/dev/null; then
      local hint="another dev cluster (another clone?) may be running: stop it with its scripts/dev-cluster.sh stop"
      log "port $port on 127.0.0.1 is taken by pid $holder ($(tr '\0' ' ' </proc/$holder/cmdline | cut -c1-120)); $hint"
      return 1
    fi
  done
}

# dev3: its slurmd nodes, and so every job step they fork, run at nice 15 and, where it can,
# in a cpu cgroup of their own marked idle (cpu.idle=1: a core only when nothing else wants
# it). Nice alone is not enough: with the kernel's autogroups (sched_autogroup_enabled=1) each
# session is scheduled as one unit, and slurmd and each job step start a session of their
# own, so a niced job still took an equal share beside the whole test run. Tasks in a cgroup
# other than the root are not autogrouped. The head node's daemons (munged, slurmctld, sshd)
# keep normal priority, as on a real cluster whose head node is not a compute node: with them
# in the idle cgroup, squeue over SSH beside two busy lanes could wait longer than a caller's
# timeout (the CI run of 2026-12-07: the science campaign's spot-reclaim probe).
CGROUP_NAME=cryoet-$CLUSTER
low_priority() { # in the subshell that then execs slurmd: moves that subshell
  renice -n 15 -p $BASHPID >/dev/null
  local g
  for g in "/sys/fs/cgroup/cpu/$CGROUP_NAME" "/sys/fs/cgroup/$CGROUP_NAME"; do # cgroup v1, v2
    [[ -e ${g%/*}/cgroup.procs && -w ${g%/*} ]] || continue # a cgroup file system, ours to write
    if mkdir -p "$g" 2>/dev/null && echo 1 >"$g/cpu.idle" 2>/dev/null &&
       echo $BASHPID >"$g/cgroup.procs" 2>/dev/null; then
      log "slurmd $1 runs in cpu cgroup $g (cpu.idle=1) at nice 15"
      return 0
    fi
  done
  log "slurmd $1 runs at nice 15 (no writable cpu cgroup: beside a busy session it still takes a share)"
}

start_all() {
  local t0=$SECONDS
  check_ports
  for bin in munged mungekey mariadbd slurmctld slurmd slurmdbd sacctmgr /usr/sbin/sshd ssh-keygen; do
    command -v "$bin" >/dev/null || { log "missing $bin: run scripts/setup.sh first"; exit 2; }
  done
  write_configs
  start_munge
  ((ACCOUNTING)) && start_db
  start_slurm
  start_sshd
  log "$CLUSTER up in $((SECONDS - t0))s: slurm.conf $D/etc/slurm.conf, ssh root@127.0.0.1:$SSH_PORT"
}

stop_pid() { # stop_pid <pidfile> <signal>
  local pidfile=$1 pid i
  alive "$pidfile" || { rm -f "$pidfile"; return 0; }
  pid=$(<"$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do alive "$pidfile" || break; sleep 0.1; done
  if alive "$pidfile"; then kill -KILL "$pid" 2>/dev/null || true; sleep 0.2; fi
  rm -f "$pidfile"
}

cmd_stop() {
  export SLURM_CONF=$D/etc/slurm.conf
  if alive "$(pidfile_of slurmctld)"; then
    # Killing slurmd leaves slurmstepd and the job running: cancel jobs first.
    scancel --full --quiet --state=RUNNING,PENDING,CONFIGURING,SUSPENDED -u root 2>/dev/null || true
  fi
  for n in "${NODES[@]}"; do stop_pid "$(pidfile_of "slurmd-$n")"; done
  # Steps of this cluster's jobs whose slurmd is gone (scancel may not have reached them).
  # Only this cluster's: a stepd inherits SLURM_CONF from the slurmd we started.
  local pid
  for pid in $(pgrep -f "slurmstepd: \[" || true); do
    if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "SLURM_CONF=$D/etc/slurm.conf"; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  for d in slurmctld slurmdbd sshd mariadbd munged; do stop_pid "$(pidfile_of "$d")"; done
  stop_pid "$D/run/reaper.pid"
  if ((${LOW_PRIORITY:-0})); then
    rmdir "/sys/fs/cgroup/cpu/$CGROUP_NAME" "/sys/fs/cgroup/$CGROUP_NAME" 2>/dev/null || true
  fi
  log "stopped"
}

cmd_status() {
  local rc=0 d
  for d in "${DAEMONS[@]}"; do
    if alive "$(pidfile_of "$d")"; then echo "$d running"; else echo "$d stopped"; rc=3; fi
  done
  return $rc
}

case ${1:-} in
  start) cmd_start ;;
  start-here) start_all ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) echo "SLURM_CONF=$D/etc/slurm.conf" ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
