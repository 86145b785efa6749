"""Does a system with fused atoms cost the seed's engine more per step? Pairs per atom and the seed's engine's
throughput on two snapshots of the same size side by side: one a model fused at 1111 K, one a physical model's
(or any two `custom id type x y z ...` dumps, orthogonal box).

    python benchmarks/fused_step_cost.py --lmp ../shared/lammps-mliap/bin/lmp --model TEST_AG_MODEL.pt \
        --fused seed_final.dump --physical ours_final.dump --steps 200 [--kokkos 'newton on neigh half']

Both snapshots run the same timed NVE stage at 5 fs from velocities at 1111 K (the seed's timed stage) with the
same export (converted on load where an older hippynn saved it), so only the positions differ. Prints pairs per
atom within the model's cutoff and within LAMMPS' list (cutoff + 2 A skin), the Katom-step/s of each, and the
ratios.
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np


def read_snapshot(dump):
    """(box lower bounds (3,), box lengths (3,), positions (n, 3)) of the last snapshot of a custom dump."""
    lines = Path(dump).read_text().splitlines()
    at = max(i for i, line in enumerate(lines) if line.startswith("ITEM: TIMESTEP"))
    natoms = int(lines[at + 3])
    bounds = np.array([[float(v) for v in lines[at + 5 + d].split()[:2]] for d in range(3)])
    columns = lines[at + 8].split()[2:]
    table = np.array([[float(v) for v in line.split()] for line in lines[at + 9: at + 9 + natoms]])
    xyz = table[:, [columns.index(c) for c in ("x", "y", "z")]]
    return bounds[:, 0], bounds[:, 1] - bounds[:, 0], xyz


def pairs_per_atom(lengths, lower, xyz, cutoff) -> float:
    """Ordered pairs (i, j != i) within `cutoff` per atom: what a full neighbour list holds."""
    from scipy.spatial import cKDTree

    wrapped = np.mod(xyz - lower, lengths)
    return 2 * len(cKDTree(wrapped, boxsize=lengths).query_pairs(cutoff)) / len(xyz)


def write_data(path, lower, lengths, xyz):
    from mlmd_parsl.science.lammps.deck import SILVER_MASS

    upper = lower + lengths
    lines = ["snapshot for fused_step_cost.py", "", f"{len(xyz)} atoms", "1 atom types", "",
             *[f"{lo:.10f} {hi:.10f} {a}lo {a}hi" for lo, hi, a in zip(lower, upper, "xyz")], "",
             "Masses", "", f"1 {SILVER_MASS}", "", "Atoms # atomic", "",
             *[f"{i + 1} 1 {x:.10f} {y:.10f} {z:.10f}" for i, (x, y, z) in enumerate(xyz)]]
    Path(path).write_text("\n".join(lines) + "\n")


def timed_run(lmp, model, data, steps, work, tag, kokkos_package):
    from mlmd_parsl.science.lammps.deck import NVE, ForceField, Protocol, Stage, TIMED_STAGE, make_deck
    from mlmd_parsl.science.lammps.logs import parse_log
    from mlmd_parsl.science.lammps.site_lammps import run_site_lammps

    protocol = Protocol("timed_5fs", (Stage(TIMED_STAGE, steps, 5.0, NVE),), max(1, steps // 10))
    deck = make_deck(Path(data).resolve(), (1, 1, 1), protocol, ForceField.mliap(Path(model).resolve()),
                     kokkos=bool(kokkos_package))
    log = run_site_lammps(lmp, deck.text, work, 1, kokkos_package, tag=tag, timeout=3000)
    return parse_log(log).katom_step_s


def main(argv=None):
    from mlmd_parsl.science.model.export import load_exported_model_noting, model_cutoff, save_converted

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lmp", required=True, help="the seed's engine: a LAMMPS with pair_style mliap unified")
    parser.add_argument("--model", required=True, help="the export both snapshots run with")
    parser.add_argument("--fused", required=True, help="dump of the fused snapshot")
    parser.add_argument("--physical", required=True, help="dump of the physical snapshot (same atom count)")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--kokkos", default="", help="'-pk kokkos' options: run on one GPU through KOKKOS")
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args(argv)
    args.lmp = str(Path(args.lmp).resolve())  # the runs start in their own folder
    interface, _ = load_exported_model_noting(args.model)
    cutoff = model_cutoff(interface)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = save_converted(interface, work / "model.pt", "cuda" if args.kokkos else "cpu")
        for name in ("physical", "fused"):
            lower, lengths, xyz = read_snapshot(getattr(args, name))
            write_data(work / f"{name}.data", lower, lengths, xyz)
            rows[name] = {"atoms": len(xyz), "pairs_per_atom_cutoff": pairs_per_atom(lengths, lower, xyz, cutoff),
                          "pairs_per_atom_list": pairs_per_atom(lengths, lower, xyz, cutoff + 2.0),
                          "katom_step_s": timed_run(args.lmp, model, work / f"{name}.data", args.steps, work, name,
                                                    tuple(args.kokkos.split()))}
            print(f"{name}: {rows[name]['atoms']} atoms, {rows[name]['pairs_per_atom_cutoff']:.1f} pairs/atom within "
                  f"{cutoff:g} A, {rows[name]['pairs_per_atom_list']:.1f} within {cutoff + 2:g} A, "
                  f"{rows[name]['katom_step_s']:.2f} Katom-step/s", flush=True)
    fused, physical = rows["fused"], rows["physical"]
    print(f"fused / physical: pairs within the cutoff "
          f"{fused['pairs_per_atom_cutoff'] / physical['pairs_per_atom_cutoff']:.3f}x, "
          f"throughput {fused['katom_step_s'] / physical['katom_step_s']:.3f}x ({args.steps} timed steps each, "
          f"{'KOKKOS ' + args.kokkos if args.kokkos else 'CPU, 1 rank'})")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
