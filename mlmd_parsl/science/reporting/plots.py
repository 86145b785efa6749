"""The run's plots: throughput vs atoms (with the seed's numbers), strong and weak scaling, step cost."""
from .results import ok_md_rows
from .seed import SEED_GPU_LABEL, seed_reference
from .step_cost import step_cost_fits


def new_figure(size=(6.5, 4.2)):
    """(figure, axes) outside pyplot: no display needed on nodes, and the process's backend is left alone."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    return fig, fig.subplots()


def finish_figure(fig, ax, out_png, xlabel, ylabel, title, log=True) -> str:
    """Labels, log axes, grid and legend; save to out_png."""
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    return str(out_png)


def plot_throughput(rows, out_png, title_suffix=""):
    md = [r for r in rows if r.get("kind") == "md" and r.get("status") == "ok"
          and (r.get("sweep") or "throughput") == "throughput"]
    fig, ax = new_figure((7, 4.5))
    for ranks in sorted({int(r["ranks"]) for r in md}):
        points = sorted((int(r["atoms"]), float(r["katom_step_s"])) for r in md if int(r["ranks"]) == ranks)
        ax.plot(*zip(*points), "o-", label=f"this run: {ranks} MPI rank{'s' if ranks > 1 else ''}")
    seed = seed_reference()
    ax.plot(*zip(*seed["gpu"]), "k--", alpha=0.5, label=SEED_GPU_LABEL)
    for atoms in (4544, 18176):
        best = max(seed[f"cpu_{atoms}"], key=lambda p: p[1])
        ax.plot([atoms], [best[1]], "s", color="gray", alpha=0.6)
        ax.annotate(f"seed: Crossroads {best[0]} ranks", (atoms, best[1]), fontsize=7, alpha=0.7)
    failed = [r for r in rows if r.get("kind") == "md" and r.get("status") != "ok"]
    ax.set_xscale("log")
    ax.set_xlim(right=ax.get_xlim()[1] * 3)  # room for the seed annotations
    title = "MLMD throughput" + (f" ({title_suffix})" if title_suffix else "")
    if failed:
        title += f" - {len(failed)} failed case(s), see results.csv"
    return finish_figure(fig, ax, out_png, "atoms", "Katom-step/s (timed stage)", title)


def plot_strong_scaling(rows: list, out_png) -> str:
    """Throughput vs ranks per atom count (throughput sweep), with the ideal line from the fewest ranks."""
    md = ok_md_rows(rows, "throughput")
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
    md = sorted(ok_md_rows(rows, "weak"), key=lambda r: int(r["ranks"]))
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


def plot_step_cost(rows: list, out_png) -> str:
    """Milliseconds per MD step vs atoms (throughput sweep), one line per rank count, with the fitted
    floor + slope * atoms; the seed's A100 step time for comparison."""
    import numpy as np

    md = ok_md_rows(rows, "throughput")
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
