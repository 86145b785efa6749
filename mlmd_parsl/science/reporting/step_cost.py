"""Time per MD step fitted as floor + slope x atoms: what no system size amortises, and what each atom costs."""
from ..choices import Division
from .results import ok_md_rows


def fit_step_cost(points):
    """Fit the time per MD step to floor + slope * atoms over [(atoms, Katom-step/s), ...] (two sizes or more),
    least squares on relative error so small and large systems weigh alike.

    Returns floor_ms (the per-step cost no atom count removes: launches, syncs, Python, LAMMPS' fixed
    work), us_per_katom (the cost of 1,000 more atoms), limit_katom_step_s (1/slope: the throughput a huge
    system approaches) and worst_misfit (largest |fit/measured - 1|), or None with fewer than two sizes.
    """
    import numpy as np

    points = sorted((a, k) for a, k in points if k)
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
    """fit_step_cost per division and rank count of the throughput sweep: {(division, ranks): fit} (the seed's
    work and ours are never fitted together)."""
    md = ok_md_rows(rows, "throughput")
    fits = {}
    for key in series_keys(md):
        fit = fit_step_cost([(r["atoms"], r["katom_step_s"]) for r in md if series_key(r) == key])
        if fit:
            fits[key] = fit
    return fits


def series_key(row: dict) -> tuple:
    """(division, ranks): rows of one line in the plots and one fit ('' for runs from before divisions)."""
    return row.get("division") or "", row["ranks"]


def series_keys(rows: list) -> list:
    return sorted({series_key(r) for r in rows}, key=lambda k: (k[0] != Division.SEED, k))
