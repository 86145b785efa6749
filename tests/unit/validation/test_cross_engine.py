"""The cross-engine check without a site LAMMPS that runs: a failed check with its reason, the rest kept."""
from mlmd_parsl.science.validation.cross_engine import SiteEngine, check_cross_engine
from mlmd_parsl.science.validation.markdown import render_markdown
from mlmd_parsl.science.validation.spec import ValidationSpec
from mlmd_parsl.science.validation.verdict import validity_flags
from tests.conftest import FIXTURES


def test_a_site_lammps_that_fails_in_the_cross_engine_check_is_a_failed_check_with_its_reason(tmp_path):
    broken = tmp_path / "lmp"
    broken.write_text("#!/bin/sh\necho 'ERROR: Unrecognized pair style mliap (src/force.cpp:275)'\nexit 1\n")
    broken.chmod(0o755)
    result = check_cross_engine(SiteEngine(str(broken), "hippynn_lammps_model.pt"), "unused.pt",
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
