"""Site config -> parsl.Config (a factory: nothing is loaded here)."""
import shlex
import sys
from pathlib import Path

from ..config import SiteConfig
from .apps import ExecutorLabels


def check_parsl_run_path(runs_root: Path):
    """Parsl's providers start their submit scripts as `bash SCRIPT` and its worker pools with `--logdir=DIR`,
    unquoted, from the run folder: under a path that needs shell quoting no worker would ever start, and the
    campaign would wait for ever. Refused here with one line (UserInputError)."""
    from ..errors import UserInputError

    root = str(Path(runs_root).resolve())
    if shlex.quote(root) != root:
        raise UserInputError(f"runs folder {root!r}: Parsl starts its worker scripts from the run folder without "
                             "quoting their paths, so a space or shell character there keeps every worker from "
                             "starting; set runs_dir (--set runs_dir=PATH) to a folder whose path has only letters, "
                             "digits and _ . / - + , : @ % =")


def heartbeat(site: SiteConfig) -> dict:
    """How soon a silent worker pool counts as lost, for both executors."""
    threshold = site.provider.heartbeat_threshold_s
    return {"heartbeat_threshold": threshold, "heartbeat_period": max(2, threshold // 4)}


def retry_settings(site: SiteConfig) -> dict:
    from .retry import make_retry_handler, max_retries

    return {"retries": max_retries(site.retries), "retry_handler": make_retry_handler(site.retries)}


def python_executor(site: SiteConfig, label: str, provider, **kwargs):
    """HTEX for the python apps. On a GPU site one worker per GPU (available_accelerators pins each
    worker's CUDA_VISIBLE_DEVICES), so single-GPU MD cases pack one per GPU instead of queueing on one."""
    from parsl.executors import HighThroughputExecutor

    gpus = site.provider.gpus_per_node
    shape = dict(max_workers_per_node=1, cores_per_worker=site.provider.cores_per_node)
    if gpus:
        shape = dict(max_workers_per_node=gpus, available_accelerators=gpus,
                     cores_per_worker=max(1, site.provider.cores_per_node // gpus))
    return HighThroughputExecutor(label=label, provider=provider, encrypted=site.provider.encrypted, **shape,
                                  **heartbeat(site), **kwargs)


MONITORING_DB = "monitoring.db"


def monitoring_hub(site: SiteConfig, run_dir: Path):
    """Parsl's MonitoringHub writing <run>/monitoring.db, where the site asks for it (monitoring: true)."""
    if not site.monitoring:
        return None
    from parsl.monitoring import MonitoringHub

    return MonitoringHub(logging_endpoint=f"sqlite:///{Path(run_dir).resolve() / MONITORING_DB}",
                         workflow_name=f"mlmd_parsl-{site.name}", resource_monitoring_interval=30)


def local_parsl_config(site: SiteConfig, run_dir: Path, labels: ExecutorLabels = ExecutorLabels()):
    """Two executors on this machine: HTEX for python apps, MPIExecutor (mpiexec) for MD."""
    from parsl.config import Config
    from parsl.executors import MPIExecutor
    from parsl.launchers import SimpleLauncher
    from parsl.providers import LocalProvider

    bindir = Path(site.provider.task_python).parent
    nodefile = run_dir / "parsl_nodefile"
    nodefile.write_text("localhost\n")
    # UCX_NET_DEVICES=lo: MPICH's UCX netmod would otherwise listen on every interface; one node needs none.
    worker_init = (f"export PATH={shlex.quote(str(bindir))}:$PATH; export PBS_NODEFILE={shlex.quote(str(nodefile))}; "
                   f"export UCX_NET_DEVICES=lo; {site.provider.worker_init}")
    # The interchange is a script in the venv's bin, which need not be on the driver's PATH.
    interchange = [str(Path(sys.executable).parent / "interchange.py")]
    return Config(
        executors=[
            python_executor(
                site, labels.python, LocalProvider(worker_init=worker_init, init_blocks=1, max_blocks=1),
                address="127.0.0.1", interchange_launch_cmd=interchange,
            ),
            MPIExecutor(
                label=labels.mpi,
                address="127.0.0.1",
                interchange_launch_cmd=interchange[0],  # typed str here, a sequence in HTEX
                mpi_launcher="mpiexec",
                max_workers_per_block=1,
                provider=LocalProvider(launcher=SimpleLauncher(), worker_init=worker_init, init_blocks=1, max_blocks=1),
                encrypted=site.provider.encrypted,
                **heartbeat(site),
            ),
        ],
        run_dir=str(run_dir / "parsl"),
        strategy="none",
        monitoring=monitoring_hub(site, run_dir),
        initialize_logging=True,
        **retry_settings(site),
    )


def slurm_provider(site: SiteConfig, nodes_per_block: int, worker_init: str):
    from parsl.launchers import SimpleLauncher
    from parsl.providers import SlurmProvider

    p = site.provider
    return SlurmProvider(
        partition=p.partition or None,
        account=p.account or None,
        qos=p.qos or None,
        walltime=p.walltime,
        nodes_per_block=nodes_per_block,
        init_blocks=1,
        min_blocks=0,
        max_blocks=p.max_blocks,
        exclusive=p.exclusive,
        # a shared (non-exclusive) node: ask for the cores the block uses, not Slurm's default of one
        cores_per_node=None if p.exclusive else p.cores_per_node,
        gpus_per_node=p.gpus_per_node or None,
        scheduler_options=p.scheduler_options,
        worker_init=worker_init,
        launcher=SimpleLauncher(),  # the MPI launcher comes per task from $PARSL_MPI_PREFIX
    )


def listen_address(interface: str) -> str:
    """The one address the interchanges listen on (Parsl binds every interface when given none)."""
    from parsl.addresses import address_by_hostname, address_by_interface

    from ..errors import ConfigError

    if not interface:
        return address_by_hostname()
    try:
        return address_by_interface(interface)
    except OSError as exc:
        raise ConfigError(f"provider.interface: {interface!r} has no IPv4 address here "
                          f"({exc.strerror or exc})") from None


def slurm_parsl_config(site: SiteConfig, run_dir: Path, labels: ExecutorLabels = ExecutorLabels()):
    """HTEX (one node) for the python apps and packed single-GPU MD, MPIExecutor (nodes_per_block nodes) for
    multi-rank MD, both on Slurm."""
    from parsl.config import Config
    from parsl.executors import MPIExecutor
    from parsl.launchers import SrunLauncher

    p = site.provider
    python_bin = Path(p.task_python).parent
    worker_init = f"export PATH={shlex.quote(str(python_bin))}:$PATH; {p.worker_init}"
    htex_provider = slurm_provider(site, 1, worker_init)
    address = listen_address(p.interface)
    # --mpi=none: the worker pool is no MPI program, and PMI variables it inherited from srun would make
    # every MPI_Init in a python app (LAMMPS via mpi4py) talk to a PMI server that is not there.
    htex_provider.launcher = SrunLauncher(overrides="--mpi=none")
    interchange = [str(Path(sys.executable).parent / "interchange.py")]  # the driver's venv need not be on PATH
    return Config(
        executors=[
            python_executor(site, labels.python, htex_provider, address=address, interchange_launch_cmd=interchange),
            # One MPI task per block at a time. Parsl's MPITaskScheduler (2026.10.26) recurses without end when a
            # backlogged task does not fit the nodes a finished one freed (Parsl PR #3800, open): with three
            # workers on chicoma's 3-node block, weak_r12 waiting behind weak_r4 and weak_r8 killed the pool's
            # result thread and the campaign waited for ever. One at a time is also the seed's order (each case
            # its own job): no case shares its nodes or interconnect with another while it is timed.
            MPIExecutor(
                label=labels.mpi, mpi_launcher=p.mpi_launcher, max_workers_per_block=1,
                provider=slurm_provider(site, p.nodes_per_block, worker_init), encrypted=p.encrypted,
                address=address, interchange_launch_cmd=interchange[0], **heartbeat(site),
            ),
        ],
        run_dir=str(run_dir / "parsl"),
        strategy="simple",
        monitoring=monitoring_hub(site, run_dir),
        initialize_logging=True,
        **retry_settings(site),
    )


def parsl_config_for(site: SiteConfig, run_dir: Path, labels: ExecutorLabels = ExecutorLabels()):
    if site.provider.kind == "local":
        return local_parsl_config(site, run_dir, labels)
    if site.provider.kind == "slurm":
        return slurm_parsl_config(site, run_dir, labels)
    raise ValueError(f"no Parsl config for provider kind {site.provider.kind!r}")
