"""The timed stage's mean temperature under MD-HO profiles (issue 36, item 4): is a short profile still at 1111 K?

    python benchmarks/profile_temperature.py --model hippynn_lammps_model.pt --box ag_box.data [--zrep 2] \
        [--profile 20,20,20,10,60/100 20,20,60,20,60/10 ...]

Each --profile is the five MD-HO stage lengths and the temp/rescale interval; each runs once on the embedded
engine (one rank, the deck builder's deck), and prints the timed stage's mean, lowest and highest temperature and
the last temperature of every stage.
"""
import argparse
import sys
from dataclasses import replace
from pathlib import Path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--box", required=True)
    parser.add_argument("--zrep", type=int, default=2)
    parser.add_argument("--profile", nargs="+", default=["20,20,20,10,60/100", "20,20,60,20,60/10"])
    parser.add_argument("--out", default="profile_temperature")
    args = parser.parse_args(argv)
    from mlmd_parsl.science.embedded.embedded import run_embedded
    from mlmd_parsl.science.lammps.deck import ForceField, _md_ho, make_deck
    from mlmd_parsl.science.lammps.logs import thermo_tables
    from mlmd_parsl.science.model.export import load_exported_model, model_cutoff

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cutoff = model_cutoff(load_exported_model(args.model))
    for spec in args.profile:
        steps, every = spec.split("/")
        protocol = replace(_md_ho("try", tuple(int(s) for s in steps.split(",")), 10), rescale_every=int(every))
        deck = make_deck(Path(args.box).resolve(), (2, 2, args.zrep), protocol, ForceField.model_fix(cutoff))
        log = out / f"log_{steps.replace(',', '-')}_every{every}_z{args.zrep}.lammps"
        run_embedded(deck, args.model, str(log))
        tables = thermo_tables(log)
        timed = [row["Temp"] for row in tables["timed"]]
        last = {stage: round(rows[-1]["Temp"]) for stage, rows in tables.items() if rows}
        print(f"{spec}, replicate 2 2 {args.zrep}: timed stage mean "
              f"{sum(timed) / len(timed):.0f} K (lowest {min(timed):.0f}, highest {max(timed):.0f}); "
              f"last per stage {last}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
