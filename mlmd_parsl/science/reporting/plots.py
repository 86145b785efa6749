"""The run's plots: throughput vs atoms (with the seed's numbers), strong and weak scaling, step cost.

Each title's second line says what was measured where (site, data, profile, host, date: plot_caption), so a
PNG passed around on its own still says what it shows. Axes are read at a glance: plain numbers on log axes,
integer rank ticks, ranges tight to what is drawn.
"""
import math

from ..choices import Division
from .results import ok_md_rows
from .seed import SEED_GPU_LABEL, seed_reference
from .step_cost import series_key, series_keys, step_cost_fits

SEED_CPU_SIZES = (4544, 18176)  # the seed's Crossroads strong-scaling sizes (reference/seed_cpu_*.csv)


def plot_caption(rows: list, site_name: str, context: dict = None) -> str:
    """'site local, synthetic data, profile quick, host vm, 2026-12-02' for a title's second line."""
    context = context or {}
    training = next((r for r in rows if r.get("kind") == "training"), {})
    profiles = sorted({r["profile"] for r in rows if r.get("kind") == "md" and r.get("profile")})
    parts = [f"site {site_name}"]
    if training.get("dataset"):
        parts.append(f"{training['dataset']} data")
    if profiles:
        parts.append(f"profile {'/'.join(profiles)}")
    if context.get("host"):
        parts.append(f"host {context['host']}")
    if context.get("date"):
        parts.append(context["date"])
    return ", ".join(parts)


def new_figure(size=(6.5, 4.2)):
    """(figure, axes) outside pyplot: no display needed on nodes, and the process's backend is left alone."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    return fig, fig.subplots()


def _plain_number(value, _position=None) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:g}"


def readable_log_axis(axis, limits, ticks=None):
    """A log axis labelled in plain numbers (1,000 not 10^3): at `ticks` when given (ranks), else at 1-2-5 steps
    (1-only over more than four decades), with no labels on the minor ticks."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter, NullLocator

    if ticks is not None:
        axis.set_major_locator(FixedLocator(spaced_ticks(ticks)))
        axis.set_minor_locator(NullLocator())
    else:
        low, high = limits
        decades = math.log10(max(high, 1e-12) / max(low, 1e-12))
        axis.set_major_locator(LogLocator(base=10, subs=(1.0,) if decades > 4 else (1.0, 2.0, 5.0)))
        axis.set_minor_formatter(NullFormatter())
    axis.set_major_formatter(FuncFormatter(_plain_number))


def spaced_ticks(values, min_decades=0.12) -> list:
    """The distinct values, less any that would print on top of a larger neighbour on a log axis (88 next to 112)."""
    kept = []
    for value in sorted(set(values), reverse=True):
        if not kept or math.log10(kept[-1] / value) >= min_decades:
            kept.append(value)
    return sorted(kept)


def finish_figure(fig, ax, xlabel, ylabel, title, caption="", log=True, rank_ticks=None):
    """Labels, log axes in plain numbers, grid and legend."""
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
        readable_log_axis(ax.xaxis, ax.get_xlim(), rank_ticks)
        readable_log_axis(ax.yaxis, ax.get_ylim())
    else:
        from matplotlib.ticker import FuncFormatter

        ax.yaxis.set_major_formatter(FuncFormatter(_plain_number))
        if rank_ticks is not None:
            ax.set_xticks(sorted(set(rank_ticks)))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title + (f"\n{caption}" if caption else ""), fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def save(fig, out_png) -> str:
    """The figure as out_png; '' when there was nothing to draw (fig None)."""
    if fig is None:
        return ""
    fig.savefig(out_png, dpi=120)
    return str(out_png)


def plot_throughput(rows, out_png, caption="") -> str:
    return save(throughput_figure(rows, caption), out_png)


def plot_strong_scaling(rows, out_png, caption="") -> str:
    return save(strong_scaling_figure(rows, caption), out_png)


def plot_weak_scaling(rows, out_png, caption="") -> str:
    return save(weak_scaling_figure(rows, caption), out_png)


def plot_step_cost(rows, out_png, caption="") -> str:
    return save(step_cost_figure(rows, caption), out_png)


def _plot_seed_crossroads_best(ax, seed):
    """The seed's best Crossroads throughput at each of its two sizes, as one legend entry."""
    best = [(atoms, *max(seed[f"cpu_{atoms}"], key=lambda p: p[1])) for atoms in SEED_CPU_SIZES]
    ranks = sorted({r for _, r, _ in best})
    ax.plot([a for a, _, _ in best], [k for _, _, k in best], "s", color="gray", alpha=0.7,
            label=f"seed: Crossroads, its best ({'/'.join(map(str, ranks))} ranks)")


def _series_label(key) -> str:
    division, ranks = key
    return (f"{division} division: " if division else "") + f"{ranks} MPI rank{'s' if ranks > 1 else ''}"


