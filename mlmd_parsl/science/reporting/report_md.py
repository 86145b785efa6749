"""report.md: a run next to the seed's published numbers and an earlier run, with flags.

Comparisons are like for like only: a GPU case (model on CUDA, one rank) against the seed's Chicoma
1xA100 number at the same atom count; a CPU case against the seed's Crossroads number at the same atoms
and ranks; training against the seed's FOM on the same kind of device, on the real dataset only (epoch
time grows with the data). A case slower than the seed is flagged `below seed`; a case slower than the
same case of the baseline run by more than REGRESSION_TOLERANCE is flagged `REGRESSION` (short timed
stages are noisy: 10% is within noise).
"""
from pathlib import Path

from .seed import SEED_TRAINING_FOM_S, seed_throughput
from .step_cost import step_cost_fits


REGRESSION_TOLERANCE = 0.10


def compare(rows: list, baseline_rows: list = None) -> list:
    """One comparison per MD case and for training: value, seed, ratio, baseline, ratio, flags."""
    baseline = {r["task"]: r for r in (baseline_rows or []) if r.get("status") == "ok"}
    out = []
    for row in rows:
        if row.get("status") != "ok":
            out.append({"task": row["task"], "kind": row.get("kind"), "status": row.get("status"), "flags": "failed"})
            continue
        if row.get("kind") == "training":
            value, unit, higher_is_better = float(row["epoch_time_s"]), "s/epoch", False
            # epoch time grows with the data: only the seed's own dataset makes a like-for-like comparison
            # and only hippynn's loop is the seed's procedure (the lean trainer is ours)
            seed = (SEED_TRAINING_FOM_S["cuda" if row.get("device", "").startswith("cuda") else "cpu"]
                    if row.get("dataset") == "real" and row.get("trainer", "hippynn") == "hippynn" else None)
        else:
            value, unit, higher_is_better = float(row["katom_step_s"]), "Katom-step/s", True
            seed = seed_throughput(row)
        before = baseline.get(row["task"])
        before_value = None
        if before:
            before_value = float(before["epoch_time_s"] if row.get("kind") == "training" else before["katom_step_s"])
        seed_ratio = _speed_ratio(value, seed, higher_is_better)
        base_ratio = _speed_ratio(value, before_value, higher_is_better)
        flags = ["UNPHYSICAL"] if row.get("kind") == "md" and row.get("physics") == "unphysical" else []
        if seed_ratio is not None and seed_ratio < 1:
            flags.append("below seed")
        if base_ratio is not None and base_ratio < 1 - REGRESSION_TOLERANCE:
            flags.append("REGRESSION")
        out.append({"task": row["task"], "kind": row.get("kind"), "sweep": row.get("sweep", ""), "status": "ok",
                    "atoms": row.get("atoms", ""), "ranks": row.get("ranks", ""), "value": value, "unit": unit,
                    "seed": seed, "seed_ratio": seed_ratio, "baseline": before_value, "baseline_ratio": base_ratio,
                    "flags": ", ".join(flags)})
    return out


def _speed_ratio(value, reference, higher_is_better):
    """>1 means faster than the reference, whichever way the quantity runs."""
    if reference is None or not value:
        return None
    return value / reference if higher_is_better else reference / value


def write_report(rows: list, out_dir, title: str, baseline_rows: list = None, baseline_name: str = "",
                 plots: dict = None) -> Path:
    """report.md in out_dir: training and MD tables with seed and baseline ratios, flags, and the plots."""
    comparisons = compare(rows, baseline_rows)
    lines = [f"# {title}", "",
             "Ratios are speed ratios (> 1: faster than the reference). Seed = the published ATS-5 MLMD numbers "
             "(Chicoma 1xA100 for GPU cases, Crossroads for CPU cases, same atoms and ranks); "
             f"baseline = {baseline_name or 'none (no earlier complete run of this site)'}. "
             f"`REGRESSION`: slower than the baseline by more than {REGRESSION_TOLERANCE:.0%}.", ""]
    unphysical = [r["task"] for r in rows if r.get("kind") == "md" and r.get("physics") == "unphysical"]
    if unphysical:
        lines += [f"**UNPHYSICAL: {len(unphysical)} MD case(s) ran with a model that failed the physics checks "
                  "(validation/validation.md): their throughputs are measured on a broken simulation, not physics.**",
                  ""]
    trainers = [r.get("trainer") or "hippynn" for r in rows if r.get("kind") == "training" and r.get("status") == "ok"]
    if trainers:
        lines += [f"Training (FOM 1) by the `{trainers[0]}` trainer: "
                  + ("hippynn's own loop, the seed's procedure; compared with the seed's number on the real dataset only."
                     if trainers[0] == "hippynn" else "ours, the seed's procedure evaluated with the lean HIP-NN; "
                     "never compared with the seed's number (that is hippynn's loop)."), ""]
    flagged = [c for c in comparisons if "REGRESSION" in c["flags"] or c["flags"] == "failed"]
    lines += [f"**{len(flagged)} flagged** (regressions or failures): "
              + (", ".join(c["task"] for c in flagged) if flagged else "none"), ""]
    lines += ["| task | sweep | atoms | ranks | value | unit | seed | × seed | baseline | × baseline | flags |",
              "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |"]
    for c in comparisons:
        if c["status"] != "ok":
            lines.append(f"| {c['task']} | | | | | | | | | | {c['status']} |")
            continue
        lines.append(f"| {c['task']} | {c['sweep']} | {c['atoms']} | {c['ranks']} | {c['value']:.4g} | {c['unit']} | "
                     f"{_num(c['seed'])} | {_num(c['seed_ratio'], 3)} | {_num(c['baseline'])} | "
                     f"{_num(c['baseline_ratio'], 3)} | {c['flags']} |")
    lines += _fit_lines(rows)
    for name, path in (plots or {}).items():
        if path:
            lines += ["", f"## {name}", "", f"![{name}]({Path(path).name})"]
    path = Path(out_dir) / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _fit_lines(rows):
    fits = step_cost_fits(rows)
    if not fits:
        return []
    lines = ["", "## Step cost fit (throughput sweep)", "",
             "Time per step fitted as floor + slope x atoms (relative least squares): the floor is what no system "
             "size amortises (launches, syncs, Python, LAMMPS' fixed work); 1/slope is the throughput a very large "
             "system approaches.", "",
             "| ranks | sizes | floor (ms/step) | slope (us per 1,000 atoms) | limit (Katom-step/s) | worst misfit |",
             "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    for ranks, fit in fits.items():
        lines.append(f"| {ranks} | {fit['points']} | {fit['floor_ms']:.3g} | {fit['us_per_katom']:.3g} | "
                     f"{_num(fit['limit_katom_step_s'])} | {fit['worst_misfit']:.0%} |")
    return lines


def _num(value, digits=4):
    return "" if value is None else f"{value:.{digits}g}"
