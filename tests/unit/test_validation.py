"""The physics validation suite, run for real on a model trained here (CPU, float32 engine)."""
import json
import subprocess
import sys

import numpy as np
import pytest

from mlmd_parsl.science.validation import (
    ValidationSpec, check_forces, check_nve_drift, check_pressure, check_rank_invariance, compare_with_eam_oracle,
    validity_flags,
)
from tests.conftest import child_env

pytestmark = pytest.mark.mpi


def test_engine_forces_equal_an_independent_evaluation_on_every_box(trained_model, tmp_path):
    result = check_forces(trained_model["model"], trained_model["box"], tmp_path)
    assert [c["box"] for c in result["cases"]] == [
        "unit_cell_71", "replica_2x2x1", "noncubic_1x2x3", "strained_3pct", "five_vacancies"]
    assert [c["atoms"] for c in result["cases"]] == [71, 284, 426, 284, 268]
    for case in result["cases"]:
        assert case["max_force_ev_per_a"] > 0.1, case  # a real force field, not zeros
        assert case["relative_error"] <= 1e-5, case
        assert case["pe_lammps_ev"] == pytest.approx(case["energy_model_ev"], rel=1e-6)
    assert result["ok"]


def test_virial_pressure_equals_the_finite_difference_of_the_energy(trained_model, tmp_path):
    result = check_pressure(trained_model["model"], trained_model["box"], tmp_path)
    for name, component in result["components"].items():
        assert abs(component["finite_difference_bar"]) > 10.0, name  # not a trivially zero stress
        assert component["lammps_bar"] == pytest.approx(component["finite_difference_bar"], rel=1e-3, abs=1.0)
    assert result["press_lammps_bar"] == pytest.approx(result["press_finite_difference_bar"], rel=1e-3, abs=1.0)
    assert result["ok"]


def test_one_two_and_three_ranks_follow_the_same_trajectory(trained_model, tmp_path):
    spec = ValidationSpec(rank_counts=(1, 2, 3), trajectory_steps=100)
    result = check_rank_invariance(trained_model["model"], trained_model["box"], tmp_path, spec)
    for ranks in ("2", "3"):
        assert result["deviations"]["float64"][ranks]["max_position_difference_a"] <= 1e-6
        assert result["deviations"]["float32"][ranks]["max_position_difference_a"] <= 1e-4  # documented drift
    assert result["ok"]


def test_nve_conserves_energy_over_one_picosecond(trained_model, tmp_path):
    result = check_nve_drift(trained_model["model"], trained_model["box"], tmp_path, ValidationSpec(nve_steps=1000))
    assert result["duration_ps"] >= 0.99 and result["atoms"] == 284
    assert 500 < result["mean_temperature_k"] < 1500  # it really moved
    assert abs(result["drift_mev_per_atom_ps"]) <= 1.0
    assert result["ok"]


def test_oracle_comparison_reports_model_and_eam_side_by_side(trained_model, tmp_path):
    spec = ValidationSpec(oracle_equilibration_steps=50, oracle_steps=100)
    result = compare_with_eam_oracle(trained_model["model"], trained_model["box"], tmp_path, spec)
    eam = result["eam"]
    assert 2.75 < eam["rdf_first_peak_a"] < 3.0  # fcc Ag nearest neighbours (a = 4.16: 2.94 A)
    assert -2.85 < eam["pe_per_atom_ev"] < -2.5 and 800 < eam["mean_temperature_k"] < 1400
    assert set(result["model"]) == set(eam)
    assert len(result["rdf"]["r"]) == len(result["rdf"]["g_model"]) == len(result["rdf"]["g_eam"]) == 80
    assert result["ok"] == (abs(result["pe_difference_mev_per_atom"]) <= 20 and abs(result["rdf_first_peak_shift_a"]) <= 0.1)
    flags = validity_flags({"oracle": result})
    assert flags["oracle_check"] in ("pass", "fail") and flags["force_check"] == ""


def test_validate_cli_writes_the_report_and_exits_by_its_flags(trained_model, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mlmd_parsl.validate", "--model", str(trained_model["model"]), "--box",
         str(trained_model["box"]), "--out", str(tmp_path), "--trajectory-steps", "10", "--nve-steps", "50"],
        env=child_env(), capture_output=True, text=True, timeout=900,
    )
    report = json.loads((tmp_path / "validation.json").read_text())
    failed = [k for k, v in report["flags"].items() if v == "fail"]
    assert result.returncode == (1 if failed else 0), result.stderr[-2000:]
    assert "## Forces: engine vs independent evaluation" in (tmp_path / "validation.md").read_text()
    assert report["flags"]["force_check"] == "pass" and report["flags"]["rank_invariance"] == "pass"


def test_validate_cli_rejects_a_file_that_is_not_a_model(tmp_path):
    bogus = tmp_path / "m.pt"
    bogus.write_text("not a model")
    result = subprocess.run([sys.executable, "-m", "mlmd_parsl.validate", "--model", str(bogus), "--box", "x.data"],
                            env=child_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "cannot be loaded by torch" in result.stderr and "Traceback" not in result.stderr
