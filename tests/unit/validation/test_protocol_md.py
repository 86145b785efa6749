"""MD at the protocol's 5 fs step beside the EAM oracle, and the closest-approach measure it relies on."""
import numpy as np
import pytest

from mlmd_parsl.science.validation.protocol_md import (check_protocol_md, closest_approach, closest_approach_series,
                                                       first_time_below)
from mlmd_parsl.science.validation.spec import ValidationSpec
from mlmd_parsl.science.validation.verdict import validity_flags


def test_protocol_md_runs_at_5_fs_beside_the_eam_oracle(trained_model, tmp_path):
    spec = ValidationSpec(oracle_equilibration_steps=50, oracle_steps=100, md_5fs_replicate=(2, 2, 2))
    md_5fs, result = check_protocol_md(trained_model["model"], trained_model["box"], tmp_path, spec,
                                       oracle="ag_u3_short")
    assert md_5fs["timestep_fs"] == result["timestep_fs"] == 5.0 and md_5fs["duration_ps"] == 0.5
    assert md_5fs["atoms"] == 568  # the spec's box (the default: 2,272 atoms)
    assert "replicate 2 2 2" in (tmp_path / "oracle_eam.in").read_text()
    assert "timestep 0.005" in (deck := (tmp_path / "oracle_eam.in").read_text())
    assert f"pair_coeff * * {tmp_path / 'Ag_u3_short.eam'}" in deck and result["oracle"] == "ag_u3_short"
    eam = result["eam"]
    assert 2.75 < eam["rdf_first_peak_a"] < 3.0  # fcc Ag nearest neighbours (a = 4.16: 2.94 A)
    assert -2.85 < eam["pe_per_atom_ev"] < -2.5 and 800 < eam["mean_temperature_k"] < 1400
    assert 2.0 < eam["closest_approach_a"] < 2.8  # EAM's repulsive wall at 1111 K, sampled every 50 steps
    assert set(result["model"]) == set(eam)
    assert md_5fs["closest_approach_a"] == result["model"]["closest_approach_a"] > 0
    assert md_5fs["ok"] == (md_5fs["closest_approach_a"] >= 2.0 and abs(md_5fs["mean_temperature_k"] - 1111) <= 50)
    assert len(result["rdf"]["r"]) == len(result["rdf"]["g_model"]) == len(result["rdf"]["g_eam"]) == 80
    assert result["ok"] == (abs(result["pe_difference_mev_per_atom"]) <= 20
                            and abs(result["rdf_first_peak_shift_a"]) <= 0.1)
    flags = validity_flags({"oracle": result, "md_5fs": md_5fs})
    assert flags["oracle_check"] in ("pass", "fail") and flags["force_check"] == ""
    assert float(flags["closest_approach_a"]) == pytest.approx(md_5fs["closest_approach_a"], abs=1e-3)


def test_closest_approach_sees_two_atoms_fused_across_the_periodic_boundary(tmp_path):
    def snapshot(step, positions):
        return ["ITEM: TIMESTEP", str(step), "ITEM: NUMBER OF ATOMS", str(len(positions)),
                "ITEM: BOX BOUNDS pp pp pp", "-1 9", "0 10", "0 10", "ITEM: ATOMS id x y z",
                *[f"{i + 1} {x} {y} {z}" for i, (x, y, z) in enumerate(positions)]]

    apart = [(0.0, 5.0, 5.0), (4.0, 5.0, 5.0), (2.0, 1.0, 1.0)]
    fused = [(-0.98, 5.0, 5.0), (8.99, 5.03, 5.0), (4.0, 5.0, 5.0)]  # 0.03 + 0.03 across x = -1 / 9
    dump = tmp_path / "positions.dump"
    dump.write_text("\n".join(snapshot(0, apart) + snapshot(50, fused)) + "\n")
    assert closest_approach(dump) == pytest.approx(np.hypot(0.03, 0.03), abs=1e-9)
    assert closest_approach_series(dump) == [(0, pytest.approx(4.0, abs=1e-9)),
                                             (50, pytest.approx(np.hypot(0.03, 0.03), abs=1e-9))]
    dump.write_text("\n".join(snapshot(0, apart)) + "\n")
    assert closest_approach(dump) == pytest.approx(4.0, abs=1e-9)


def test_the_time_to_fuse_counts_on_across_the_step_count_the_rdf_average_restarts():
    """The check's dump: equilibration steps 0..400, then the timed stage's count from 0 again."""
    series = [(0, 2.5), (200, 2.4), (400, 2.3), (0, 2.3), (200, 2.2), (400, 1.1), (600, 0.2)]
    assert first_time_below(series, 2.0, 5.0) == pytest.approx(4.0)  # step 400 + 400 at 5 fs
    assert first_time_below(series[:3], 2.0, 5.0) is None
    assert first_time_below([(0, 1.5)], 2.0, 1.0) == 0.0
