"""MD throughput of the embedded engine over system sizes, next to the seed's published numbers.

    python benchmarks/md_sizes.py --model M --box B --device cuda --zreps 2 4 8 12 16 24 32 40 48 56 64

Each size is one `python -m mlmd_parsl.md` run (MD-HO stages, --profile quick by default); the timed
stage's Performance line is parsed. Prints a table (with the ratio to the seed's Chicoma 1xA100 number
at the same atom count where there is one) and writes JSON to --out.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from mlmd_parsl.science.lammps.logs import parse_log
from mlmd_parsl.science.reporting.seed import seed_reference
from mlmd_parsl.science.embedded.options import EngineOptions, md_argv

SEED_ZREPS = (2, 4, 8, 12, 16, 24, 32, 40, 48, 56, 64)


def run_size(args, zrep, out_dir):
    log = out_dir / f"log_z{zrep}_{args.device.replace(':', '')}.lammps"
    cmd = md_argv(args.model, args.box, (2, 2, zrep), log, EngineOptions(device=args.device), profile=args.profile)
    if args.ranks > 1:
        cmd = [args.mpiexec, "-n", str(args.ranks)] + cmd
    env = {**os.environ, "HIPPYNN_USE_CUSTOM_KERNELS": args.kernels, "PYTHONWARNINGS": "ignore"}
    start = time.perf_counter()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    parsed = parse_log(log)
    return {
        "zrep": zrep, "atoms": parsed.atoms, "ranks": args.ranks, "device": args.device, "status": parsed.status,
        "katom_step_s": parsed.katom_step_s, "timed_steps": parsed.timed_steps, "wall_s": wall,
        "returncode": result.returncode, "stderr_tail": result.stderr[-500:] if result.returncode else "",
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--box", required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--zreps", type=int, nargs="+", default=list(SEED_ZREPS))
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--ranks", type=int, default=1)
    parser.add_argument("--mpiexec", default="mpiexec")
    parser.add_argument("--kernels", default="pytorch", help="HIPPYNN_USE_CUSTOM_KERNELS")
    parser.add_argument("--out", default="benchmark_md_sizes")
    args = parser.parse_args(argv)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    seed = dict(seed_reference()["gpu"])
    rows = []
    print(f"{'atoms':>8} {'Katom-step/s':>14} {'seed A100':>10} {'ratio':>7}  status   "
          f"({args.device}, {args.ranks} rank(s), "
          f"{args.profile} profile, kernels {args.kernels})", flush=True)
    for zrep in args.zreps:
        row = run_size(args, zrep, out_dir)
        row["seed_a100_katom_step_s"] = seed.get(row["atoms"])
        ratio = (row["katom_step_s"] / row["seed_a100_katom_step_s"]
                 if row["katom_step_s"] and row["seed_a100_katom_step_s"] else None)
        row["ratio_to_seed"] = ratio
        rows.append(row)
        print(f"{row['atoms'] or '-':>8} {row['katom_step_s'] or float('nan'):>14.2f} "
              f"{row['seed_a100_katom_step_s'] or float('nan'):>10.1f} {ratio or float('nan'):>7.3f}  {row['status']}"
              f"{'  ' + row['stderr_tail'] if row['stderr_tail'] else ''}", flush=True)
    (out_dir / "md_sizes.json").write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2))
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
