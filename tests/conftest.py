import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

# hippynn picks its envsum kernels when first imported: numba's where it is installed (a dependency since issue 41),
# whose float64 sums differ from torch's by ~4e-10 relative. The tests compare our networks with hippynn's torch
# arithmetic, the kernels the seed's MD scripts use (HIPPYNN_USE_CUSTOM_KERNELS=pytorch); a training names its own.
os.environ.setdefault("HIPPYNN_USE_CUSTOM_KERNELS", "pytorch")

from mlmd_parsl.science.validation.reference import read_force_dump  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
BIN = Path(sys.executable).parent


def child_env(**extra):
    """Environment for child processes: the venv's bin first, quiet hippynn, one thread per rank."""
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("HIPPYNN_USE_CUSTOM_KERNELS", "pytorch")
    env.setdefault("OMP_NUM_THREADS", "1")
    env["PYTHONWARNINGS"] = "ignore"
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_cli(args, cwd=None, timeout=900, **env):
    """`python -m ARGS`, its output captured. On a timeout its whole process group is killed, not only the driver:
    Parsl's interchanges and workers (and their MD) left running would slow every later test of the session."""
    process = subprocess.Popen([sys.executable, "-m", *args], cwd=cwd or REPO, env=child_env(**env), text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        raise subprocess.TimeoutExpired(process.args, timeout, stdout, stderr) from None
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


LONG_TESTS = "MLMD_LONG_TESTS"


def pytest_addoption(parser):
    parser.addoption("--long", action="store_true",
                     help=f"also run the tests marked long (or set {LONG_TESTS}=1): many more minutes on 2 cores")


def pytest_collection_modifyitems(config, items):
    """Tests marked `long` repeat, at a larger or slower scale, what a shorter test in the default run covers; the
    default run (CI's) skips them, saying so."""
    if config.getoption("--long") or os.environ.get(LONG_TESTS) == "1":
        return
    for item in items:
        marker = item.get_closest_marker("long")
        if marker is not None:
            why = marker.kwargs.get("reason", "")
            item.add_marker(pytest.mark.skip(
                reason=f"long ({why}): run with pytest --long or {LONG_TESTS}=1 (docs/testing.md)"))


@pytest.fixture(scope="session")
def untrained_model(tmp_path_factory):
    """A seed-architecture model with its initial (random, seeded) weights, exported like a trained one."""
    import torch

    from mlmd_parsl.science.model.export import export_model
    from mlmd_parsl.science.model.network import SEED_NETWORK_PARAMS, build_seed_graph, graph_state

    out = tmp_path_factory.mktemp("untrained")
    torch.manual_seed(1234)
    graph = build_seed_graph()
    # Random weights give tiny forces; scale the last layers up so the check is not trivially small.
    with torch.no_grad():
        for p in graph.henergy.torch_module.parameters():
            p.mul_(50.0)
    state = out / "network_state.pt"
    torch.save({"network_params": SEED_NETWORK_PARAMS, "state": graph_state(graph)}, state)
    paths = export_model(state, FIXTURES / "ag_frame.xyz", out)
    return {"dir": out, "state": state, **paths}


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory):
    """A model trained (briefly, for real) on a small synthetic set and exported by the pipeline's own steps."""
    from mlmd_parsl.orchestration.tasks import export_for_lammps, prepare_dataset, train_model
    from mlmd_parsl.science.model.dataset import SyntheticSpec
    from mlmd_parsl.science.model.training import TrainingSpec
    from dataclasses import asdict

    out = tmp_path_factory.mktemp("trained")
    spec = SyntheticSpec(frames=80, seed=3, temperatures_k=(800.0, 1111.0, 1400.0), steps_between_frames=20,
                         equilibration_steps=100)
    dataset = prepare_dataset({"path": None, "synthetic": asdict(spec)}, str(out / "cache"))
    summary = train_model(dataset, str(out / "train"), asdict(TrainingSpec(max_epochs=15)), "pytorch")
    exported = export_for_lammps(summary, str(out / "train"), "cpu")
    return {"dir": out / "train", "summary": summary, "state": out / "train" / "network_state.pt", **asdict(exported)}


@pytest.fixture(scope="session")
def mpiexec():
    path = shutil.which("mpiexec", path=str(BIN)) or shutil.which("mpiexec")
    if path is None:
        pytest.skip("no mpiexec: install lammps[mpi] (brings MPICH)")
    return path


def standalone(model, box, out_dir, ranks, mpiexec, replicate=(2, 2, 1), steps=0, extra=()):
    dump = out_dir / f"forces_{ranks}.dump"
    from mlmd_parsl.science.embedded.options import md_argv

    cmd = md_argv(model, box, replicate, out_dir / f"log_{ranks}.lammps", steps=steps, dump_forces=dump) + list(extra)
    if ranks > 1:
        cmd = [mpiexec, "-n", str(ranks)] + cmd
    result = subprocess.run(cmd, env=child_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    return read_force_dump(dump)


SHARED_MLIAP_LMP = REPO.parent / "shared" / "lammps-mliap" / "bin" / "lmp"


@pytest.fixture(scope="session")
def site_lmp():
    """A LAMMPS that runs the seed's engine (pair_style mliap unified): $MLMD_MLIAP_LMP, else the one shared
    beside this clone (../shared/lammps-mliap). Gated on what its `lmp -h` reports."""
    from mlmd_parsl.errors import LammpsBuildError
    from mlmd_parsl.science.lammps.build import inspect_build

    candidate = os.environ.get("MLMD_MLIAP_LMP") or str(SHARED_MLIAP_LMP)
    if not Path(candidate).is_file():
        pytest.skip(f"no LAMMPS with ML-IAP's Python coupling: {candidate} does not exist (set MLMD_MLIAP_LMP)")
    try:
        return inspect_build("mliap", candidate).executable
    except LammpsBuildError as exc:
        pytest.skip(f"{candidate} cannot run pair_style mliap unified: {exc}")


@pytest.fixture(scope="session")
def kokkos_lmp():
    """The seed's GPU engine: a LAMMPS with KOKKOS (CUDA) and ML-IAP's Python coupling, named by
    $MLMD_KOKKOS_LMP (scripts/device_env.sh sets it on the lent H200 from ../shared/lammps-kokkos-cuda).
    Gated on a CUDA device and on what its `lmp -h` reports."""
    import torch

    from mlmd_parsl.errors import LammpsBuildError
    from mlmd_parsl.science.lammps.build import inspect_build

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device (none on this machine)")
    candidate = os.environ.get("MLMD_KOKKOS_LMP", "")
    if not candidate or not Path(candidate).is_file():
        pytest.skip("no KOKKOS (CUDA) LAMMPS with ML-IAP's Python coupling: set MLMD_KOKKOS_LMP "
                    f"({candidate or 'unset'}; on the lent H200 scripts/device_env.sh sets it)")
    try:
        return inspect_build("mliap", candidate, kokkos=True).executable
    except LammpsBuildError as exc:
        pytest.skip(f"{candidate} cannot run pair_style mliap unified through KOKKOS on GPUs: {exc}")
