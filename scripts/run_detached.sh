#!/usr/bin/env bash
# Start the benchmark's driver so that it survives a logout (nohup + setsid, no terminal), output to a log:
#   scripts/run_detached.sh --site chicoma --set provider.account=YOUR_ACCOUNT [any other mlmd_parsl flags]
# The driver must live as long as the run: it holds Parsl's interchanges, which the Slurm blocks' workers
# connect to. It prints the driver's PID and log. Stop it cleanly with `kill PID` (SIGTERM: Parsl and the
# blocks shut down, finished tasks are kept) and continue with the same flags plus --resume RUN.
# MLMD_PYTHON picks the interpreter (default: the repository's .venv/bin/python), MLMD_DRIVER_LOGS the folder
# of the driver's log (default: runs/). The run's own console.log holds the same lines.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)  # no cd: a relative --site path stays the caller's
python=${MLMD_PYTHON:-$repo/.venv/bin/python}
[ -x "$python" ] || { echo "error: $python not found: run scripts/bootstrap.sh first, or set MLMD_PYTHON" >&2; exit 2; }
logs=${MLMD_DRIVER_LOGS:-$repo/runs}
mkdir -p "$logs"
log=$logs/driver-$(date +%Y%m%d-%H%M%S)-$$.log
nohup setsid "$python" -m mlmd_parsl "$@" > "$log" 2>&1 < /dev/null &
pid=$!
echo "driver started: pid $pid; log $log"
echo "follow it: tail -f $log    list runs: $python -m mlmd_parsl runs    stop it cleanly: kill $pid"
