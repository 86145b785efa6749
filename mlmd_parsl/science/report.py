"""Plots: MD throughput (Katom-step/s) vs atoms, one line per rank count, with the seed's numbers."""
import csv
from importlib import resources

SEED_GPU_LABEL = "seed: Chicoma 1xA100 (ML-IAP Kokkos)"


def seed_reference():
    """The seed's published numbers: {'gpu': [(atoms, katom_step_s)], 'cpu_4544': [(ranks, ...)], 'cpu_18176': ...}."""
    base = resources.files("mlmd_parsl") / "reference"

    def read(name, cast=float):
        with (base / name).open() as handle:
            rows = list(csv.reader(handle))[1:]
        return [(cast(r[0]), float(r[1])) for r in rows if r]

    return {
        "gpu": read("seed_gpu.csv", int),
        "cpu_4544": read("seed_cpu_4k.csv", int),
        "cpu_18176": read("seed_cpu_18k.csv", int),
    }


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
