#!/usr/bin/env bash
# A Slurm cluster on this machine, as root, without systemd, for tests and developers.
#   scripts/local_slurm.sh install              # Debian packages (slurmctld slurmd slurm-client munge)
#   scripts/local_slurm.sh start DIR [--nodes N] # config + state in DIR; prints `export SLURM_CONF=DIR/slurm.conf`
#   scripts/local_slurm.sh stop DIR             # stops what it started, by PID (and removes its namespaces)
# MpiDefault=pmi2 matters: without it srun starts N silent rank-0 singletons.
# Each node advertises 4x this machine's cores and 4 fake GPUs (config_overrides). Nothing here is a real GPU;
# tasks run their models on CPU.
# One node (the default): `localhost` on loopback; the scaled-down chicoma and crossroads campaigns run their
# python, GPU and MPI blocks side by side on it, as on a cluster they would on separate nodes.
# Several nodes (--nodes N): each slurmd runs in a network and UTS namespace of its own (`ip netns`, host name
# mlmdnodeK, address 10.211.X.(10+K) on eth0), joined by a bridge on this machine whose address (10.211.X.1) is
# slurmctld's and the driver's; the names go into /etc/hosts between marker lines (removed by stop). Traffic stays
# on that bridge: MPI across "hosts" over TCP, srun placing ranks on several nodes, a node that can be lost
# (`local_slurm.sh kill-node DIR K`: every process in its namespace) and started again (`start-node DIR K`).
# Files (but /dev/shm), the kernel and memory stay shared: this proves placement and orchestration, not speed.
set -euo pipefail
cmd=${1:?usage: local_slurm.sh install|start DIR [--nodes N]|stop DIR|kill-node DIR K|start-node DIR K}

# Several nodes: this DIR's bridge, namespaces and subnet are named from a hash of DIR (two clusters do not meet)
names() {
  local id
  id=$(printf %s "$1" | md5sum | cut -c1-6)
  bridge=mlmdbr$id
  ns_prefix=mlmd$id-n
  veth_prefix=mlmd${id}v
  net=10.211.$(( 0x${id:0:2} ))
  hosts_marker="# local_slurm.sh $id"
}

write_conf() {  # dir nodes
  local dir=$1 nodes=$2 cpus ctld_addr node_lines gres_lines k
  cpus=$(( $(nproc) * 4 ))
  if [ "$nodes" = 1 ]; then
    ctld_addr=127.0.0.1
    node_lines="NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus Gres=gpu:4 State=UNKNOWN"
    partition_nodes=localhost
    gres_lines="NodeName=localhost Name=gpu File=$dir/fake-gpu[0-3]"
  else
    ctld_addr=$net.1
    node_lines=$(for k in $(seq "$nodes"); do
      echo "NodeName=mlmdnode$k NodeAddr=$net.$((10 + k)) CPUs=$cpus Gres=gpu:4 State=UNKNOWN"; done)
    partition_nodes="mlmdnode[1-$nodes]"
    gres_lines="NodeName=mlmdnode[1-$nodes] Name=gpu File=$dir/fake-gpu[0-3]"
  fi
  cat > "$dir/slurm.conf" <<CONF
ClusterName=mlmd-local
SlurmctldHost=localhost($ctld_addr)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=pmi2
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
GresTypes=gpu
SchedulerType=sched/backfill
ReturnToService=2
SlurmdTimeout=30
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/d/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.%n.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.%n.log
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
$node_lines
PartitionName=debug Nodes=$partition_nodes Default=YES MaxTime=INFINITE State=UP
CONF
  touch "$dir/fake-gpu0" "$dir/fake-gpu1" "$dir/fake-gpu2" "$dir/fake-gpu3"  # Slurm drops GPUs without a device file
  echo "$gres_lines" > "$dir/gres.conf"
}

make_network() {  # dir nodes: the bridge, a namespace per node on it, their names in /etc/hosts
  local dir=$1 nodes=$2 k ns
  ip link add "$bridge" type bridge
  echo "$bridge" > "$dir/bridge"
  ip addr add "$net.1/24" dev "$bridge"
  ip link set "$bridge" up
  for k in $(seq "$nodes"); do
    ns=$ns_prefix$k
    ip netns add "$ns"
    echo "$ns" >> "$dir/namespaces"
    ip link add "$veth_prefix$k" type veth peer name eth0 netns "$ns"
    ip link set "$veth_prefix$k" master "$bridge" up
    ip netns exec "$ns" ip addr add "$net.$((10 + k))/24" dev eth0
    ip netns exec "$ns" ip link set eth0 up
    ip netns exec "$ns" ip link set lo up
  done
  { echo "$hosts_marker begin"
    for k in $(seq "$nodes"); do echo "$net.$((10 + k)) mlmdnode$k"; done
    echo "$hosts_marker end"; } >> /etc/hosts
}

