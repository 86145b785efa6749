"""The physics validation suite, run for real on a model trained here (CPU, float32 engine)."""
import json
import subprocess
import sys

import numpy as np
import pytest

from mlmd_parsl.science.validation import (
    WALL_DISTANCES_A, ValidationSpec, check_forces, check_nve_drift, check_pressure, check_protocol_md,
    check_rank_invariance, check_repulsive_wall, closest_approach, physics_verdict, validity_flags,
)
from tests.conftest import FIXTURES, child_env

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
    from mlmd_parsl.science import model_steps

    assemble = model_steps.assemble
    monkeypatch.setattr(model_steps, "assemble",
                        lambda n, i, j, coord, pair_forces, energy: assemble(n, i, j, coord, 1.001 * pair_forces, energy))
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


def test_protocol_md_runs_at_5_fs_beside_the_eam_oracle(trained_model, tmp_path):
    spec = ValidationSpec(oracle_equilibration_steps=50, oracle_steps=100)
    md_5fs, result = check_protocol_md(trained_model["model"], trained_model["box"], tmp_path, spec, with_oracle=True)
    assert md_5fs["timestep_fs"] == result["timestep_fs"] == 5.0 and md_5fs["duration_ps"] == 0.5
    assert md_5fs["atoms"] == 568  # the seed's smallest size
    assert "timestep 0.005" in (tmp_path / "oracle_eam.in").read_text()
    eam = result["eam"]
    assert 2.75 < eam["rdf_first_peak_a"] < 3.0  # fcc Ag nearest neighbours (a = 4.16: 2.94 A)
    assert -2.85 < eam["pe_per_atom_ev"] < -2.5 and 800 < eam["mean_temperature_k"] < 1400
    assert 2.0 < eam["closest_approach_a"] < 2.8  # EAM's repulsive wall at 1111 K, sampled every 50 steps
    assert set(result["model"]) == set(eam)
    assert md_5fs["closest_approach_a"] == result["model"]["closest_approach_a"] > 0
    assert md_5fs["ok"] == (md_5fs["closest_approach_a"] >= 2.0 and abs(md_5fs["mean_temperature_k"] - 1111) <= 50)
    assert len(result["rdf"]["r"]) == len(result["rdf"]["g_model"]) == len(result["rdf"]["g_eam"]) == 80
    assert result["ok"] == (abs(result["pe_difference_mev_per_atom"]) <= 20 and abs(result["rdf_first_peak_shift_a"]) <= 0.1)
    flags = validity_flags({"oracle": result, "md_5fs": md_5fs})
    assert flags["oracle_check"] in ("pass", "fail") and flags["force_check"] == ""
    assert float(flags["closest_approach_a"]) == pytest.approx(md_5fs["closest_approach_a"], abs=1e-3)


def test_repulsive_wall_follows_eam_and_names_the_barrier(trained_model):
    result = check_repulsive_wall(trained_model["model"], trained_model["box"], with_oracle=True)
    eam = dict(zip(WALL_DISTANCES_A, result["eam_rise_ev"]))
    assert eam[2.8] == 0 and 2.0 < eam[2.1] < 3.0 and eam[1.0] > 30  # EAM's wall keeps rising
    assert all(a < b for a, b in zip(result["eam_rise_ev"], result["eam_rise_ev"][1:]))
    assert result["barrier_ev"] == max(result["model_rise_ev"]) and result["model_rise_ev"][0] == 0
    assert result["barrier_at_a"] in WALL_DISTANCES_A
    assert result["ok"] == (result["barrier_ev"] >= 2.0)
    assert validity_flags({"wall": result})["wall_check"] == ("pass" if result["ok"] else "fail")


def test_closest_approach_sees_two_atoms_fused_across_the_periodic_boundary(tmp_path):
    def snapshot(step, positions):
        return [f"ITEM: TIMESTEP", str(step), "ITEM: NUMBER OF ATOMS", str(len(positions)),
                "ITEM: BOX BOUNDS pp pp pp", "-1 9", "0 10", "0 10", "ITEM: ATOMS id x y z",
                *[f"{i + 1} {x} {y} {z}" for i, (x, y, z) in enumerate(positions)]]

    apart = [(0.0, 5.0, 5.0), (4.0, 5.0, 5.0), (2.0, 1.0, 1.0)]
    fused = [(-0.98, 5.0, 5.0), (8.99, 5.03, 5.0), (4.0, 5.0, 5.0)]  # 0.03 + 0.03 across x = -1 / 9
    dump = tmp_path / "positions.dump"
    dump.write_text("\n".join(snapshot(0, apart) + snapshot(50, fused)) + "\n")
    assert closest_approach(dump) == pytest.approx(np.hypot(0.03, 0.03), abs=1e-9)
    dump.write_text("\n".join(snapshot(0, apart)) + "\n")
    assert closest_approach(dump) == pytest.approx(4.0, abs=1e-9)


