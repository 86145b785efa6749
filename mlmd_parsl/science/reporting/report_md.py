"""report.md: a run next to the seed's published numbers and an earlier run, with flags.

Each row belongs to a division: `seed`, the seed's work exactly, or `ours` (each row lists how it differs from the
seed's). Comparisons are like for like only, and never across divisions: a seed-division row whose only deviations
are ones today's software forces (the Kokkos line) is set beside the seed's published number of the same kind of
case: a GPU case (model on CUDA, one rank) beside the Chicoma 1xA100 number at the same atom count, a CPU case
beside the Crossroads number at the same atoms and ranks, training beside the seed's FOM on the same kind of
device. Ours' rows are never set beside the seed's numbers (nor beside the seed division's rows). A seed row
slower than the seed's number is flagged `below seed`.

Earlier runs are compared like for like too: a baseline row counts only where it matches on everything that
changes the figure (COMPARABLE_ON); the baseline is the median over every such row of the baseline runs, and a
case is flagged `REGRESSION` when it is slower than that median by more than the tolerance *and* by more than
the baseline's own spread (max - min), so noise seen between earlier runs never raises a flag.
"""
import statistics
from pathlib import Path

from ..choices import Division, Trainer, Verdict
from ..seed_procedure import DEVIATION_SEPARATOR, only_forced
from .results import by_division, row_name, trainer_of
from .seed import SEED_TRAINING_FOM_S, seed_throughput
from .step_cost import step_cost_fits


REGRESSION_TOLERANCE = 0.10  # report.regression_tolerance's default
# What must be equal for two rows to be the same measurement (results.csv columns). Rows of runs made before a
# column existed have it empty, so they match nothing: better no ratio than a wrong one.
COMPARABLE_ON = {
    "training": ("division", "deviations", "dataset", "dataset_sha256", "trainer", "device", "epochs", "threads"),
    "md": ("division", "deviations", "sweep", "dataset", "profile", "timed_steps", "engine", "device", "dtype", "atoms",
           "ranks", "threads"),
}


def comparable(row: dict, other: dict) -> bool:
    fields = COMPARABLE_ON.get(row.get("kind"), ())
    return (other.get("status") == "ok" and other.get("kind") == row.get("kind")
            and other.get("task") == row.get("task")
            and all(str(row.get(k) or "") == str(other.get(k) or "") for k in fields))


def seed_figure(row: dict):
    """The seed's published figure for a row, or None: only a seed-division row whose only deviations are forced
    ones is the seed's work, and only the same kind of case has a number (seed.py)."""
    if row.get("division") != Division.SEED or not only_forced(row.get("deviations")):
        return None
    if row.get("kind") == "training":
        return SEED_TRAINING_FOM_S["cuda" if row.get("device", "").startswith("cuda") else "cpu"]
    return seed_throughput(row) if row.get("sweep", "throughput") == "throughput" else None


def figure(row: dict) -> float:
    return row["epoch_time_s"] if row.get("kind") == "training" else row["katom_step_s"]


def baseline_of(row: dict, baseline_runs: dict) -> dict:
    """Median, spread and count of the comparable rows of the baseline runs ({run name: rows})."""
    values = [figure(r) for rows in (baseline_runs or {}).values() for r in rows if comparable(row, r)]
    if not values:
        return {"value": None, "spread": None, "runs": 0}
    return {"value": statistics.median(values), "spread": max(values) - min(values), "runs": len(values)}