def throughput_figure(rows, caption=""):
    md = [r for r in rows if r.get("kind") == "md" and r.get("status") == "ok"
          and (r.get("sweep") or "throughput") == "throughput"]
    fig, ax = new_figure((7, 4.5))
    for key in series_keys(md):
        points = sorted((r["atoms"], r["katom_step_s"]) for r in md if series_key(r) == key)
        ax.plot(*zip(*points), "o:" if key[0] == Division.OURS else "o-", label=f"this run, {_series_label(key)}")
    seed = seed_reference()
    ax.plot(*zip(*seed["gpu"]), "k--", alpha=0.5, label=SEED_GPU_LABEL)
    _plot_seed_crossroads_best(ax, seed)
    failed = [r for r in rows if r.get("kind") == "md" and r.get("status") != "ok"]
    title = "MLMD throughput (timed stage)"
    if failed:
        title += f": {len(failed)} failed case(s), see results.csv"
    ax.margins(x=0.05)
    return finish_figure(fig, ax, "atoms", "Katom-step/s", title, caption)


def strong_scaling_figure(rows: list, caption=""):
    """Throughput vs ranks per atom count (throughput sweep), with the ideal line from the fewest ranks, and the
    seed's Crossroads strong scaling at its two sizes (same atoms as ours where a case matches)."""
    md = ok_md_rows(rows, "throughput")

    def size_key(row):
        return row.get("division") or "", row["atoms"]

    sizes = sorted({size_key(r) for r in md if sum(size_key(x) == size_key(r) for x in md) > 1})
    if not sizes:
        return None
    fig, ax = new_figure()
    seed = seed_reference()
    ranks_drawn = []
    for key in sizes:
        division, atoms = key
        points = sorted((r["ranks"], r["katom_step_s"]) for r in md if size_key(r) == key)
        ranks_drawn += [p[0] for p in points]
        line, = ax.plot(*zip(*points), "o-", label=f"this run, {division + ' division: ' if division else ''}"
                                                    f"{atoms:,} atoms")
        r0, t0 = points[0]
        ax.plot([p[0] for p in points], [t0 * p[0] / r0 for p in points], ":", color=line.get_color(), alpha=0.7)
    for atoms, shade in zip(SEED_CPU_SIZES, ("0.35", "0.6")):
        points = seed[f"cpu_{atoms}"]
        ranks_drawn += [p[0] for p in points]
        ax.plot(*zip(*points), "s--", color=shade, label=f"seed: Crossroads, {atoms:,} atoms")
    return finish_figure(fig, ax, "MPI ranks", "Katom-step/s", "Strong scaling (dotted: ideal from the fewest ranks)",
                         caption, log=True, rank_ticks=ranks_drawn)


def weak_scaling_figure(rows: list, caption=""):
    """Katom-step/s per rank vs ranks for the weak sweep, with the ideal (flat) line."""
    md = sorted(ok_md_rows(rows, "weak"), key=lambda r: r["ranks"])
    if not md:
        return None
    fig, ax = new_figure()
    top, all_ranks = 0.0, []
    for division in dict.fromkeys(r.get("division") or "" for r in md):
        mine = [r for r in md if (r.get("division") or "") == division]
        ranks = [r["ranks"] for r in mine]
        per_rank = [r["katom_step_s"] / r["ranks"] for r in mine]
        line, = ax.plot(ranks, per_rank, "o-", label=f"this run{', ' + division + ' division' if division else ''}")
        ax.plot(ranks, [per_rank[0]] * len(ranks), ":", color=line.get_color(), alpha=0.7)
        top, all_ranks = max(top, *per_rank), all_ranks + ranks
    ax.set_ylim(0, top * 1.15)
    atoms_per_rank = md[0]["atoms"] // md[0]["ranks"]
    return finish_figure(fig, ax, "MPI ranks (one GPU each on GPU sites)", "Katom-step/s per rank",
                         f"Weak scaling, {atoms_per_rank:,} atoms per rank (dotted: ideal, flat)", caption, log=False,
                         rank_ticks=all_ranks)


def step_cost_figure(rows: list, caption=""):
    """Milliseconds per MD step vs atoms (throughput sweep), one line per rank count, with the fitted
    floor + slope * atoms; the seed's A100 step time for comparison."""
    import numpy as np

    md = ok_md_rows(rows, "throughput")
    fits = step_cost_fits(rows)
    if not fits:
        return None
    fig, ax = new_figure()
    for key, fit in fits.items():
        points = sorted((r["atoms"], r["atoms"] / r["katom_step_s"]) for r in md
                        if series_key(r) == key)  # atoms / (Katom-step/s) = ms per step
        line, = ax.plot(*zip(*points), "o", label=_series_label(key))
        grid = np.geomspace(points[0][0], points[-1][0], 50)
        ax.plot(grid, fit["floor_ms"] + fit["us_per_katom"] * grid / 1e6, "-", color=line.get_color(), alpha=0.7,
                label=f"fit: {fit['floor_ms']:.3g} ms + {fit['us_per_katom'] / 1000:.3g} µs per atom")
    seed = seed_reference()["gpu"]
    ax.plot([a for a, _ in seed], [a / k for a, k in seed], "k--", alpha=0.4, label="seed: Chicoma 1xA100")
    ax.margins(x=0.05)
    return finish_figure(fig, ax, "atoms", "ms per MD step (timed stage)",
                         "Step cost vs system size (fit: per-step floor + per-atom slope)", caption, log=True)
