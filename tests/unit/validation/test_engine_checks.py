"""The engine against physics, run for real on a model trained here (CPU, float32 engine): forces vs
hippynn's periodic graph, virial vs finite difference, rank invariance, NVE."""
import pytest

from mlmd_parsl.science.validation.engine_checks import (check_forces, check_nve_drift, check_pressure,
                                                         check_rank_invariance)
from mlmd_parsl.science.validation.spec import ValidationSpec

pytestmark = pytest.mark.mpi


def test_engine_forces_equal_hippynns_periodic_graph_on_every_box(trained_model, tmp_path):
    result = check_forces(trained_model["model"], trained_model["box"], tmp_path)
    assert [c["box"] for c in result["cases"]] == [
        "unit_cell_71", "replica_2x2x1", "noncubic_1x2x3", "strained_3pct", "five_vacancies"]
    assert [c["atoms"] for c in result["cases"]] == [71, 284, 426, 284, 268]
    for box in result["cases"]:
        assert box["max_force_ev_per_a"] > 0.1, box  # a real force field, not zeros
        assert box["relative_error"] <= 1e-5, box
        assert box["pe_lammps_ev"] == pytest.approx(box["energy_model_ev"], rel=1e-6)
    assert result["ok"]


def test_the_force_check_catches_a_force_assembly_bug_of_the_engine(trained_model, tmp_path, monkeypatch):
    """The reference shares no code with the engine: pair forces assembled 0.1% too large must fail the check
    (a reference built on the engine's own assembly would make the same error and pass)."""
    from mlmd_parsl.science.embedded import model_steps

    assemble = model_steps.assemble
    monkeypatch.setattr(model_steps, "assemble",
                        lambda n, i, j, coord, pair_forces, energy:
                        assemble(n, i, j, coord, 1.001 * pair_forces, energy))
    result = check_forces(trained_model["model"], trained_model["box"], tmp_path)
    assert not result["ok"]
    assert all(9e-4 < box["relative_error"] < 1.1e-3 for box in result["cases"]), result["cases"]


def test_virial_pressure_equals_the_finite_difference_of_the_energy(trained_model, tmp_path):
    result = check_pressure(trained_model["model"], trained_model["box"], tmp_path)
    for name, component in result["components"].items():
        assert abs(component["finite_difference_bar"]) > 10.0, name  # not a trivially zero stress
        assert component["lammps_bar"] == pytest.approx(component["finite_difference_bar"], rel=1e-3, abs=1.0)
    assert result["press_lammps_bar"] == pytest.approx(result["press_finite_difference_bar"], rel=1e-3, abs=1.0)
    assert result["ok"]


@pytest.mark.long(reason=(
    'three rank counts, two precisions, 100 steps each, about 1.5 minutes; '
    "the campaign's validation and the embedded engine's two-rank test check 1 and 2 ranks"
))
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