def compare(rows: list, baseline_runs: dict = None, tolerance: float = REGRESSION_TOLERANCE) -> list:
    """One comparison per MD case and for training: value, seed, ratio, baseline (median, spread), ratio, flags.
    `baseline_runs`: {run name: its results.csv rows}."""
    out = []
    for row in rows:
        if row.get("status") != "ok":
            out.append({"task": row["task"], "division": row.get("division") or "", "kind": row.get("kind"),
                        "status": row.get("status"), "flags": "failed"})
            continue
        if row.get("kind") == "training":
            value, unit, higher_is_better = row["epoch_time_s"], "s/epoch", False
        else:
            value, unit, higher_is_better = row["katom_step_s"], "Katom-step/s", True
        seed = seed_figure(row)
        before = baseline_of(row, baseline_runs)
        seed_ratio = _speed_ratio(value, seed, higher_is_better)
        base_ratio = _speed_ratio(value, before["value"], higher_is_better)
        flags = ["UNPHYSICAL"] if row.get("kind") == "md" and row.get("physics") == Verdict.UNPHYSICAL else []
        if seed_ratio is not None and seed_ratio < 1:
            flags.append("below seed")
        if base_ratio is not None and base_ratio < 1 - tolerance and abs(value - before["value"]) > before["spread"]:
            flags.append("REGRESSION")
        out.append({"task": row["task"], "division": row.get("division") or "", "kind": row.get("kind"),
                    "sweep": row.get("sweep", ""), "status": "ok",
                    "atoms": row.get("atoms", ""), "ranks": row.get("ranks", ""), "value": value, "unit": unit,
                    "seed": seed, "seed_ratio": seed_ratio, "baseline": before["value"], "baseline_ratio": base_ratio,
                    "baseline_spread": before["spread"], "baseline_runs": before["runs"],
                    "flags": ", ".join(flags)})
    return out


def _speed_ratio(value, reference, higher_is_better):
    """>1 means faster than the reference, whichever way the quantity runs."""
    if reference is None or not value:
        return None
    return value / reference if higher_is_better else reference / value


TEMPERATURE_TOLERANCE = 0.05  # a timed stage more than 5% off the protocol's 1111 K is flagged in the header


def write_report(rows: list, out_dir, title: str, baseline_runs: dict = None, tolerance: float = REGRESSION_TOLERANCE,
                 plots: dict = None, context: dict = None) -> Path:
    """report.md in out_dir: for each division what it is and how it differs from the seed's work, what was
    measured, its model's physics verdict and accuracy gate in words; then one table of every row with seed and
    baseline ratios and flags, and the plots. `baseline_runs`: {run name: results.csv rows}; `context`: {"run",
    "commit", "dirty", "host"} where known."""
    comparisons = compare(rows, baseline_runs, tolerance)
    lines = [f"# {title}", ""] + _run_line(context) + _ratio_lines(baseline_runs, tolerance)
    for division, members in by_division(rows).items():
        lines += division_lines(division, members)
    flagged = [c for c in comparisons if "REGRESSION" in c["flags"] or c["flags"] == "failed"]
    lines += [f"**{len(flagged)} flagged** (regressions or failures): "
              + (", ".join(row_name(c) for c in flagged) if flagged else "none"), ""]
    lines += table_lines(comparisons) + _fit_lines(rows)
    for name, path in (plots or {}).items():
        if path:
            lines += ["", f"## {name}", "", f"![{name}]({Path(path).name})"]
    path = Path(out_dir) / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _ratio_lines(baseline_runs: dict, tolerance: float) -> list:
    names = ", ".join(baseline_runs) if baseline_runs else "none (no earlier complete run of this site)"
    return ["Ratios are speed ratios (> 1: faster than the reference), never between divisions. Seed = the published "
            "ATS-5 MLMD numbers (Chicoma 1xA100 for GPU cases, Crossroads for CPU cases, same atoms and ranks; "
            "training on the same kind of device), set only beside rows of the seed division whose work is the "
            "seed's (deviations forced by today's software aside): a ratio across divisions, or across kinds of "
            f"case, means nothing. Baseline = the median of the comparable rows of: {names}; a row is comparable "
            "only where division, deviations, dataset, trainer, epochs, profile, timed steps, engine/export, device, "
            f"dtype, atoms, ranks and threads match (else no ratio). `REGRESSION`: slower than the baseline by more "
            f"than {tolerance:.0%} and by more than the baseline's spread.", ""]


