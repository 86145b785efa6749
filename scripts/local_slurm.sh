#!/usr/bin/env bash
# A one-node Slurm cluster on loopback, as root, without systemd, for tests and developers.
#   scripts/local_slurm.sh install   # Debian packages (slurmctld slurmd slurm-client munge)
#   scripts/local_slurm.sh start DIR # config + state in DIR; prints `export SLURM_CONF=DIR/slurm.conf`
#   scripts/local_slurm.sh stop DIR  # stops the daemons it started, by PID
# MpiDefault=pmi2 matters: without it srun starts N silent rank-0 singletons.
# The node advertises 4x its cores and 4 fake GPUs (config_overrides): the scaled-down chicoma and
# crossroads campaigns run their python, GPU and MPI blocks side by side on this one node, as on a
# cluster they would on separate nodes. Nothing here is a real GPU; tasks there run their models on CPU.
set -euo pipefail
cmd=${1:?usage: local_slurm.sh install|start DIR|stop DIR}

case "$cmd" in
install)
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null
  ;;
start)
  dir=$(realpath -m "${2:?state directory}")
  mkdir -p "$dir/ctld" "$dir/d" /run/munge
  cpus=$(( $(nproc) * 4 ))
  cat > "$dir/slurm.conf" <<CONF
ClusterName=mlmd-local
SlurmctldHost=localhost(127.0.0.1)
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
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/d
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus Gres=gpu:4 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
  touch "$dir/fake-gpu0" "$dir/fake-gpu1" "$dir/fake-gpu2" "$dir/fake-gpu3"  # Slurm drops GPUs without a device file
  echo "NodeName=localhost Name=gpu File=$dir/fake-gpu[0-3]" > "$dir/gres.conf"
  export SLURM_CONF="$dir/slurm.conf"
  [ -f /etc/munge/munge.key ] || { dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
  chown munge:munge /run/munge
  if ! pgrep -x munged >/dev/null; then
    runuser -u munge -- /usr/sbin/munged </dev/null >/dev/null 2>&1  # it daemonizes: hold no caller's pipe
    echo started > "$dir/munged.started"
  fi
  /usr/sbin/slurmctld -D -i -f "$SLURM_CONF" </dev/null > "$dir/slurmctld.out" 2>&1 &
  echo $! > "$dir/slurmctld.launcher.pid"
  /usr/sbin/slurmd -D -N localhost -f "$SLURM_CONF" </dev/null > "$dir/slurmd.out" 2>&1 &
  echo $! > "$dir/slurmd.launcher.pid"
  for _ in $(seq 60); do
    if sinfo -h -o %T 2>/dev/null | grep -qx idle; then
      echo "export SLURM_CONF=$SLURM_CONF"
      exit 0
    fi
    sleep 0.5
  done
  echo "local Slurm did not come up; logs in $dir" >&2
  exit 1
  ;;
stop)
  dir=$(realpath -m "${2:?state directory}")
  for name in slurmd slurmctld; do
    if [ -f "$dir/$name.launcher.pid" ]; then
      pid=$(cat "$dir/$name.launcher.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  pkill -x slurmscriptd 2>/dev/null || true  # slurmctld's helper, if it outlived its parent
  if [ -f "$dir/munged.started" ]; then
    pkill -x munged || true
    for _ in $(seq 20); do pgrep -x munged >/dev/null || break; sleep 0.25; done
    pkill -9 -x munged || true
  fi
  ;;
*)
  echo "usage: local_slurm.sh install|start DIR|stop DIR" >&2
  exit 2
  ;;
esac
