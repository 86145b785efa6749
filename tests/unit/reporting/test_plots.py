"""The scaling and step-cost plots: drawn only with the points for them, outside pyplot."""
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
