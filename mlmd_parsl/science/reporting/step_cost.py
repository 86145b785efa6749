"""Time per MD step fitted as floor + slope x atoms: what no system size amortises, and what each atom costs."""
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
    """fit_step_cost per rank count of the throughput sweep: {ranks: fit}."""
    md = ok_md_rows(rows, "throughput")
    fits = {}
    for ranks in sorted({r["ranks"] for r in md}):
        fit = fit_step_cost([(r["atoms"], r["katom_step_s"]) for r in md if r["ranks"] == ranks])
        if fit:
            fits[ranks] = fit
    return fits
