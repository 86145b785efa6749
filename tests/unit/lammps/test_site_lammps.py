"""How the site's LAMMPS is launched and how its failures are quoted (no LAMMPS needed)."""
import os
import subprocess
from pathlib import Path

import torch

from mlmd_parsl.science.lammps.site_lammps import (embedded_python_path, quote_failure, site_lmp_environment,
                                             site_lmp_shell_exports)

LOGS = Path(__file__).resolve().parents[2] / "fixtures" / "logs"


def test_the_weights_only_failure_is_quoted_by_its_exception_and_lammps_error_line():
    # the output of a LAMMPS 19 Nov 2024 lmp loading hippynn_lammps_model.pt with torch 2.13
    reason = quote_failure((LOGS / "mliap_weights_only_failure.txt").read_text())
    assert reason.startswith("_pickle.UnpicklingError: Weights only load failed")
    assert "ERROR: Running mliappy unified module failure" in reason
    assert "Traceback" not in reason and len(reason) < 1300


def test_a_missing_module_inside_lmp_is_quoted_with_what_the_embedded_python_needs():
    reason = quote_failure((LOGS / "mliap_no_lammps_module.txt").read_text())
    assert "ModuleNotFoundError: No module named 'lammps'" in reason
    assert "ERROR: Loading mliappy unified module failure" in reason
    assert "same Python version as the venv" in reason


def test_output_without_an_error_line_is_quoted_by_its_tail():
    assert quote_failure("a\nb\nsegmentation fault\n") == "a | b | segmentation fault"


def test_the_embedded_python_path_has_this_package_and_the_venvs_torch():
    folders = embedded_python_path().split(os.pathsep)
    assert (Path(folders[0]) / "mlmd_parsl" / "science" / "lammps" / "site_lammps.py").is_file()
    assert str(Path(torch.__file__).resolve().parents[1]) in [str(Path(f).resolve()) for f in folders]


def test_the_environment_keeps_an_inherited_pythonpath_after_ours_and_sets_the_load_override():
    env = site_lmp_environment({"PYTHONPATH": "/site/extra"})
    assert env["PYTHONPATH"] == embedded_python_path() + os.pathsep + "/site/extra"
    assert env["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] == "1"


def test_hippynns_kernels_are_the_seeds_unless_set():
    """numba (a dependency) would make hippynn's default pick its numba kernels inside the site's lmp."""
    assert site_lmp_environment({})["HIPPYNN_USE_CUSTOM_KERNELS"] == "pytorch"
    assert site_lmp_environment({"HIPPYNN_USE_CUSTOM_KERNELS": "numba"})["HIPPYNN_USE_CUSTOM_KERNELS"] == "numba"


def test_the_shell_export_computes_the_same_path_on_the_worker(tmp_path):
    import sys

    script = f'{site_lmp_shell_exports(sys.executable)} && echo "$PYTHONPATH|$TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"'
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": "/site/extra"}
    out = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert out == embedded_python_path() + os.pathsep + "/site/extra|1"
