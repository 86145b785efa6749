"""Weak scaling of the embedded engine: a fixed number of atoms per rank (one GPU per rank) over rank counts.

    python benchmarks/weak_scaling.py --model M --box B --device cuda --ranks 1 2 4 --zrep-per-rank 300

Each rank count is one `mpiexec -n R python -m mlmd_parsl.md --replicate 2 2 (zrep x R)` run, the same command
the chicoma site's weak-scaling cases run (85,200 atoms per rank at --zrep-per-rank 300). Prints Katom-step/s,
per rank, the parallel efficiency against the one-rank run of this same invocation, and where each rank ran
(placement.json: host, device, CUDA_VISIBLE_DEVICES); writes JSON to --out.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from mlmd_parsl.science.lammps.logs import parse_log
from mlmd_parsl.science.embedded.options import EngineOptions, md_argv


def run_ranks(args, ranks, out_dir):
    case_dir = out_dir / f"weak_r{ranks}"
    case_dir.mkdir(parents=True, exist_ok=True)
    log = case_dir / "log.lammps"
    cmd = [args.mpiexec, "-n", str(ranks), *md_argv(args.model, args.box, (2, 2, args.zrep_per_rank * ranks), log,
                                                     EngineOptions(device=args.device), profile=args.profile)]
    env = {**os.environ, "HIPPYNN_USE_CUSTOM_KERNELS": args.kernels, "PYTHONWARNINGS": "ignore",
           "OMP_NUM_THREADS": str(args.threads_per_rank)}
    start = time.perf_counter()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    parsed = parse_log(log)
    placement = case_dir / "placement.json"
    devices = [r["device"] for r in json.loads(placement.read_text())["ranks"]] if placement.exists() else []
    return {
        "ranks": ranks, "atoms": parsed.atoms, "status": parsed.status, "katom_step_s": parsed.katom_step_s,
        "timed_steps": parsed.timed_steps, "devices": devices, "wall_s": wall, "returncode": result.returncode,
        "stderr_tail": result.stderr[-800:] if result.returncode else "",
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--box", required=True)
    parser.add_argument("--device", default="cuda", help="cuda = one GPU per rank (the rank's index on its node)")
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--zrep-per-rank", type=int, default=300,
                        help="replicate 2 2 (this x ranks); 300 = 85,200 atoms")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--threads-per-rank", type=int, default=4)
    parser.add_argument("--mpiexec", default="mpiexec")
    parser.add_argument("--kernels", default="pytorch", help="HIPPYNN_USE_CUSTOM_KERNELS")
    parser.add_argument("--out", default="benchmark_weak_scaling")
    args = parser.parse_args(argv)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"{'ranks':>5} {'atoms':>9} {'Katom-step/s':>13} {'per rank':>9} {'efficiency':>10}  status  devices "
          f"({args.device}, {args.profile} profile, {args.threads_per_rank} threads/rank, kernels {args.kernels})",
          flush=True)
    rows, base = [], None
    for ranks in args.ranks:
        row = run_ranks(args, ranks, out_dir)
        per_rank = row["katom_step_s"] / ranks if row["katom_step_s"] else None
        if ranks == 1 and per_rank:
            base = per_rank
        row["katom_step_s_per_rank"] = per_rank
        row["efficiency"] = per_rank / base if per_rank and base else None
        rows.append(row)
        print(f"{ranks:>5} {row['atoms'] or '-':>9} {row['katom_step_s'] or float('nan'):>13.2f} "
              f"{per_rank or float('nan'):>9.2f} {row['efficiency'] or float('nan'):>10.3f}  {row['status']:<6}  "
              f"{' '.join(row['devices'])}{'  ' + row['stderr_tail'] if row['stderr_tail'] else ''}", flush=True)
    (out_dir / "weak_scaling.json").write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2))
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
