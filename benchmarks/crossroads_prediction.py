"""A prediction, not a measurement: each engine's throughput at Crossroads' 8...112 ranks from its step cost measured
here, beside the seed's published Crossroads numbers (issue 41).

    python benchmarks/crossroads_prediction.py harness.json [more harness.json ...] [--ranks-measured 2]

From a harness.json with several sizes (benchmarks/harness.py --columns engine mliap --ranks 2 ...), each column at
`--ranks-measured` ranks (one thread per rank) is fitted to time per step = floor + slope x atoms
(reporting/step_cost.py). Spread over R ranks, a step of N atoms then takes floor + slope x N x measured / R: the
per-rank floor stays, the per-atom work divides. Not modelled: communication beyond what the measured ranks
already had, Crossroads' per-core speed (Sapphire Rapids, not this machine's cores), memory bandwidth shared by 112
ranks. So the table says what the floor and slope measured here allow, and which engine the floor limits first.
"""
import argparse
import json
import sys
from pathlib import Path

from mlmd_parsl.science.reporting.seed import seed_reference
from mlmd_parsl.science.reporting.step_cost import fit_step_cost

COLUMNS = {  # harness.json key at R ranks -> label
    "mliap_{r}r": "seed's engine, hippynn export",
    "mliap-lean-eager_{r}r": "seed's engine, lean export (torch)",
    "mliap-lean_{r}r": "seed's engine, lean export (numba)",
    "engine_{r}": "embedded engine",
}
CROSSROADS_RANKS = (8, 32, 56, 88, 112)


def predicted_katom_step_s(fit, atoms, ranks, measured_ranks):
    step_s = fit["floor_ms"] / 1e3 + fit["us_per_katom"] / 1e9 * atoms * measured_ranks / ranks
    return atoms / step_s / 1e3


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("harness_json", nargs="+", help="one or more harness.json (their sizes are pooled)")
    parser.add_argument("--ranks-measured", type=int, default=2)
    args = parser.parse_args(argv)
    rows = [row for path in args.harness_json for row in json.loads(Path(path).read_text())["md"]]
    seed = seed_reference()
    r = args.ranks_measured
    print(f"PREDICTION from the step cost at {r} ranks on this machine (not measured on Crossroads), Katom-step/s; "
          "(x seed's engine): over the seed's engine predicted the same way; 'published': the seed's Crossroads number")
    fits = {}
    for column, label in COLUMNS.items():
        key = column.format(r=r) if column != "engine_{r}" else (f"engine_{r}r" if r > 1 else "engine_1")
        points = [(row["atoms"], row.get(key)) for row in rows]
        fits[label] = fit = fit_step_cost(points)
        if fit is None:
            continue
        sizes = ", ".join(f"{a:,}" for a, k in points if k)
        print(f"\n{label}: floor {fit['floor_ms']:.2f} ms per step, {fit['us_per_katom'] * r:.0f} us per 1,000 atoms "
              f"per rank (fitted to {sizes} atoms, within {fit['worst_misfit']:.0%})")
        anchor = fits.get(next(iter(COLUMNS.values())))
        for atoms in (4544, 18176):
            published = dict(seed[f"cpu_{atoms}"])
            cells = []
            for ranks in CROSSROADS_RANKS:
                value = predicted_katom_step_s(fit, atoms, ranks, r)
                ratio = value / predicted_katom_step_s(anchor, atoms, ranks, r) if anchor else None
                cells.append(f"{ranks}: {value:,.0f}" + (f" (x{ratio:.1f})" if ratio and fit is not anchor else "")
                             + f" [published {published.get(ranks, 0):,.0f}]")
            print(f"  {atoms:>6} atoms  " + " | ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
