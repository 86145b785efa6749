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


def test_only_seed_rows_of_the_seeds_work_are_set_beside_the_seeds_numbers():
    """ours never; a seed row with a deviation of its own (a quick profile, another box) neither; one whose only
    deviation today's software forces (the Kokkos line) is the seed's work, and is."""
    from mlmd_parsl.science.seed_procedure import FORCED

    forced = f"{FORCED}-pk kokkos newton on neigh half (LAMMPS since 2024 refuses the seed's 'neigh full newton on')"
    rows = [md("md_z2_r1", 568, 1, 266.876, device="cuda", deviations=forced),
            md("md_z2_r1", 568, 1, 266.876, device="cuda", division="ours"),
            md("md_z2_r1", 568, 1, 266.876, device="cuda", deviations="profile quick: the seed's stages in 130 steps"),
            md("md_z2_r1", 568, 1, 266.876, device="cuda", division="")]  # a run from before divisions
    seed, ours, quick, old = compare(rows)
    assert seed["seed"] == 133.438 and seed["seed_ratio"] == pytest.approx(2.0)
    for row in (ours, quick, old):
        assert row["seed"] is None and row["seed_ratio"] is None and "below seed" not in row["flags"]
    training = {"task": "train", "kind": "training", "status": "ok", "epoch_time_s": 0.5, "device": "cuda",
                "dataset": "real", "division": "seed", "deviations": ""}
    assert compare([training])[0]["seed"] == 0.2465
    assert compare([{**training, "deviations": "max_epochs 800 (the seed: 5000)"}])[0]["seed"] is None


def test_slower_than_baseline_beyond_tolerance_is_a_regression_and_training_time_runs_the_other_way():
    rows = [{"task": "train", "kind": "training", "status": "ok", "epoch_time_s": 2.0, "device": "cpu",
             "dataset": "real",
             "division": "seed"},
            md("md_z1_r1", 284, 1, 8.0), md("md_z2_r1", 568, 1, 9.5), md("md_z4_r1", 1136, 1, 1.0, status="failed")]
    baseline = [{"task": "train", "kind": "training", "status": "ok", "epoch_time_s": 1.0, "device": "cpu",
                 "dataset": "real", "division": "seed"},
                md("md_z1_r1", 284, 1, 10.0), md("md_z2_r1", 568, 1, 10.0)]
    train, z1, z2, failed = compare(rows, {"earlier": baseline})
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
    text = write_report(rows, tmp_path, "T", {"earlier-run": [md("md_z1_r2", 284, 2, 30.0)]}, plots=plots).read_text()
    assert "**1 flagged** (regressions or failures): seed/md_z1_r2" in text
    assert "comparable rows of: earlier-run" in text and "![Weak scaling](weak.png)" in text


def test_training_on_another_dataset_is_not_compared_with_the_seed():
    (train,) = compare([{"task": "train", "kind": "training", "status": "ok", "epoch_time_s": 1.6, "device": "cpu",
                         "dataset": "synthetic", "division": "seed",
                         "deviations": "synthetic data (the seed: Ag_warm_nospin.xyz)"}])
    assert train["seed"] is None and train["seed_ratio"] is None and train["flags"] == ""


def test_only_the_seed_divisions_training_on_the_real_dataset_is_compared_with_the_seeds_training_fom():
    row = {"task": "train", "kind": "training", "status": "ok", "epoch_time_s": 0.5, "device": "cpu", "dataset": "real"}
    (seed,) = compare([{**row, "trainer": "hippynn", "division": "seed"}])
    (lean,) = compare([{**row, "trainer": "lean", "division": "ours", "deviations": "trainer lean"}])
    assert seed["seed"] == 1.670 and seed["seed_ratio"] == pytest.approx(1.670 / 0.5)
    assert lean["seed"] is None and lean["seed_ratio"] is None


