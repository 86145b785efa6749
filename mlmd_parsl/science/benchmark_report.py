"""report.md + scaling plots: a run next to the seed's published numbers and an earlier run, with flags.

Comparisons are like for like only: a GPU case (model on CUDA, one rank) against the seed's Chicoma
1xA100 number at the same atom count; a CPU case against the seed's Crossroads number at the same atoms
and ranks; training against the seed's FOM on the same kind of device, on the real dataset only (epoch
time grows with the data). A case slower than the seed is flagged `below seed`; a case slower than the
same case of the baseline run by more than REGRESSION_TOLERANCE is flagged `REGRESSION` (short timed
stages are noisy: 10% is within noise).
"""
from pathlib import Path

from .report import finish_figure, new_figure, seed_reference

REGRESSION_TOLERANCE = 0.10
SEED_TRAINING_FOM_S = {"cuda": 0.2465, "cpu": 1.670}  # Chicoma 1xA100 / Crossroads one node


def seed_throughput(row: dict):
    """The seed's Katom-step/s for the same kind of case, or None where the seed has none."""
    seed = seed_reference()
    atoms, ranks = int(row["atoms"]), int(row["ranks"])
    if row.get("device", "").startswith("cuda"):
        return dict(seed["gpu"]).get(atoms) if ranks == 1 else None
    return dict(seed.get(f"cpu_{atoms}", [])).get(ranks)


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


def plot_strong_scaling(rows: list, out_png) -> str:
    """Throughput vs ranks per atom count (throughput sweep), with the ideal line from the fewest ranks."""
    md = _ok_md(rows, "throughput")
    sizes = sorted({int(r["atoms"]) for r in md if sum(x["atoms"] == r["atoms"] for x in md) > 1})
    if not sizes:
        return ""
    fig, ax = new_figure()
    seed = seed_reference()
    for atoms in sizes:
        points = sorted((int(r["ranks"]), float(r["katom_step_s"])) for r in md if int(r["atoms"]) == atoms)
        line, = ax.plot(*zip(*points), "o-", label=f"{atoms:,} atoms")
        r0, t0 = points[0]
        ax.plot([p[0] for p in points], [t0 * p[0] / r0 for p in points], ":", color=line.get_color(), alpha=0.7)
        if f"cpu_{atoms}" in seed:
            ax.plot(*zip(*seed[f"cpu_{atoms}"]), "s--", color=line.get_color(), alpha=0.35,
                    label=f"seed Crossroads {atoms:,}")
    return finish_figure(fig, ax, out_png, "MPI ranks", "Katom-step/s", "Strong scaling (dotted: ideal)", log=True)


def plot_weak_scaling(rows: list, out_png) -> str:
    """Katom-step/s per rank vs ranks for the weak sweep, with the ideal (flat) line."""
    md = sorted(_ok_md(rows, "weak"), key=lambda r: int(r["ranks"]))
    if not md:
        return ""
    fig, ax = new_figure()
    ranks = [int(r["ranks"]) for r in md]
    per_rank = [float(r["katom_step_s"]) / int(r["ranks"]) for r in md]
    ax.plot(ranks, per_rank, "o-", label="this run")
    ax.plot(ranks, [per_rank[0]] * len(ranks), ":", color="gray", label="ideal")
    atoms_per_rank = int(md[0]["atoms"]) // int(md[0]["ranks"])
    return finish_figure(fig, ax, out_png, "MPI ranks (one GPU each on GPU sites)", "Katom-step/s per rank",
                   f"Weak scaling, {atoms_per_rank:,} atoms per rank", log=False)


def fit_step_cost(points):
    """Fit the time per MD step to floor + slope * atoms over [(atoms, Katom-step/s), ...] (two sizes or more),
    least squares on relative error so small and large systems weigh alike.

    Returns floor_ms (the per-step cost no atom count removes: launches, syncs, Python, LAMMPS' fixed
    work), us_per_katom (the cost of 1,000 more atoms), limit_katom_step_s (1/slope: the throughput a huge
    system approaches) and worst_misfit (largest |fit/measured - 1|), or None with fewer than two sizes.
    """
    import numpy as np

    points = sorted((int(a), float(k)) for a, k in points if k)
    if len({a for a, _ in points}) < 2:
        return None
    atoms = np.array([a for a, _ in points], dtype=float)
    step_s = atoms / (np.array([k for _, k in points]) * 1e3)
    slope, floor = np.polyfit(atoms, step_s, 1, w=1 / step_s)
    fitted = floor + slope * atoms
    return {"floor_ms": floor * 1e3, "us_per_katom": slope * 1e9, "points": len(points),
            "limit_katom_step_s": 1 / (slope * 1e3) if slope > 0 else None,
            "worst_misfit": float(np.max(np.abs(fitted / step_s - 1)))}


def step_cost_fits(rows: list) -> dict:
    """fit_step_cost per rank count of the throughput sweep: {ranks: fit}."""
    md = _ok_md(rows, "throughput")
    fits = {}
    for ranks in sorted({int(r["ranks"]) for r in md}):
        fit = fit_step_cost([(r["atoms"], r["katom_step_s"]) for r in md if int(r["ranks"]) == ranks])
        if fit:
            fits[ranks] = fit
    return fits


def plot_step_cost(rows: list, out_png) -> str:
    """Milliseconds per MD step vs atoms (throughput sweep), one line per rank count, with the fitted
    floor + slope * atoms; the seed's A100 step time for comparison."""
    import numpy as np

    md = _ok_md(rows, "throughput")
    fits = step_cost_fits(rows)
    if not fits:
        return ""
    fig, ax = new_figure()
    for ranks, fit in fits.items():
        points = sorted((int(r["atoms"]), int(r["atoms"]) / float(r["katom_step_s"])) for r in md
                        if int(r["ranks"]) == ranks)  # atoms / (Katom-step/s) = ms per step
        line, = ax.plot(*zip(*points), "o", label=f"{ranks} rank{'s' if ranks > 1 else ''}")
        grid = np.geomspace(points[0][0], points[-1][0], 50)
        ax.plot(grid, fit["floor_ms"] + fit["us_per_katom"] * grid / 1e6, "-", color=line.get_color(), alpha=0.7,
                label=f"fit: {fit['floor_ms']:.3g} ms + {fit['us_per_katom']:.3g} us per 1,000 atoms")
    seed = seed_reference()["gpu"]
    ax.plot([a for a, _ in seed], [a / k for a, k in seed], "k--", alpha=0.4, label="seed: Chicoma 1xA100")
    return finish_figure(fig, ax, out_png, "atoms", "ms per MD step (timed stage)",
                         "Step cost vs system size (fit: per-step floor + per-atom slope)", log=True)


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


def _num(value, digits=4):
    return "" if value is None else f"{value:.{digits}g}"


def _ok_md(rows, sweep):
    return [r for r in rows if r.get("kind") == "md" and r.get("status") == "ok"
            and (r.get("sweep") or "throughput") == sweep]
