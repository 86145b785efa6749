"""What one MD case is and what it needs: ranks per node, MPI resources, threads (sweeps.py makes a site's cases).

An `MDCase` is what one case is (replicate, ranks, placement, engine, paths) and never changes once made; what
only a case of the site's LAMMPS needs is its `SiteLammpsRun`. A `CaseOutcome` is what became of it in one campaign
(its content key, the command it ran, its error).
"""
import re
from dataclasses import dataclass
from pathlib import Path

from ..config import SiteConfig
from ..science.choices import MLIAP_LEAN_LABEL, Division, MDEngine, MliapExport
from ..science.model.export import Export
from .rundir import md_case_dir


@dataclass(frozen=True)
class SiteLammpsRun:
    """What a case of the site's LAMMPS (md.engine mliap) runs besides what every case has."""
    lmp: str  # the site's LAMMPS, as configured: resolved on the worker
    export: MliapExport = MliapExport.HIPPYNN  # which export `pair_style mliap unified` loads
    kokkos: bool = False
    kokkos_package: tuple = ()  # -pk kokkos options (with kokkos): planned, then what the site engine preflight kept
    presize: bool = False  # the deck sizes ML-IAP's pair arrays on a compressed box first (mliap_pair_arrays.py)

    def __post_init__(self):
        object.__setattr__(self, "export", MliapExport(self.export))
        object.__setattr__(self, "kokkos_package", tuple(self.kokkos_package))


@dataclass(frozen=True)
class MDCase:
    task: str  # md_z{zrep}_r{ranks} or weak_r{ranks}: the case's folder name
    sweep: str  # throughput | weak
    replicate: tuple  # (2, 2, zrep) copies of the unit box
    ranks: int
    packed: bool  # one rank on one GPU, run by a worker of the python executor (no MPI launcher)
    profile: str
    engine: MDEngine
    model_device: str
    dtype: str
    run_dir: str  # the division's folder in the run (division_dir)
    division: Division = Division.OURS
    deviations: tuple = ()  # how this case differs from the seed's work, in words (divisions.deviations)
    timeout_s: int = 0  # the case is ended (its whole process group) after this long: md.min_timesteps_per_s
    site_lammps: SiteLammpsRun = None  # md.engine mliap only (its back-end makes it)

    def __post_init__(self):
        object.__setattr__(self, "engine", MDEngine(self.engine))
        object.__setattr__(self, "division", Division(self.division))

    @property
    def binds_one_gpu_per_rank(self) -> bool:
        """An MPI case on GPUs: each rank sees only its node-local GPU (CUDA_VISIBLE_DEVICES = its local rank), as
        the seed's weak scaling binds them, so `-k on g 1` and the model's `cuda` are that GPU on every rank. A
        packed case's worker already sees one GPU (HTEX available_accelerators)."""
        return self.model_device.startswith("cuda") and not self.packed

    @property
    def zrep(self) -> int:
        return self.replicate[2]

    @property
    def dir(self) -> Path:
        return md_case_dir(self.run_dir, self.task)

    @property
    def log(self) -> Path:
        return self.dir / "log.lammps"

    @property
    def stdout(self) -> Path:
        return self.dir / "stdout.txt"

    @property
    def stderr(self) -> Path:
        return self.dir / "stderr.txt"

    @property
    def export(self) -> MliapExport:
        """The export this case's engine loads (the embedded engine: hippynn's)."""
        return self.site_lammps.export if self.site_lammps else MliapExport.HIPPYNN

    @property
    def engine_label(self) -> str:
        """What results.csv calls the engine: the site engine's rows say which export it loaded."""
        return MLIAP_LEAN_LABEL if self.export is MliapExport.LEAN else str(self.engine)

    def model_file(self, exported: Export) -> str:
        return exported.mliap_file(self.export)

    def content_key(self, exported: Export, custom_kernels: str, threads: int, command: str, code: str) -> str:
        """Every input of the run (model bytes, deck parameters, engine, lmp, threads, its command line, `code`:
        the source digest of its engine or deck, and the versions of the packages it runs)."""
        from ..science.model.dataset import file_sha256
        from .resume import content_key

        site = self.site_lammps or SiteLammpsRun(lmp="")  # the same key fields as before cases had site_lammps
        lmp_digest = file_sha256(site.lmp) if site.lmp and Path(site.lmp).is_file() else site.lmp
        return content_key(code, what="md", command=run_relative(command, self.run_dir),
                           model=file_sha256(self.model_file(exported)), lmp=lmp_digest,
                           kernels=custom_kernels, threads=threads,
                           replicate=list(self.replicate), ranks=self.ranks, profile=self.profile, engine=self.engine,
                           model_device=self.model_device, dtype=self.dtype, kokkos=site.kokkos,
                           kokkos_package=list(site.kokkos_package) if site.kokkos else None,
                           mliap_model=self.export)

    def result_fields(self) -> dict:
        """What a results.csv row of this case takes from the case itself (the rest comes from its log)."""
        from ..science.seed_procedure import DEVIATION_SEPARATOR

        return {"task": self.task, "division": str(self.division),
                "deviations": DEVIATION_SEPARATOR.join(self.deviations),
                "sweep": self.sweep, "ranks": self.ranks, "zrep": self.zrep, "profile": self.profile,
                "engine": self.engine_label, "device": self.model_device, "dtype": self.dtype, "log": str(self.log)}


