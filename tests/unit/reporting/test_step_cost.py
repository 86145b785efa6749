"""The step-cost fit (floor + slope x atoms), its plot and its table in report.md."""
from mlmd_parsl.science.reporting.plots import plot_step_cost
from mlmd_parsl.science.reporting.report_md import write_report
from mlmd_parsl.science.reporting.step_cost import fit_step_cost, step_cost_fits
from tests.unit.reporting.md_rows import md


def test_step_cost_fit_recovers_floor_and_slope_and_the_report_states_them(tmp_path):
    # synthetic sweep made from a known cost: 8 ms per step + 0.25 us per atom (= 250 us per 1,000 atoms)
    sizes = [568, 2272, 18176, 85200]
    rows = [md(f"md_{n}", n, 1, n / (8.0 + 0.25e-3 * n)) for n in sizes]  # atoms / ms per step = Katom-step/s
    rows.append(md("md_z2_r2", 568, 2, 100.0))  # one size only on 2 ranks: no fit for it
    ((division, ranks), fit), = step_cost_fits(rows).items()
    assert (division, ranks) == ("seed", 1) and fit["points"] == 4 and fit["worst_misfit"] < 1e-9
    assert abs(fit["floor_ms"] - 8.0) < 1e-6 and abs(fit["us_per_katom"] - 250.0) < 1e-6
    assert abs(fit["limit_katom_step_s"] - 4000.0) < 1e-3
    assert fit_step_cost([(568, 10.0)]) is None
    plot = plot_step_cost(rows, tmp_path / "cost.png")
    assert (tmp_path / "cost.png").stat().st_size > 5_000
    text = write_report(rows, tmp_path, "T", plots={"Step cost vs atoms": plot}).read_text()
    assert "| seed | 1 | 4 | 8 | 250 | 4000 | 0% |" in text and "![Step cost vs atoms](cost.png)" in text


def test_the_seeds_work_and_ours_are_fitted_apart():
    rows = [md(f"md_{n}", n, 1, n / (8.0 + 0.25e-3 * n)) for n in (568, 2272)]
    rows += [md(f"md_{n}", n, 1, n / (2.0 + 0.05e-3 * n), division="ours") for n in (568, 2272)]
    fits = step_cost_fits(rows)
    assert list(fits) == [("seed", 1), ("ours", 1)]
    assert abs(fits[("seed", 1)]["floor_ms"] - 8.0) < 1e-6 and abs(fits[("ours", 1)]["floor_ms"] - 2.0) < 1e-6
