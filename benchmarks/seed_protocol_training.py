"""Train under the seed's protocol (max 5000 epochs, early stopping with patience 50) and say whether the
model reaches the seed's accuracy gate, in how long, and how the validation errors evolved.

    python benchmarks/seed_protocol_training.py --dataset Ag.xyz --device cuda [--engine lean] [--out DIR]
        [--oracle ag_u3_short|ag_u3|real]
"""
import argparse
import json
import sys
import time
from pathlib import Path

from mlmd_parsl.science.lammps.eam_oracle import DEFAULT_ORACLE, ORACLES
from mlmd_parsl.science.model.training import TRAINERS, TrainingSpec, train
from mlmd_parsl.science.validation.accuracy import accuracy_gate


def validation_milestones(log, every):
    """(epoch, valid EpA-MAE, valid ForceMAE) every `every` epochs of the lean trainer's log."""
    rows = []
    for line in Path(log).read_text().splitlines():
        if line.startswith("epoch "):
            fields = line.split()
            epoch = int(fields[1].rstrip(":"))
            if epoch % every == 0:
                rows.append((epoch, float(fields[fields.index("EpA-MAE") + 1]),
                             float(fields[fields.index("ForceMAE") + 1])))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--engine", default="lean", choices=TRAINERS)
    parser.add_argument("--max-epochs", type=int, default=5000)
    parser.add_argument("--patience", type=int, default=50)
    parser.add_argument("--dist-soft-min", type=float, default=None,
                        help="where the sensitivities start (the seed's: 2.3)")
    parser.add_argument("--seed", type=int, default=0, help="torch seed of the initial weights")
    parser.add_argument("--out", default="seed_protocol_training")
    parser.add_argument("--oracle", default=DEFAULT_ORACLE, choices=(*ORACLES, "real"),
                        help="the EAM that labelled a synthetic --dataset, or real (the DFT set)")
    args = parser.parse_args(argv)
    spec = TrainingSpec(max_epochs=args.max_epochs, termination_patience=args.patience, device=args.device,
                        trainer=args.engine, dist_soft_min=args.dist_soft_min, torch_seed=args.seed)
    start = time.perf_counter()
    real = args.oracle == "real"
    summary = train(args.dataset, args.out, spec, dataset_label="real" if real else "synthetic",
                    oracle=None if real else args.oracle)
    wall = time.perf_counter() - start
    gate = accuracy_gate(summary)
    result = {"summary": summary.to_json(), "gate": gate, "wall_s": wall}
    if args.engine == "lean":
        result["milestones"] = validation_milestones(Path(args.out) / "training_log.txt", every=250)
        for epoch, epa, force in result["milestones"]:
            print(f"epoch {epoch:>5}: valid EpA-MAE {epa:8.3f} meV/atom, ForceMAE {force:8.2f} meV/A")
    print(f"{args.engine} on {args.device}: {summary.epochs} epochs (stopped by "
          f"{'max_epochs' if summary.epochs >= args.max_epochs else 'early stopping'}), {wall:.0f} s in all, "
          f"FOM 1 {summary.epoch_time_s:.4f} s/epoch; test EpA-MAE {summary.test_epa_mae_mev:.3f} meV/atom (seed "
          f"gate < 0.7), Force MAE {summary.test_force_mae_mev_per_a:.2f} meV/A (< 25): "
          f"gate {'PASS' if gate['ok'] else 'FAIL'}")
    (Path(args.out) / "seed_protocol.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
