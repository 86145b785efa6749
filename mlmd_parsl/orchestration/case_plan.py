"""What each MD case runs: its threads and its exact bash command, planned once from the site and the case.

The campaign, the library's `submit_campaign`, the dry run and the campaign-vs-standalone benchmark all take a
case's command from `plan_case`, so what a dry run prints is what the run runs. The command needs only the
export's paths, which are known before the export exists (`planned_export`)."""
import shlex
from dataclasses import dataclass
from pathlib import Path

from ..config import SiteConfig
from ..science.choices import MDEngine
from ..science.engine.options import EngineOptions, md_argv
from ..science.model.export import BOX_FILE, LEAN_MODEL_FILE, MODEL_FILE, Export
from .cases import MDCase, threads_per_rank
from .rundir import train_dir


@dataclass(frozen=True)
class CasePlan:
    case: MDCase
    threads: int  # OpenMP/torch threads per rank
    command: str

    def content_key(self, exported: Export, custom_kernels: str, code: str) -> str:
        """The case's content key, once the export exists (it hashes the model file the case loads)."""
        return self.case.content_key(exported, custom_kernels, self.threads, self.command, code)


def plan_case(site: SiteConfig, case: MDCase) -> CasePlan:
    threads = threads_per_rank(site, case.ranks, case.packed)
    command = md_command(case, planned_export(case.run_dir), site.provider.task_python, site.md.custom_kernels,
                         threads)
    return CasePlan(case, threads, command)


def planned_export(run_dir) -> Export:
    """The files the export writes in the run's train folder (the lean export's too: a case loads it or not)."""
    trained = train_dir(run_dir)
    return Export(model=str(trained / MODEL_FILE), box=str(trained / BOX_FILE),
                  lean_model=str(trained / LEAN_MODEL_FILE))


def training_threads(site: SiteConfig) -> int:
    """The cores of the worker that trains: the whole node's on a CPU site (the seed's Crossroads FOM 1 used a
    whole node), one GPU's share on a GPU site. Never the MD cases' `--cpus-per-task`: that binds MD ranks."""
    p = site.provider
    return threads_per_rank(site, 1, packed=True) if p.gpus_per_node else p.cores_per_node


def launch_prefix(case: MDCase) -> str:
    """Parsl's MPIExecutor fills $PARSL_MPI_PREFIX (mpiexec/srun ...). A packed single-GPU case starts as an
    MPI singleton, with the PMI variables of the srun that started its worker removed (MPI would use them)."""
    if case.packed:
        return "env -u PMI_FD -u PMI_RANK -u PMI_SIZE -u PMI_JOBID -u PMIX_RANK -u PMIX_NAMESPACE "
    return "$PARSL_MPI_PREFIX "


# A rank's index on its node, from whichever launcher started it: srun, MPICH's Hydra, Open MPI
LOCAL_RANK = "${SLURM_LOCALID:-${MPI_LOCALRANKID:-${OMPI_COMM_WORLD_LOCAL_RANK:-0}}}"


def rank_command(case: MDCase, args: list) -> str:
    """What each rank runs: the program, or on GPUs the seed's binding first, each rank seeing only its
    node-local GPU (its weak-scaling script: `srun bash -c "export CUDA_VISIBLE_DEVICES=$SLURM_LOCALID; lmp ..."`)."""
    program = " ".join(shlex.quote(a) for a in args)
    if not case.binds_one_gpu_per_rank:
        return program
    return f"bash -c {shlex.quote(f'export CUDA_VISIBLE_DEVICES={LOCAL_RANK}; exec {program}')}"


def md_command(case: MDCase, exported: Export, python: str, custom_kernels: str, threads: int) -> str:
    """The bash command of one MD case (see launch_prefix for how it starts its ranks)."""
    if case.engine is MDEngine.MLIAP:
        return site_engine_command(case, threads, python, custom_kernels)
    args = md_argv(exported.model, exported.box, case.replicate, case.log,
                   EngineOptions(device=case.model_device, dtype=case.dtype), profile=case.profile, python=python)
    return (
        f"cd {shlex.quote(str(case.dir))} && "
        f"export OMP_NUM_THREADS={int(threads)} HIPPYNN_USE_CUSTOM_KERNELS={shlex.quote(custom_kernels)} "
        "PYTHONWARNINGS=ignore && "
        f"{launch_prefix(case)}{rank_command(case, args)}"
    )


def site_engine_command(case: MDCase, threads: int, python: str, custom_kernels: str) -> str:
    """The seed's way: the site's LAMMPS runs in.lammps (pair_style mliap unified) written by the campaign, with
    the seed's environment (its run scripts export HIPPYNN_USE_CUSTOM_KERNELS and HIPPYNN_WARN_LOW_DISTANCES) and
    what its embedded Python needs (science/lammps/site_lammps.py says why). On GPUs: `-k on g 1`, one GPU per
    rank, as the seed launches every case."""
    from ..science.lammps.kokkos_options import kokkos_gpu_args
    from ..science.lammps.site_lammps import site_lmp_shell_exports

    kokkos = kokkos_gpu_args(1, case.kokkos_package) if case.kokkos else []
    args = [case.lmp, *kokkos, "-in", "in.lammps", "-log", str(case.log)]
    return (
        f"cd {shlex.quote(str(case.dir))} && export OMP_NUM_THREADS={int(threads)} "
        f"HIPPYNN_USE_CUSTOM_KERNELS={shlex.quote(custom_kernels)} HIPPYNN_WARN_LOW_DISTANCES=False "
        f"PYTHONWARNINGS=ignore && {site_lmp_shell_exports(python)} && "
        f"{launch_prefix(case)}{rank_command(case, args)}"
    )


def site_engine_probe_command(probe_dir: str, lmp: str, kokkos_package: tuple, python: str) -> str:
    """Preflight by doing: one rank of the site's LAMMPS evaluates the exported model once (run 0), launched the
    way MD cases are (on one GPU through KOKKOS with `-pk kokkos <kokkos_package>` when that is given), so
    whatever stops it (model load, imports, packages, Kokkos options, MPI) stops it here, in seconds."""
    from ..science.lammps.kokkos_options import kokkos_gpu_args
    from ..science.lammps.site_lammps import site_lmp_shell_exports

    args = [lmp, *(kokkos_gpu_args(1, kokkos_package) if kokkos_package else []), "-in", "in.lammps", "-log",
            "log.lammps"]
    return (f"cd {shlex.quote(str(Path(probe_dir)))} && export OMP_NUM_THREADS=1 PYTHONWARNINGS=ignore && "
            f"{site_lmp_shell_exports(python)} && $PARSL_MPI_PREFIX {' '.join(shlex.quote(a) for a in args)}")


def mpi_probe_command(expected_ranks: int) -> str:
    """An MPI task that prints 'rank size' per rank and fails unless it sees `expected_ranks` ranks in one
    world: srun without PMI2 (or a launcher/MPI mismatch) starts N singletons that each believe size is 1."""
    code = ("from mpi4py import MPI; import sys; c = MPI.COMM_WORLD; print(c.Get_rank(), c.Get_size(), flush=True); "
            f"sys.exit(0 if c.Get_size() == {int(expected_ranks)} else 3)")
    return f"$PARSL_MPI_PREFIX python -c {shlex.quote(code)}"
