"""python -m mlmd_parsl runs: every run under the runs folder, newest first: site, start, status, FOMs, physics."""
import sys
from pathlib import Path

from ..arguments import ArgumentParser
from ..orchestration.rundir import REPO_RUNS_DIR
from .run_folder import summarize


def build_parser():
    parser = ArgumentParser(prog="python -m mlmd_parsl runs", description=__doc__.split(": ", 1)[1])
    parser.add_argument("--dir", default=str(REPO_RUNS_DIR), help=f"the runs folder (default {REPO_RUNS_DIR})")
    parser.add_argument("--site", help="only the runs of this site (its name in the run's manifest)")
    return parser


def table(summaries) -> list:
    """One line per run and division (a run of two divisions has two: their figures are never mixed)."""
    lines = [f"{'run':<34}{'site':<12}{'started':<18}{'host':<14}{'status':<26}{'division':<10}{'FOM1 s/epoch':>13}"
             f"{'FOM2 Katom-step/s':>22}  physics, accuracy gate"]
    for s in summaries:
        run = (f"{s.name:<34}{s.site:<12}{s.created.replace('T', ' ')[:16]:<18}{s.host[:13]:<14}"
               f"{s.status[:25]:<26}")
        for d in s.divisions or (None,):
            lines.append(run + (_division_columns(d) if d else ""))
            run = " " * len(run)  # the run's columns once
    return lines


def _division_columns(d) -> str:
    fom1 = f"{d.training_s_per_epoch:.4g}" if d.training_s_per_epoch is not None else "-"
    fom2 = (f"{min(d.md_katom_step_s):.4g}-{max(d.md_katom_step_s):.4g} ({len(d.md_katom_step_s)})"
            if d.md_katom_step_s else "-")
    physics = f"{d.physics}, gate {d.accuracy_gate}" if d.accuracy_gate else d.physics
    return f"{d.division or '-':<10}{fom1:>13}{fom2:>22}  {physics}"


def main(argv=None):
    args = build_parser().parse_args(argv)
    folder = Path(args.dir)
    if not folder.is_dir():
        print(f"error: --dir {folder}: no such folder", file=sys.stderr)
        return 2
    summaries = [summarize(p) for p in folder.iterdir() if (p / "manifest.json").is_file()]
    summaries = sorted((s for s in summaries if not args.site or s.site == args.site),
                       key=lambda s: s.created, reverse=True)
    if not summaries:
        print(f"no runs{f' of site {args.site}' if args.site else ''} under {folder}")
        return 0
    for line in table(summaries):
        print(line)
    print(f"\n{len(summaries)} run(s) under {folder}. FOM2: the slowest and fastest MD case (number of cases). "
          "'no results yet': running, or stopped before its last task; 'interrupted': Ctrl-C or SIGTERM; "
          "both continue with --site SITE --resume RUN. Details: RUN/report.md; two runs side by side: "
          "python -m mlmd_parsl compare RUN_A RUN_B")
    return 0