def run_relative(command: str, division_dir) -> str:
    """`command` with its run folder's path as <run>: a run moved, or archived and unpacked elsewhere, keeps its
    MD keys, so --resume there reruns nothing it finished."""
    root = Path(division_dir).parent
    for path in sorted({str(root), str(root.resolve())}, key=len, reverse=True):
        command = command.replace(path, "<run>")
    return command


@dataclass(frozen=True)
class CaseOutcome:
    """One case in one campaign: `key` when it was run or reused, `command` once known, `error` if it failed."""
    case: MDCase
    key: str = ""
    command: str = ""
    error: str = ""
    threads: int = None  # OpenMP/torch threads per rank it ran with


@dataclass(frozen=True)
class DivisionOutcome:
    """One division in one campaign: its training (builder.training_outcome; None when it did not run here), how
    that training differs from the seed's, its MD cases' outcomes, its model's validation, and the dataset label of
    its export (what the rows say when no training ran here)."""
    division: Division
    training: dict
    training_deviations: tuple
    outcomes: list
    validation: dict = None
    dataset_label: str = ""


def ranks_per_node(site: SiteConfig) -> int:
    """How many MD ranks fit a node: one per GPU when the model runs on GPUs, else one per core."""
    if site.provider.gpus_per_node and site.md.model_device.startswith("cuda"):
        return site.provider.gpus_per_node
    return site.provider.cores_per_node


def mpi_resources(site: SiteConfig, ranks: int) -> dict:
    """Parsl's MPI resource request for `ranks` ranks: whole nodes, ranks spread evenly (validated)."""
    nodes = -(-ranks // ranks_per_node(site))
    spec = {"num_nodes": nodes, "num_ranks": ranks, "ranks_per_node": ranks // nodes}
    options = site.provider.launcher_options
    said = "--kill-on-bad-exit" in options or re.search(r"(^| )-K", options)
    if site.provider.mpi_launcher == "srun" and not said:
        # srun leaves the other ranks running when one dies (Slurm's KillOnBadExit defaults to 0): a rank lost
        # in MPI_Init would leave its peers spinning there until the block's walltime. mpiexec ends them itself.
        options = f"{options} --kill-on-bad-exit=1".strip()
    if options:
        spec["launcher_options"] = options
    return spec


def threads_per_rank(site: SiteConfig, ranks: int, packed: bool = False) -> int:
    """OpenMP/torch threads per rank: what the launcher binds (--cpus-per-task N), else the node's cores shared out.
    A packed single-GPU case shares its node with one case per GPU."""
    if packed:
        return max(1, site.provider.cores_per_node // site.provider.gpus_per_node)
    pinned = re.search(r"--cpus-per-task[= ](\d+)", site.provider.launcher_options)
    if pinned:
        return int(pinned.group(1))
    return max(1, site.provider.cores_per_node // min(ranks, site.provider.cores_per_node))
