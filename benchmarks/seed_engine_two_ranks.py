"""Issue 36's reproduction: the seed's CPU engine (`pair_style mliap unified`) on several MPI ranks, hot, in the
seed's deck shape, run a few times; prints each run's exit code (11 = SIGSEGV).

    python benchmarks/seed_engine_two_ranks.py --lmp ../shared/lammps-mliap/bin/lmp --model hippynn_lammps_model.pt \
        --box ag_box.data [--replicate 2 2 16] [--ranks 2] [--repeats 3] [--timed-steps 1000] [--presize] \
        [--record] [--env KEY=VALUE ...]

--presize adds the product's workaround to the deck (mliap_pair_arrays.py: the pair arrays sized once on a
compressed box); --record wraps the export to log each rank's list atoms and pairs per call and prints, per rank,
what LAMMPS' growth rule did with them (short regrowths: the bug's precondition).

The deck: velocities at 1111 K, 30 steps NVT at 1 fs, 30 at 5 fs, 30 NVE + temp/rescale, then --timed-steps NVE
steps at 5 fs (deck.py's builder, the seed's fixes). The crash needs a neighbour rebuild that moves atoms between
ranks after one that took some away (docs/crossroads.md: LAMMPS' MLIAPData::grow_neigharrays shrinks the row
array of lmp_firstneigh); with the skin's rare rebuilds, 100 timed steps seldom get there and 1,000 did in every
run on the build in ../shared (2026-12-05). --env adds variables to the runs' environment.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def deck_text(box, replicate, model, timed_steps=1000, presize=False):
    from mlmd_parsl.science.lammps.deck import (NVE, NVE_RESCALE, NVT, TIMED_STAGE, ForceField, Protocol, Stage,
                                               make_deck)
    from mlmd_parsl.science.lammps.mliap_pair_arrays import presize_scale
    from mlmd_parsl.science.model.export import mliap_export_cutoff

    stages = (Stage("nvt_1fs", 30, 1.0, NVT), Stage("nvt_5fs", 30, 5.0, NVT),
              Stage("nve_rescale", 30, 5.0, NVE_RESCALE), Stage(TIMED_STAGE, timed_steps, 5.0, NVE))
    protocol = Protocol("hot_short", stages, 10, velocity_loop="")
    return make_deck(Path(box).resolve(), replicate, protocol, ForceField.mliap(Path(model).resolve()),
                     mliap_presize_scale=presize_scale(box, mliap_export_cutoff(model)) if presize else None).text


def run_once(lmp, deck, ranks, work, extra_env):
    from mlmd_parsl.science.lammps.runtime import THIS_NODE_MPIEXEC_ENV, mpiexec_executable
    from mlmd_parsl.science.lammps.site_lammps import site_lmp_environment

    (work / "in.lammps").write_text(deck)
    command = [mpiexec_executable(), "-n", str(ranks), lmp, "-in", "in.lammps", "-log", "log.lammps"]
    env = {**site_lmp_environment(), **THIS_NODE_MPIEXEC_ENV, "OMP_NUM_THREADS": "1", **extra_env}
    start = time.perf_counter()
    result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=1800)
    log = (work / "log.lammps").read_text(errors="replace") if (work / "log.lammps").exists() else ""
    stages = [line.split()[-1] for line in log.splitlines() if line.startswith("MLMD_STAGE")]
    return {"returncode": result.returncode, "seconds": time.perf_counter() - start,
            "last_stage": stages[-1] if stages else "",  # as far as LAMMPS flushed its log before it died
            "performance": "\nMLMD_STAGE timed" in log and "Performance:" in log.split("\nMLMD_STAGE timed")[-1],
            "stderr_tail": (result.stdout + result.stderr)[-1500:]}


def replay_lines(counts_dir):
    """Per rank: LAMMPS' pair-array growth replayed on what the run recorded (mliap_pair_arrays.py)."""
    from mlmd_parsl.science.lammps.mliap_pair_arrays import replay_grow_neigharrays
    from mlmd_parsl.science.lammps.mliap_pair_recorder import read_pair_counts

    lines = []
    for pid, calls in read_pair_counts(counts_dir).items():
        replay = replay_grow_neigharrays(calls)
        atoms = [a for a, _ in calls]
        lines.append(f"  rank pid {pid}: {replay.calls} calls, list atoms {min(atoms)}..{max(atoms)}, pairs "
                     f"{replay.first_pairs} at the first call, at most {replay.most_later_pairs} later "
                     f"({replay.pair_growth:.3f}x); "
                     f"short regrowths at calls {replay.short_regrowths[:5] or '-'}, "
                     f"writes past the rows at {len(replay.overflows)} calls")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lmp", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--box", required=True)
    parser.add_argument("--replicate", nargs=3, type=int, default=[2, 2, 16])
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timed-steps", type=int, default=1000)
    parser.add_argument("--presize", action="store_true",
                        help="the deck sizes ML-IAP's pair arrays on a compressed box first (the product's workaround)")
    parser.add_argument("--record", action="store_true",
                        help="wrap the export to record each rank's list atoms and pairs per call, and replay LAMMPS' "
                             "array growth on them")
    parser.add_argument("--env", nargs="*", default=[], metavar="KEY=VALUE")
    parser.add_argument("--keep", help="keep each run's folder under this one")
    args = parser.parse_args(argv)
    extra_env = dict(item.split("=", 1) for item in args.env)
    crashes = 0
    for repeat in range(args.repeats):
        folder = Path(args.keep) / f"run{repeat}" if args.keep else Path(tempfile.mkdtemp())
        folder.mkdir(parents=True, exist_ok=True)
        model = args.model
        if args.record:
            from mlmd_parsl.science.lammps.mliap_pair_recorder import write_recording_export

            model = write_recording_export(args.model, folder / "recording_model.pt", folder / "counts")
        deck = deck_text(args.box, args.replicate, model, args.timed_steps, args.presize)
        row = run_once(str(Path(args.lmp).resolve()), deck, args.ranks, folder, extra_env)
        crashes += row["returncode"] != 0
        print(f"run {repeat}: exit {row['returncode']} after {row['seconds']:.0f} s, last stage logged "
              f"{row['last_stage'] or '-'}{', timed run finished' if row['performance'] else ''}", flush=True)
        if args.record:
            print("\n".join(replay_lines(folder / "counts")), flush=True)
        if row["returncode"] != 0:
            print("  " + row["stderr_tail"].strip().replace("\n", "\n  "), flush=True)
    replicate = " ".join(map(str, args.replicate))
    print(f"{crashes} of {args.repeats} runs failed ({args.ranks} ranks, replicate {replicate}, "
          f"presize {'on' if args.presize else 'off'}, env {' '.join(args.env) or '-'}; pid {os.getpid()})")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
