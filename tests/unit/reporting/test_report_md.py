"""report.md: like-for-like seed ratios, regression flags against a baseline run, the plots embedded."""
import pytest

from mlmd_parsl.science.reporting.plots import plot_strong_scaling, plot_weak_scaling
from mlmd_parsl.science.reporting.report_md import compare, write_report
from tests.unit.reporting.md_rows import md


def test_gpu_case_is_compared_with_the_seed_a100_number_at_the_same_size():
    (gpu,) = compare([md("md_z2_r1", 568, 1, 266.876, device="cuda")])
    assert gpu["seed"] == 133.438 and abs(gpu["seed_ratio"] - 2.0) < 1e-9 and gpu["flags"] == ""


def test_cpu_case_is_compared_with_crossroads_at_the_same_atoms_and_ranks_only():
    slow, other_ranks = compare([md("md_z64_r32", 18176, 32, 344.5), md("md_z64_r2", 18176, 2, 30.0)])
    assert slow["seed"] == 689.0 and abs(slow["seed_ratio"] - 0.5) < 1e-9 and slow["flags"] == "below seed"
    assert other_ranks["seed"] is None and other_ranks["flags"] == ""  # no like-for-like seed number


def test_slower_than_baseline_beyond_tolerance_is_a_regression_and_training_time_runs_the_other_way():
    rows = [{"task": "train", "kind": "training", "status": "ok", "epoch_time_s": "2.0", "device": "cpu", "dataset": "real"},
            md("md_z1_r1", 284, 1, 8.0), md("md_z2_r1", 568, 1, 9.5), md("md_z4_r1", 1136, 1, 1.0, status="failed")]
    baseline = [{"task": "train", "kind": "training", "status": "ok", "epoch_time_s": "1.0"},
                md("md_z1_r1", 284, 1, 10.0), md("md_z2_r1", 568, 1, 10.0)]
    train, z1, z2, failed = compare(rows, baseline)
    assert abs(train["baseline_ratio"] - 0.5) < 1e-9 and "REGRESSION" in train["flags"]  # twice as slow per epoch
    assert abs(train["seed_ratio"] - 1.670 / 2.0) < 1e-9 and "below seed" in train["flags"]
    assert "REGRESSION" in z1["flags"] and "REGRESSION" not in z2["flags"]  # -20% vs -5% (within noise)
    assert failed["flags"] == "failed"


def test_report_lists_flagged_tasks_and_embeds_plots(tmp_path):
    rows = [md("md_z1_r1", 284, 1, 10.0), md("md_z1_r2", 284, 2, 15.0),
            md("weak_r1", 284, 1, 10.0, sweep="weak"), md("weak_r2", 568, 2, 18.0, sweep="weak")]
    plots = {"Strong scaling": plot_strong_scaling(rows, tmp_path / "strong.png"),
             "Weak scaling": plot_weak_scaling(rows, tmp_path / "weak.png")}
    assert (tmp_path / "strong.png").stat().st_size > 5_000 and (tmp_path / "weak.png").stat().st_size > 5_000
    text = write_report(rows, tmp_path, "T", [md("md_z1_r2", 284, 2, 30.0)], "earlier-run", plots).read_text()
    assert "**1 flagged** (regressions or failures): md_z1_r2" in text
    assert "baseline = earlier-run" in text and "![Weak scaling](weak.png)" in text


def test_training_on_another_dataset_is_not_compared_with_the_seed():
    (train,) = compare([{"task": "train", "kind": "training", "status": "ok", "epoch_time_s": "1.6", "device": "cpu",
                         "dataset": "synthetic"}])
    assert train["seed"] is None and train["seed_ratio"] is None and train["flags"] == ""


def test_only_hippynns_loop_on_the_real_dataset_is_compared_with_the_seeds_training_fom():
    row = {"task": "train", "kind": "training", "status": "ok", "epoch_time_s": "0.5", "device": "cpu", "dataset": "real"}
    (hippynn,) = compare([{**row, "trainer": "hippynn"}])
    (lean,) = compare([{**row, "trainer": "lean"}])
    assert hippynn["seed"] == 1.670 and hippynn["seed_ratio"] == pytest.approx(1.670 / 0.5)
    assert lean["seed"] is None and lean["seed_ratio"] is None