DIVISION_WORDS = {
    Division.SEED: "the seed's work exactly: its training procedure (hippynn's setup_and_train, pairs found "
            "every batch), hippynn's export, its MD-HO deck, boxes, launch, GPU binding and order (one case at a time)",
    Division.OURS: "ours: our trainers, exports, engines and layouts, each row listing how it differs from the seed's",
    "": "(a run from before divisions: its rows are compared with nothing)",
}


def division_lines(division: str, rows: list) -> list:
    """One division's section: what it is, how its work differs from the seed's, its verdict and what it measured."""
    deviations = list(dict.fromkeys(d for r in rows for d in (r.get("deviations") or "").split(DEVIATION_SEPARATOR)
                                    if d))
    lines = [f"## Division {division or '?'}", "", f"{DIVISION_WORDS.get(division, division)}.", ""]
    if division:
        lines += ["Differs from the seed's work in: " + (DEVIATION_SEPARATOR.join(deviations) or "nothing") + ".", ""]
    lines += verdict_lines(rows) + measured_lines(rows)
    unphysical = [r["task"] for r in rows if r.get("kind") == "md" and r.get("physics") == Verdict.UNPHYSICAL]
    if unphysical:
        lines += [f"**UNPHYSICAL: {len(unphysical)} MD case(s) ran with a model that failed the physics checks "
                  f"({division or '.'}/validation/validation.md): their throughputs are measured on a broken "
                  "simulation, not physics.**", ""]
    trainers = [trainer_of(r) for r in rows if r.get("kind") == "training" and r.get("status") == "ok"]
    if trainers:
        lines += [f"Training (FOM 1) by the `{trainers[0]}` trainer: "
                  + ("hippynn's own loop." if trainers[0] is Trainer.HIPPYNN
                     else "ours, the seed's procedure evaluated with the lean HIP-NN."), ""]
    return lines


