"""A real one-node Slurm on loopback: Parsl's MPIExecutor on our SlurmProvider runs MPI tasks with the
right number of ranks (srun without PMI2 would start N silent rank-0 singletons)."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mlmd_parsl.config import load_site_config
from tests.conftest import BIN, REPO

pytestmark = [pytest.mark.slow, pytest.mark.mpi, pytest.mark.slurm]


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    if shutil.which("slurmctld", path="/usr/sbin:/usr/bin") is None:
        pytest.skip("Slurm is not installed (scripts/local_slurm.sh install; .ci/run does it)")
    state = tmp_path_factory.mktemp("slurm")
    script = REPO / "scripts" / "local_slurm.sh"
    old = os.environ.get("SLURM_CONF")
    try:
        started = subprocess.run(["bash", str(script), "start", str(state)], capture_output=True, text=True, timeout=120)
        assert started.returncode == 0, started.stderr + _tail(state / "slurmctld.log") + _tail(state / "slurmd.log")
        os.environ["SLURM_CONF"] = str(state / "slurm.conf")
        yield state
    finally:
        subprocess.run(["bash", str(script), "stop", str(state)], timeout=60)
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old


def _tail(path):
    return path.read_text(errors="replace")[-1500:] if path.exists() else ""


def test_mpi_task_through_slurm_provider_sees_all_its_ranks(slurm_cluster, tmp_path):
    from parsl.config import Config
    from parsl.dataflow.dflow import DataFlowKernel

    from mlmd_parsl.orchestration.apps import make_apps
    from mlmd_parsl.orchestration.campaign import mpi_resources
    from mlmd_parsl.orchestration.sites import slurm_parsl_config

    site = load_site_config("localslurm", [f"runs_dir={tmp_path}"])
    mpi_executor = next(e for e in slurm_parsl_config(site, tmp_path).executors if e.label == "mpi")
    os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ['PATH']}"  # the driver needs the venv's scripts
    dfk = DataFlowKernel(Config(executors=[mpi_executor], run_dir=str(tmp_path / "parsl"), strategy="none"))
    out = tmp_path / "ranks.out"
    try:
        future = make_apps(dfk).probe_mpi(2, stdout=str(out), stderr=str(tmp_path / "ranks.err"),
                                          parsl_resource_specification=mpi_resources(site, 2))
        assert future.result(timeout=300) == 0, (tmp_path / "ranks.err").read_text()
    finally:
        dfk.cleanup()
    lines = sorted(l for l in out.read_text().splitlines() if l.strip())
    assert lines == ["0 2", "1 2"]  # two ranks of one world, not two singletons
    script = next((tmp_path / "parsl").rglob("parsl.mpi.block-0*.submit"), None) or next(
        p for p in (tmp_path / "parsl").rglob("*") if p.is_file() and "#SBATCH" in p.read_text(errors="ignore"))
    assert "#SBATCH --exclusive" in Path(script).read_text()


def test_the_probe_catches_singletons_when_pmi_is_off(slurm_cluster, tmp_path):
    """With --mpi=none srun starts two unrelated rank-0 processes: the probe must fail, not pass."""
    from parsl.config import Config
    from parsl.dataflow.dflow import DataFlowKernel

    from mlmd_parsl.orchestration.apps import make_apps
    from mlmd_parsl.orchestration.campaign import mpi_resources
    from mlmd_parsl.orchestration.sites import slurm_parsl_config

    site = load_site_config("localslurm", [f"runs_dir={tmp_path}", "provider.launcher_options=--mpi=none"])
    mpi_executor = next(e for e in slurm_parsl_config(site, tmp_path).executors if e.label == "mpi")
    os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ['PATH']}"
    dfk = DataFlowKernel(Config(executors=[mpi_executor], run_dir=str(tmp_path / "parsl"), strategy="none"))
    out = tmp_path / "ranks.out"
    try:
        future = make_apps(dfk).probe_mpi(2, stdout=str(out), stderr=str(tmp_path / "ranks.err"),
                                          parsl_resource_specification=mpi_resources(site, 2))
        with pytest.raises(Exception, match="3"):
            future.result(timeout=300)
    finally:
        dfk.cleanup()
    assert sorted(l for l in out.read_text().splitlines() if l.strip()) == ["0 1", "0 1"]