start_slurmd() {  # dir nodes k (k 0: the one node on loopback)
  local dir=$1 nodes=$2 k=$3
  if [ "$nodes" = 1 ]; then
    /usr/sbin/slurmd -D -N localhost -f "$dir/slurm.conf" </dev/null > "$dir/slurmd.out" 2>&1 &
    echo $! > "$dir/slurmd.launcher.pid"
  else
    # nsenter, unshare and exec each replace the process: the PID kept is slurmd's. Not `ip netns exec`: it
    # mounts a /sys of its own, without the cgroup file system slurmd needs. A /dev/shm of its own, as a host has:
    # MPICH names its shared-memory segment per node from the job, and two "hosts" sharing one /dev/shm opened
    # each other's (MPI_Init failed with "Out of memory" in MPIDI_POSIX_comm_bootstrap).
    nsenter --net="/run/netns/$ns_prefix$k" unshare --uts --mount sh -c "mount -t tmpfs -o size=2g tmpfs /dev/shm \
      && hostname mlmdnode$k && exec /usr/sbin/slurmd -D -N mlmdnode$k -f $dir/slurm.conf" \
      </dev/null > "$dir/slurmd-mlmdnode$k.out" 2>&1 &
    echo $! > "$dir/slurmd-mlmdnode$k.launcher.pid"
  fi
}

wait_idle() {  # nodes: every node idle within 30 s
  local nodes=$1
  for _ in $(seq 60); do
    if [ "$(sinfo -h -N -o %T 2>/dev/null | grep -cx idle)" = "$nodes" ]; then return 0; fi
    sleep 0.5
  done
  return 1
}

stop_pid_file() {
  local pid
  [ -f "$1" ] || return 0
  pid=$(cat "$1")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$1"
}

kill_namespace() {  # every process in one node's namespace: a lost node
  local pids
  pids=$(ip netns pids "$1" 2>/dev/null || true)
  [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
}

case "$cmd" in
install)
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq slurmctld slurmd slurm-client munge iproute2 >/dev/null
  ;;
start)
  dir=$(realpath -m "${2:?state directory}")
  nodes=1
  if [ "${3:-}" = --nodes ]; then nodes=${4:?--nodes N}; fi
  [[ "$nodes" =~ ^[1-9][0-9]?$ ]] || { echo "local_slurm.sh: --nodes $nodes: allowed 1 to 99" >&2; exit 2; }
  names "$dir"
  mkdir -p "$dir/ctld" "$dir/d" /run/munge
  echo "$nodes" > "$dir/nodes"
  write_conf "$dir" "$nodes"
  [ "$nodes" = 1 ] || make_network "$dir" "$nodes"
  export SLURM_CONF="$dir/slurm.conf"
  [ -f /etc/munge/munge.key ] || { dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
  chown munge:munge /run/munge
  if ! pgrep -x munged >/dev/null; then
    runuser -u munge -- /usr/sbin/munged </dev/null >/dev/null 2>&1  # it daemonizes: hold no caller's pipe
    echo started > "$dir/munged.started"
  fi
  /usr/sbin/slurmctld -D -i -f "$SLURM_CONF" </dev/null > "$dir/slurmctld.out" 2>&1 &
  echo $! > "$dir/slurmctld.launcher.pid"
  for k in $(seq "$nodes"); do start_slurmd "$dir" "$nodes" "$k"; done
  if wait_idle "$nodes"; then
    echo "export SLURM_CONF=$SLURM_CONF"
    exit 0
  fi
  echo "local Slurm did not come up ($nodes node(s)); logs in $dir" >&2
  exit 1
  ;;
kill-node|start-node)
  dir=$(realpath -m "${2:?state directory}")
  k=${3:?node number}
  names "$dir"
  nodes=$(cat "$dir/nodes")
  [ "$nodes" -gt 1 ] && [ "$k" -ge 1 ] && [ "$k" -le "$nodes" ] || {
    echo "local_slurm.sh $cmd: node $k: allowed 1 to $nodes of a cluster started with --nodes 2 or more" >&2; exit 2; }
  if [ "$cmd" = kill-node ]; then
    kill_namespace "$ns_prefix$k"
    rm -f "$dir/slurmd-mlmdnode$k.launcher.pid"
  else
    start_slurmd "$dir" "$nodes" "$k"
  fi
  ;;
stop)
  dir=$(realpath -m "${2:?state directory}")
  names "$dir"
  stop_pid_file "$dir/slurmd.launcher.pid"
  for pid_file in "$dir"/slurmd-*.launcher.pid; do stop_pid_file "$pid_file"; done
  if [ -f "$dir/namespaces" ]; then
    while read -r ns; do kill_namespace "$ns"; ip netns del "$ns" 2>/dev/null || true; done < "$dir/namespaces"
    rm -f "$dir/namespaces"
  fi
  stop_pid_file "$dir/slurmctld.launcher.pid"
  pkill -x slurmscriptd 2>/dev/null || true  # slurmctld's helper, if it outlived its parent
  if [ -f "$dir/bridge" ]; then
    ip link del "$(cat "$dir/bridge")" 2>/dev/null || true
    rm -f "$dir/bridge"
  fi
  if grep -q "^$hosts_marker begin" /etc/hosts; then
    # /etc/hosts may be a bind mount (containers): rewrite it in place, never replace it
    kept=$(sed "/^$hosts_marker begin/,/^$hosts_marker end/d" /etc/hosts)
    printf '%s\n' "$kept" > /etc/hosts
  fi
  if [ -f "$dir/munged.started" ]; then
    pkill -x munged || true
    for _ in $(seq 20); do pgrep -x munged >/dev/null || break; sleep 0.25; done
    pkill -9 -x munged || true
  fi
  ;;
*)
  echo "usage: local_slurm.sh install|start DIR [--nodes N]|stop DIR|kill-node DIR K|start-node DIR K" >&2
  exit 2
  ;;
esac
