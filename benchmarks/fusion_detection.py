"""How often, and how soon, does MD at 1111 K see a model fuse atoms? The measurement behind the md_5fs check's
size, length and repeats (docs/physics.md, "the MD check's power").

    python benchmarks/fusion_detection.py --model M --box ag_box.data --replicate 2 2 8 --timestep-fs 1 --ps 3 \
        --seeds 4 [--device cuda] [--dtype float32]

Each repeat: velocities at 1111 K from its own seed, NVT at 1111 K (the check's thermostat) with the embedded
engine, positions every --every-fs; the closest approach of any two atoms in each snapshot. A repeat *fuses* when
that falls below the check's limit (protocol_md.MIN_APPROACH_A). Prints one row per repeat (time to fuse, closest
approach, wall time) and the detection rate; --json writes them.
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


def run_repeat(model, box, replicate, timestep_fs, steps, every, seed, options, work):
    from mpi4py import MPI

    from mlmd_parsl.science.embedded.embedded import run_embedded
    from mlmd_parsl.science.lammps.deck import NVT, DeckOutputs, ForceField, Protocol, Stage, make_deck
    from mlmd_parsl.science.validation.engine_runs import cutoff_of
    from mlmd_parsl.science.validation.protocol_md import closest_approach_series

    dump = work / f"positions_{seed}.dump"
    protocol = Protocol("fusion", (Stage("timed", steps, timestep_fs, NVT),), max(1, steps // 20))
    deck = make_deck(Path(box).resolve(), replicate, protocol, ForceField.model_fix(cutoff_of(model)),
                     outputs=DeckOutputs(positions_dump=(str(dump), every)), velocity_seed=seed)
    start = time.perf_counter()
    summary = run_embedded(deck, model, str(work / f"log_{seed}.lammps"), options, comm=MPI.COMM_SELF)
    wall = time.perf_counter() - start
    series = closest_approach_series(dump)
    dump.unlink()
    return summary["natoms"], wall, series


def main(argv=None):
    from mlmd_parsl.science.embedded.options import EngineOptions
    from mlmd_parsl.science.validation.protocol_md import MIN_APPROACH_A

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--box", required=True)
    parser.add_argument("--replicate", nargs=3, type=int, default=[2, 2, 2])
    parser.add_argument("--timestep-fs", type=float, default=5.0)
    parser.add_argument("--ps", type=float, default=10.0, help="length of each repeat in ps")
    parser.add_argument("--every-fs", type=float, default=50.0, help="fs between position snapshots")
    parser.add_argument("--seeds", type=int, default=4, help="repeats (velocity seeds 1001, 1002, ...)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--compile", default="auto", help="the engine's --compile (auto, on, off)")
    parser.add_argument("--label", default="", help="a name for this configuration in the rows")
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args(argv)
    steps = round(args.ps * 1000 / args.timestep_fs)
    every = max(1, round(args.every_fs / args.timestep_fs))
    options = EngineOptions(device=args.device, dtype=args.dtype, compile_network=args.compile)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(1001, 1001 + args.seeds):
            natoms, wall, series = run_repeat(args.model, args.box, args.replicate, args.timestep_fs, steps, every,
                                              seed, options, Path(tmp))
            fused = [step for step, d in series if d < MIN_APPROACH_A]
            row = {"label": args.label, "model": args.model, "device": args.device, "seed": seed, "atoms": natoms,
                   "timestep_fs": args.timestep_fs, "ps": args.ps, "wall_s": wall,
                   "closest_a": min(d for _, d in series),
                   "fused_at_ps": fused[0] * args.timestep_fs / 1000 if fused else None,
                   "katom_step_s": natoms * steps / wall / 1000}
            rows.append(row)
            print(f"seed {seed}: {natoms} atoms, {args.ps:g} ps at {args.timestep_fs:g} fs, "
                  f"closest {row['closest_a']:.3f} A, "
                  f"fused at {row['fused_at_ps'] if fused else '-'} ps, wall {wall:.1f} s", flush=True)
    caught = sum(r["fused_at_ps"] is not None for r in rows)
    print(f"detected in {caught} of {len(rows)} repeats (closest approach < {MIN_APPROACH_A} A); "
          f"mean wall {sum(r['wall_s'] for r in rows) / len(rows):.1f} s per repeat on {args.device}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
