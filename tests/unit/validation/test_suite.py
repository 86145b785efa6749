"""The whole suite through its CLI (python -m mlmd_parsl.validate), and the CLI's bad input."""
import json
import subprocess
import sys

import pytest

from mlmd_parsl.science.validation.checks import PHYSICS_CHECKS
from tests.conftest import child_env

pytestmark = pytest.mark.mpi


@pytest.mark.long(reason=(
    'the whole suite through python -m mlmd_parsl.validate, about 1.5 minutes; '
    "the campaign's validation runs the same suite and report"
))
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
    text = (tmp_path / "validation.md").read_text()
    assert "## Forces: engine vs hippynn's own periodic graph" in text
    assert ("**Physics: UNPHYSICAL" if any(report["flags"][k] == "fail" for k in PHYSICS_CHECKS)
            else "**Physics: physical") in text
    nve = next(line for line in text.splitlines() if line.startswith("| nve_check |"))
    assert "meV/atom/ps" in nve and "within ±1 meV/atom/ps" in nve and nve.count("|") == 5  # a 4-column row
    assert "| wall_check |" in text and ">= 2 eV |" in text
    assert report["flags"]["force_check"] == "pass" and report["flags"]["rank_invariance"] == "pass"
    assert report["md_5fs"]["steps"] == 100 and report["flags"]["wall_check"] in ("pass", "fail")


def test_validate_cli_rejects_a_5fs_run_of_a_bad_length(trained_model, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mlmd_parsl.validate", "--model", str(trained_model["model"]), "--box",
         str(trained_model["box"]), "--md-5fs-steps", "55"], env=child_env(), capture_output=True, text=True,
        timeout=300)
    assert result.returncode == 2 and "--md-5fs-steps 55 must be a multiple of 10" in result.stderr
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