def test_a_run_that_differs_in_what_changes_the_figure_gives_no_ratio_and_no_flag():
    now = {**md("md_z2_r1", 568, 1, 50.0), "profile": "ats5", "timed_steps": 10000, "engine": "embedded",
           "dtype": "float32", "threads": 2}
    train = {"task": "train", "kind": "training", "status": "ok", "epoch_time_s": 2.0, "device": "cpu",
             "dataset": "real", "trainer": "hippynn", "epochs": 800, "threads": 2, "dataset_sha256": "abc"}
    differing = {"profile": "quick", "timed_steps": 60, "engine": "mliap", "device": "cuda", "dtype": "float64",
                 "threads": 1, "atoms": "1136", "ranks": "2"}
    for key, value in differing.items():
        (row,) = compare([now], {"quick run": [{**now, key: value, "katom_step_s": 100.0}]})
        assert row["baseline"] is None and row["baseline_ratio"] is None and "REGRESSION" not in row["flags"], key
    for key, value in {"dataset": "synthetic", "trainer": "lean", "epochs": 150, "dataset_sha256": "def"}.items():
        (row,) = compare([train], {"other": [{**train, key: value, "epoch_time_s": 1.0}]})
        assert row["baseline"] is None and "REGRESSION" not in row["flags"], key
    (row,) = compare([now], {"same": [{**now, "katom_step_s": 100.0}]})  # the same measurement: flagged
    assert row["baseline_ratio"] == 0.5 and "REGRESSION" in row["flags"]
    (row,) = compare([train], {"old": [{**train, "dataset_sha256": "", "epoch_time_s": 1.0}]})
    assert row["baseline"] is None  # a row of a run made before the column existed matches nothing


def test_a_regression_must_exceed_the_spread_of_the_baseline_runs_and_the_tolerance_is_a_setting():
    now = md("md_z2_r1", 568, 1, 80.0)
    runs = {f"run{i}": [md("md_z2_r1", 568, 1, v)] for i, v in enumerate((70.0, 100.0, 130.0))}
    (row,) = compare([now], runs)
    assert row["baseline"] == 100.0 and row["baseline_spread"] == 60.0 and row["baseline_runs"] == 3
    assert "REGRESSION" not in row["flags"]  # 20% slower than the median, but within what the runs spread over
    steady = {f"run{i}": [md("md_z2_r1", 568, 1, v)] for i, v in enumerate((99.0, 100.0, 101.0))}
    assert "REGRESSION" in compare([now], steady)[0]["flags"]
    assert "REGRESSION" not in compare([now], steady, tolerance=0.25)[0]["flags"]


def test_report_says_what_was_measured_the_verdicts_and_an_off_temperature(tmp_path):
    train = {"task": "train", "kind": "training", "status": "ok", "epoch_time_s": 0.25, "device": "cpu",
             "dataset": "synthetic", "trainer": "lean", "epochs": 800, "threads": 2, "test_epa_mae_mev": 2.24,
             "test_force_mae_mev_per_a": 44.4, "physics": "physical", "accuracy_gate": "fail", "wall_check": "pass"}
    case = {**md("md_z2_r1", 568, 1, 100.0), "profile": "quick", "timed_steps": 60, "timesteps_per_s": 180,
            "engine": "embedded", "dtype": "float32", "run_temperature_k": 925.0, "physics": "physical",
            "accuracy_gate": "fail", "wall_check": "pass"}
    text = write_report([train, case], tmp_path, "T", context={"run": "local-1", "commit": "a" * 40, "dirty": True,
                                                              "host": "h"}).read_text()
    assert "commit aaaaaaaaaaaa with uncommitted changes" in text
    assert "**Physics: physical: the model passed every physics check that ran (wall_check; not run: " in text
    assert ("**Accuracy gate (the seed's: test EpA-MAE < 0.7 meV/atom and Force MAE < 25 meV/Å): not reached: "
            "energy 2.24 meV/atom is 3.2x its limit; force 44.4 meV/Å is 1.8x its limit") in text
    assert "the timed stage is 60 steps at 5 fs" in text and "0.33 to 0.33 s per case" in text
    assert "lean trainer, 800 epochs, on cpu with 2 torch thread(s)" in text
    assert "925 to 925 K against the protocol's 1111 K: **17% off the protocol's temperature**" in text