def table_lines(comparisons: list) -> list:
    lines = ["| division | task | sweep | atoms | ranks | value | unit | seed | × seed | baseline (median) | spread "
             "| runs | × baseline | flags |",
             "| --- | --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for c in comparisons:
        if c["status"] != "ok":
            lines.append(f"| {c['division']} | {c['task']} | | | | | | | | | | | | {c['status']} |")
            continue
        lines.append(f"| {c['division']} | {c['task']} | {c['sweep']} | {c['atoms']} | {c['ranks']} "
                     f"| {c['value']:.4g} | "
                     f"{c['unit']} | {_num(c['seed'])} | {_num(c['seed_ratio'], 3)} | {_num(c['baseline'])} | "
                     f"{_num(c['baseline_spread'], 3)} | {c['baseline_runs'] or ''} | {_num(c['baseline_ratio'], 3)} | "
                     f"{c['flags']} |")
    return lines


def _run_line(context):
    if not context:
        return []
    commit = context.get("commit")
    code = (f"commit {commit[:12]}{' with uncommitted changes' if context.get('dirty') else ''}" if commit
            else "code not in a git checkout")
    return [f"Run `{context.get('run', '')}` on {context.get('host', '?')}: {code}.", ""]


def verdict_lines(rows: list) -> list:
    """The physics verdict and the seed's accuracy gate of one division's model, each the sentence every renderer
    prints (the same flags are on every row of the division)."""
    from ..validation.accuracy import gate_reached, gate_sentence_of_row
    from ..validation.verdict import verdict_sentence

    first = rows[0] if rows else {}
    training = next((r for r in rows if r.get("kind") == "training" and r.get("status") == "ok"), None)
    accuracy = f"**{gate_sentence_of_row(training)}**"
    if training and not gate_reached(training["test_epa_mae_mev"], training["test_force_mae_mev_per_a"]):
        accuracy += (" The model is short of the seed's accuracy; its MD can still be physics (the verdict above), "
                     "but it is not the seed's model quality.")
    return [f"**{verdict_sentence(first)}**", "", accuracy, ""]


def measured_lines(rows: list) -> list:
    """What was measured: profile, timed steps and seconds, timed-stage temperature against the protocol's,
    dataset, trainer, engine and device."""
    from ..lammps.deck import PROFILES, TEMPERATURE_K, TIMED_STAGE

    md = [r for r in rows if r.get("kind") == "md" and r.get("status") == "ok"]
    training = next((r for r in rows if r.get("kind") == "training"), {})
    table = ["| what was measured | |", "| --- | --- |"]
    if training:
        table.append(f"| dataset | {training.get('dataset') or '?'}"
                     + (f" (sha256 {training['dataset_sha256'][:12]})" if training.get("dataset_sha256") else "")
                     + " |")
    if training.get("status") == "ok":
        table.append(f"| training (FOM 1) | {trainer_of(training)} trainer, {training.get('epochs')} "
                     f"epochs, on {training.get('device') or '?'}"
                     + (f" with {training['threads']} torch thread(s)" if training.get("threads") else "") + " |")
    for profile in sorted({r.get("profile") for r in md if r.get("profile")}):
        stage = (next((st for st in PROFILES[profile].stages if st.name == TIMED_STAGE), None)
                 if profile in PROFILES else None)
        what = (f"{profile}: the MD-HO stages, {PROFILES[profile].total_steps:,} steps, of which the timed stage is "
                f"{stage.steps:,} steps at {stage.timestep_fs:g} fs" if stage else profile)
        if profile == "quick":
            what += f" (the seed's ats5 times {PROFILES['ats5'].stages[-1].steps:,}): a short timing, noisy"
        table.append(f"| MD profile | {what} |")
    seconds = [r["timed_steps"] / r["timesteps_per_s"] for r in md
               if r.get("timed_steps") and r.get("timesteps_per_s")]
    if seconds:
        table.append(f"| timed stage wall time | {min(seconds):.2g} to {max(seconds):.2g} s per case |")
    engines = sorted({f"{r.get('engine')} on {r.get('device')}" + (f", {r['dtype']}" if r.get("dtype") else "")
                      for r in md})
    if engines:
        table.append(f"| MD engine | {'; '.join(engines)} |")
    temperatures = [r["run_temperature_k"] for r in md if r.get("run_temperature_k")]
    if temperatures:
        low, high = min(temperatures), max(temperatures)
        off = max(abs(low - TEMPERATURE_K), abs(high - TEMPERATURE_K)) / TEMPERATURE_K
        table.append(f"| timed-stage temperature | {low:.0f} to {high:.0f} K against the protocol's "
                     f"{TEMPERATURE_K:g} K: " + (f"within {TEMPERATURE_TOLERANCE:.0%}" if off <= TEMPERATURE_TOLERANCE
                                                 else f"**{off:.0%} off the protocol's temperature**") + " |")
    return table + [""] if len(table) > 2 else []


def _fit_lines(rows):
    fits = step_cost_fits(rows)
    if not fits:
        return []
    lines = ["", "## Step cost fit (throughput sweep)", "",
             "Time per step fitted as floor + slope x atoms (relative least squares): the floor is what no system "
             "size amortises (launches, syncs, Python, LAMMPS' fixed work); 1/slope is the throughput a very large "
             "system approaches.", "",
             "| division | ranks | sizes | floor (ms/step) | slope (us per 1,000 atoms) | limit (Katom-step/s) "
             "| worst misfit |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for (division, ranks), fit in fits.items():
        lines.append(f"| {division} | {ranks} | {fit['points']} | {fit['floor_ms']:.3g} | {fit['us_per_katom']:.3g} | "
                     f"{_num(fit['limit_katom_step_s'])} | {fit['worst_misfit']:.0%} |")
    return lines


def _num(value, digits=4):
    return "" if value is None else f"{value:.{digits}g}"
