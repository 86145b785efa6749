"""What each MD case runs: its threads and its exact bash command, planned once from the site and the case.

The campaign, the library's `submit_campaign`, the dry run and the campaign-vs-standalone benchmark all take a
case's command from `plan_case`, so what a dry run prints is what the run runs. The command needs only the
export's paths, which are known before the export exists (`planned_export`)."""
import shlex
from dataclasses import dataclass

from ..config import SiteConfig
from ..science.model.export import BOX_FILE, LEAN_MODEL_FILE, MODEL_FILE, Export
from .cases import MDCase, threads_per_rank
from .md_backends import backend_for
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
    command = backend_for(case.engine).command(case, planned_export(case.run_dir), site.provider.task_python,
                                               site.md.custom_kernels, threads)
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


def mpi_probe_command(expected_ranks: int) -> str:
    """An MPI task that prints 'rank size' per rank and fails unless it sees `expected_ranks` ranks in one
    world: srun without PMI2 (or a launcher/MPI mismatch) starts N singletons that each believe size is 1."""
    code = ("from mpi4py import MPI; import sys; c = MPI.COMM_WORLD; print(c.Get_rank(), c.Get_size(), flush=True); "
            f"sys.exit(0 if c.Get_size() == {int(expected_ranks)} else 3)")
    return f"$PARSL_MPI_PREFIX python -c {shlex.quote(code)}"