def test_a_failed_physics_check_makes_the_model_unphysical():
    passing = {k: "pass" for k in ("force_check", "pressure_check", "rank_invariance", "nve_check", "wall_check",
                                   "md_5fs_check", "oracle_check")}
    assert physics_verdict({**passing, "accuracy_gate": "fail"}) == "physical"  # accuracy alone is not physics
    for check in passing:
        assert physics_verdict({**passing, check: "fail"}) == "unphysical", check
    assert physics_verdict({"accuracy_gate": "pass"}) == ""


def test_validate_cli_writes_the_report_and_exits_by_its_flags(trained_model, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mlmd_parsl.validate", "--model", str(trained_model["model"]), "--box",
         str(trained_model["box"]), "--out", str(tmp_path), "--trajectory-steps", "10", "--nve-steps", "50",
         "--md-5fs-steps", "100"],
        env=child_env(), capture_output=True, text=True, timeout=900,
    )
    report = json.loads((tmp_path / "validation.json").read_text())
    failed = [k for k, v in report["flags"].items() if v == "fail"]
    assert result.returncode == (1 if failed else 0), result.stderr[-2000:]
    assert "## Forces: engine vs hippynn's own periodic graph" in (tmp_path / "validation.md").read_text()
    assert report["flags"]["force_check"] == "pass" and report["flags"]["rank_invariance"] == "pass"
    assert report["md_5fs"]["steps"] == 100 and report["flags"]["wall_check"] in ("pass", "fail")


def test_validate_cli_rejects_a_5fs_run_of_a_bad_length(trained_model, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mlmd_parsl.validate", "--model", str(trained_model["model"]), "--box",
         str(trained_model["box"]), "--md-5fs-steps", "55"], env=child_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "--md-5fs-steps 55: a multiple of 10" in result.stderr
    assert "Traceback" not in result.stderr


def test_validate_cli_rejects_a_file_that_is_not_a_model(tmp_path):
    bogus = tmp_path / "m.pt"
    bogus.write_text("not a model")
    result = subprocess.run([sys.executable, "-m", "mlmd_parsl.validate", "--model", str(bogus), "--box", "x.data"],
                            env=child_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "cannot be loaded by torch" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("extra, message", [
    (["--site-model", "lean_lammps_model.pt"], "--site-model and --kokkos need --site-lmp"),
    (["--site-lmp", "/no/such/lmp"], "LAMMPS executable '/no/such/lmp' (from --site-lmp) not found"),
])
def test_validate_cli_rejects_a_cross_engine_request_it_cannot_run(untrained_model, extra, message):
    result = subprocess.run([sys.executable, "-m", "mlmd_parsl.validate", "--model", str(untrained_model["model"]),
                             "--box", str(untrained_model["box"]), *extra],
                            env=child_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_a_site_lammps_that_fails_in_the_cross_engine_check_is_a_failed_check_with_its_reason(tmp_path):
    from mlmd_parsl.science.validation import check_cross_engine, render_markdown, validity_flags

    broken = tmp_path / "lmp"
    broken.write_text("#!/bin/sh\necho 'ERROR: Unrecognized pair style mliap (src/force.cpp:275)'\nexit 1\n")
    broken.chmod(0o755)
    result = check_cross_engine({"lmp": str(broken), "model": "hippynn_lammps_model.pt"}, "unused.pt",
                                FIXTURES / "ag_box.data", tmp_path, ValidationSpec(rank_counts=(1,)))
    assert result["ok"] is False and result["cases"] == []
    assert "exited with code 1: ERROR: Unrecognized pair style mliap" in result["error"]
    assert validity_flags({"cross_engine": result})["cross_engine_check"] == "fail"
    report = {"model": "m", "forces": {"cases": []}, "pressure": {"components": {}},
              "rank_invariance": {"steps": 1, "ranks": [1], "deviations": {}}, "cross_engine": result,
              "nve": {"steps": 1, "duration_ps": 0.001, "atoms": 1, "dtype": "float32", "drift_mev_per_atom_ps": 0,
                      "fluctuation_mev_per_atom": 0, "mean_temperature_k": 0}}
    report["flags"] = validity_flags({"cross_engine": result})
    assert "**FAILED: the site's LAMMPS did not run:" in render_markdown(report)
