"""The lines a finished campaign prints: each division's training, gate, MD cases, verdict and differences from
the seed's work, then where the run's files are. Plain text from results.csv's rows; no Parsl."""
from pathlib import Path

from ..choices import Verdict
from ..seed_procedure import DEVIATION_SEPARATOR
from ..validation.accuracy import gate_sentence_of_row
from ..validation.verdict import verdict_sentence
from .results import by_division, trainer_of


def print_summary(collected: dict, run_dir, out=print):
    """`collected`: collect_results' answer (rows, results, plot, report) and the site engine's launch per
    division."""
    rows = collected["rows"]
    for train in (r for r in rows if r.get("kind") == "training"):
        out("")
        out(f"[{train['division']}] " + (training_line(train) if train["status"] == "ok"
                                         else f"Training FAILED: {train.get('error')}"))
        if train["status"] == "ok":
            out(f"[{train['division']}] {gate_sentence_of_row(train)}")
    out("")
    _md_table(rows, out)
    out("")
    _division_lines(rows, out)
    for division, launch in (collected.get("site_engine") or {}).items():
        if launch.get("kokkos"):
            out(f"[{division}] Site engine: {launch['lmp']} ran every MD case with {launch['kokkos']['summary']}.")
    out(f"run directory: {run_dir}")
    out(f"results:       {collected['results']}")
    out(f"plot:          {collected['plot']}")
    out(f"report:        {collected['report']} (next to the seed's numbers and earlier comparable runs)")
    if (Path(run_dir) / "monitoring.db").is_file():
        out(f"monitoring:    {Path(run_dir) / 'monitoring.db'} (Parsl's task states and resource use, SQLite)")


def training_line(train: dict) -> str:
    return (f"Training ({train['dataset']} dataset, {trainer_of(train)} trainer): FOM Average Epoch time "
            f"{train['epoch_time_s']:.4f} s over {train['epochs']} epochs; "
            f"test EpA-MAE {train['test_epa_mae_mev']:.4f} "
            f"meV/atom, Force MAE {train['test_force_mae_mev_per_a']:.4f} meV/Å")


def _md_table(rows: list, out):
    out(f"{'division':<10}{'case':<14}{'atoms':>10}{'ranks':>7}{'Katom-step/s':>15}  status")
    for row in (r for r in rows if r.get("kind") == "md"):
        physics = "  UNPHYSICAL" if row.get("physics") == Verdict.UNPHYSICAL else ""
        out(f"{row['division']:<10}{row['task']:<14}{format(row['atoms'], ',') if row.get('atoms') else '':>10}"
            f"{str(row.get('ranks') or ''):>7}"
            f"{'-' if row.get('katom_step_s') is None else format(row['katom_step_s'], '.4f'):>15}"
            f"  {row['status']}{physics}")


def _division_lines(rows: list, out):
    divisions = by_division(rows)
    for division, members in divisions.items():
        unphysical = members[0].get("physics") == Verdict.UNPHYSICAL
        out(f"[{division}] {verdict_sentence(members[0])}"
            + (f" Details: {division}/validation/validation.md." if unphysical else ""))
        # each named once: rows of one division may differ (cases of several ranks are presized, one rank's not)
        deviations = dict.fromkeys(d for r in members for d in (r.get("deviations") or "").split(DEVIATION_SEPARATOR)
                                   if d)
        out(f"[{division}] differs from the seed's work in: " + (DEVIATION_SEPARATOR.join(deviations) or "nothing"))
    if len(divisions) > 1:
        out("The divisions are never set beside each other; report.md sets the seed division's rows beside the "
            "seed's published numbers, where the case is the same kind.")
