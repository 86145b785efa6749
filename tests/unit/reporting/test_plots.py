"""The plots: drawn only with the points for them, outside pyplot, and readable at a glance."""
import re

from mlmd_parsl.science.reporting.plots import plot_step_cost, plot_strong_scaling, plot_weak_scaling
from tests.unit.reporting.md_rows import md


def test_no_scaling_plot_without_the_points_for_one():
    assert plot_strong_scaling([md("md_z1_r1", 284, 1, 10.0)], "unused.png") == ""
    assert plot_weak_scaling([md("md_z1_r1", 284, 1, 10.0)], "unused.png") == ""


def test_drawing_a_plot_leaves_matplotlibs_backend_and_pyplot_alone(tmp_path):
    import matplotlib

    import matplotlib.pyplot as plt

    backend = matplotlib.get_backend()
    matplotlib.use("pdf")  # a caller's own choice, which drawing our plots must not switch
    try:
        rows = [md(f"md_{n}", n, 1, 100.0) for n in (568, 2272)]
        plot_step_cost(rows, tmp_path / "cost.png")
        assert (tmp_path / "cost.png").stat().st_size > 5_000
        assert matplotlib.get_backend() == "pdf"
        assert plt.get_fignums() == []  # no figure left open in a long-lived worker
    finally:
        matplotlib.use(backend)


def _labels(axis):
    axis.axes.figure.canvas.draw()
    return [t.get_text() for t in axis.get_majorticklabels() if t.get_text()]


LOCAL_ROWS = [{**md(f"md_z{z}_r{r}", 284 * z, r, 40.0 + 5 * z + 3 * r), "profile": "quick"}
              for z in (2, 4, 8) for r in (1, 2)]


def test_strong_scaling_has_integer_rank_ticks_plain_numbers_and_the_seeds_crossroads_curves():
    from mlmd_parsl.science.reporting.plots import strong_scaling_figure

    ax = strong_scaling_figure(LOCAL_ROWS, "site local, host vm").axes[0]
    ticks = _labels(ax.xaxis)
    assert ticks == ["1", "2", "8", "32", "56", "112"]  # ours and the seed's ranks; 88 would sit on 112
    assert all("10^" not in t and "times" not in t and "$" not in t for t in ticks + _labels(ax.yaxis))
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "seed: Crossroads, 4,544 atoms" in legend and "seed: Crossroads, 18,176 atoms" in legend
    assert sum(line.startswith("this run") for line in legend) == 3
    assert ax.get_title().endswith("\nsite local, host vm")


def test_throughput_names_the_seeds_crossroads_once_and_keeps_its_range_to_what_is_drawn():
    from mlmd_parsl.science.reporting.plots import throughput_figure

    ax = throughput_figure(LOCAL_ROWS, "cap").axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sum("Crossroads" in line for line in legend) == 1 and not ax.texts  # no per-point annotations
    low, high = ax.get_xlim()
    assert 400 < low < 568 and 18_176 < high < 25_000  # the seed's largest size, not three times it


def test_step_cost_legend_gives_microseconds_per_atom():
    from mlmd_parsl.science.reporting.plots import step_cost_figure

    ax = step_cost_figure(LOCAL_ROWS).axes[0]
    fits = [t.get_text() for t in ax.get_legend().get_texts() if t.get_text().startswith("fit:")]
    assert len(fits) == 2 and all(re.fullmatch(r"fit: [\d.]+ ms \+ [\d.]+ µs per atom", f) for f in fits)


def test_the_caption_says_site_data_profile_host_and_date():
    from mlmd_parsl.science.reporting.plots import plot_caption

    rows = [{"kind": "training", "dataset": "real"}] + LOCAL_ROWS
    assert (plot_caption(rows, "chicoma", {"host": "nid001", "date": "2026-12-03"})
            == "site chicoma, real data, profile quick, host nid001, 2026-12-03")
