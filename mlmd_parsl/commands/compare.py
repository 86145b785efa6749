"""python -m mlmd_parsl compare RUN_A RUN_B: the figures of merit of two runs side by side, like for like only.

A row of B counts for a row of A only where both finished and match on everything that changes the figure
(report_md.COMPARABLE_ON: division and deviations first, then dataset, trainer, epochs, profile, timed steps,
engine, device, dtype, atoms, ranks, threads); any other pair is listed with the first thing that differs, and
gets no ratio. A row is the same task of the same division: the seed's work is never set beside ours.
"""
import sys

from ..arguments import ArgumentParser
from ..errors import UserInputError
from ..orchestration.rundir import REPO_RUNS_DIR
from ..science.choices import Verdict
from ..science.reporting.report_md import COMPARABLE_ON, comparable, figure
from ..science.reporting.results import row_name
from .run_folder import find_run, read_rows


def build_parser():
    parser = ArgumentParser(prog="python -m mlmd_parsl compare", description=__doc__.splitlines()[0].split(": ", 1)[1])
    parser.add_argument("run_a", metavar="RUN_A", help="a run folder, or its name under the runs folder")
    parser.add_argument("run_b", metavar="RUN_B", help="the run to set beside it")
    parser.add_argument("--dir", default=str(REPO_RUNS_DIR), help=f"the runs folder (default {REPO_RUNS_DIR})")
    return parser


def first_difference(row: dict, other: dict) -> str:
    """Why two rows of the same task are not the same measurement ('' when they are)."""
    if other.get("status") != "ok":
        return f"B's {other.get('task')} did not finish ({other.get('status')})"
    for key in COMPARABLE_ON.get(row.get("kind"), ()):
        if str(row.get(key) or "") != str(other.get(key) or ""):
            return f"{key}: {_short(row.get(key))} vs {_short(other.get(key))}"
    return ""


def _short(value) -> str:
    text = str(value or "(none)")
    return text if len(text) <= 16 else text[:12] + "..."


def comparison(rows_a: list, rows_b: list) -> list:
    """[(division/task, unit, value A, value B, speed ratio B/A or None, note)] for every finished row of A."""
    by_name = {row_name(r): r for r in rows_b}
    out = []
    for row in rows_a:
        if row.get("status") != "ok" or row.get("kind") not in ("training", "md"):
            continue
        unit = "s/epoch" if row["kind"] == "training" else "Katom-step/s"
        name = row_name(row)
        other = by_name.get(name)
        if other is None:
            out.append((name, unit, figure(row), None, None, "not in B"))
            continue
        if not comparable(row, other):
            out.append((name, unit, figure(row), None, None, f"not like for like: {first_difference(row, other)}"))
            continue
        a, b = figure(row), figure(other)
        ratio = a / b if row["kind"] == "training" else b / a  # > 1: B is faster, whichever way the figure runs
        unphysical = [name for name, r in (("A", row), ("B", other)) if r.get("physics") == Verdict.UNPHYSICAL]
        note = f"UNPHYSICAL model in {' and '.join(unphysical)}" if unphysical else ""
        out.append((name, unit, a, b, ratio, note))
    return out


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        path_a, path_b = find_run(args.run_a, args.dir), find_run(args.run_b, args.dir)
        rows_a, rows_b = read_rows(path_a), read_rows(path_b)
    except UserInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"A: {path_a}\nB: {path_b}\n")
    print(f"{'task':<20}{'unit':<14}{'A':>12}{'B':>12}{'B vs A':>10}  note")
    compared = 0
    for task, unit, a, b, ratio, note in comparison(rows_a, rows_b):
        compared += ratio is not None
        print(f"{task:<20}{unit:<14}{a:>12.4g}{'' if b is None else f'{b:.4g}':>12}"
              f"{'' if ratio is None else f'{ratio:.3f}x':>10}  {note}")
    print(f"\n{compared} like-for-like row(s); B vs A is a speed ratio (> 1: B is faster).")
    if not compared:
        print("nothing to compare: no finished task of A was measured the same way in B", file=sys.stderr)
        return 1
    return 0
