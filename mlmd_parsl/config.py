"""Site config: the schema, frozen dataclasses validated strictly before Parsl starts.

Each section's dataclass checks its own values when it is made (`__post_init__`), as do the science specs it
holds (TrainingSpec, SyntheticSpec, ValidationSpec); SiteConfig checks what spans sections. config_yaml.py
reads the YAML into them: unknown keys rejected, types named, `--set a.b=value` applied, errors with file/line.
"""
import re
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path

from .config_yaml import (apply_override, build, check_keys, coerce, construct, key_location, read_yaml,
                          section_with_spec)
from .errors import ConfigError
from .science.choices import Division, MDEngine, MliapExport, WeakLayout
from .science.lammps.deck import PROFILES
from .science.lammps.kokkos_options import AUTO as AUTO_KOKKOS, parse_package
from .science.lammps.mliap_pair_arrays import AUTO as PRESIZE_AUTO, ALWAYS as PRESIZE_ALWAYS, PRESIZE_CHOICES
from .science.model.dataset import SyntheticSpec
from .science.model.training import TrainingSpec
from .science.seed_procedure import SEED_WEAK_BLOCK
from .science.spec_checks import InvalidSetting, at_least_one, choice, counts, device, one_of, require
from .science.validation.spec import ValidationSpec

PROVIDER_KINDS = ("local", "slurm")
SITE_CONFIG_DIR = Path(__file__).resolve().parent.parent / "site_configs"
MPI_LAUNCHERS = ("mpiexec", "srun")
DTYPES = ("float32", "float64")
CUSTOM_KERNELS = ("pytorch", "auto", "triton", "numba", "cupy", "sparse", "False", "True")


def _spread_evenly(key, ranks, per_node):
    nodes = -(-ranks // per_node)
    require(ranks % nodes == 0, key, f"{ranks} ranks do not spread evenly over the {nodes} nodes they need")


@dataclass(frozen=True)
class ProviderConfig:
    kind: str = "local"  # local | slurm
    cores_per_node: int = 2
    gpus_per_node: int = 0
    worker_init: str = ""
    python: str = ""  # interpreter for MD tasks; empty = the driver's own (sys.executable)
    # network interface the Parsl interchange listens on (e.g. hsn0); empty = the hostname's address
    interface: str = ""
    encrypted: bool = True  # Parsl HTEX traffic encryption (CurveZMQ); turn off only on a trusted network
    heartbeat_threshold_s: int = 120  # a worker pool silent this long is lost (node failure, walltime): retry
    worker_start_timeout_s: int = 600  # tasks waiting this long with no worker and no queued block: the run stops
    # Slurm only (kind: slurm)
    partition: str = ""
    account: str = ""
    qos: str = ""
    walltime: str = "01:00:00"
    nodes_per_block: int = 1
    max_blocks: int = 1
    exclusive: bool = True  # MPI tasks need whole nodes
    scheduler_options: str = ""  # extra '#SBATCH ...' lines
    mpi_launcher: str = "mpiexec"  # mpiexec | srun
    launcher_options: str = ""  # appended to the launcher, e.g. --hint=nomultithread --cpus-per-task 1

    @property
    def task_python(self) -> str:
        """The interpreter MD tasks and the site engine's embedded Python run: `python`, else the driver's."""
        return self.python or sys.executable

    def __post_init__(self):
        one_of("kind", self.kind, PROVIDER_KINDS)
        at_least_one(self, ("cores_per_node", "nodes_per_block", "max_blocks"))
        require(10 <= self.heartbeat_threshold_s <= 3600, "heartbeat_threshold_s",
                f"{self.heartbeat_threshold_s}; allowed: 10 to 3600 seconds")
        require(self.gpus_per_node >= 0, "gpus_per_node", f"{self.gpus_per_node} must be >= 0")
        require(10 <= self.worker_start_timeout_s <= 86_400, "worker_start_timeout_s",
                f"{self.worker_start_timeout_s}; allowed: 10 to 86400 seconds")
        require(re.fullmatch(r"\d+:[0-5]\d:[0-5]\d", self.walltime), "walltime",
                f"{self.walltime!r}; expected HH:MM:SS, e.g. 02:00:00")
        for key in ("partition", "account", "qos"):
            require(re.fullmatch(r"[A-Za-z0-9_.,+-]*", getattr(self, key)), key,
                    f"{getattr(self, key)!r}: only letters, digits and _ . , + - are allowed")
        require(re.fullmatch(r"[A-Za-z0-9_=.,:/ +-]*", self.launcher_options), "launcher_options",
                f"{self.launcher_options!r}: launcher flags only (no ; | & $ ` quotes)")
        bad_lines = [line for line in self.scheduler_options.splitlines()
                     if line.strip() and not line.startswith("#SBATCH ")]
        require(not bad_lines, "scheduler_options",
                f"{bad_lines[0] if bad_lines else ''!r}: every line must be an '#SBATCH ...' directive")
        require(re.fullmatch(r"[A-Za-z0-9_.:-]*", self.interface), "interface",
                f"{self.interface!r}: a network interface name such as ib0 or hsn0")
        one_of("mpi_launcher", self.mpi_launcher, MPI_LAUNCHERS)
        require(self.kind != "slurm" or self.encrypted or self.interface == "lo", "encrypted",
                "false on a Slurm site: its interchanges listen on an address the cluster reaches, and what they "
                "carry (pickled tasks, run as code by the workers) must be encrypted; keep true (false is allowed "
                "only with interface: lo)")
        if self.kind == "local":
            require(self.mpi_launcher == "mpiexec", "mpi_launcher",
                    "a local site launches MPI with mpiexec (srun needs provider.kind: slurm)")
            require(self.nodes_per_block == 1, "nodes_per_block", "a local site is one node")


@dataclass(frozen=True)
class DatasetConfig:
    path: typing.Optional[str] = None  # Ag_warm_nospin.xyz; None = the synthetic default
    md5: str = "auto"  # auto: Ag_warm_nospin.xyz must be the seed's file (dataset.py); none; or a 32-digit MD5
    synthetic: SyntheticSpec = field(default_factory=SyntheticSpec)

    def __post_init__(self):
        require(self.md5 in ("auto", "none") or re.fullmatch(r"[0-9a-fA-F]{32}", self.md5 or "") is not None, "md5",
                f"{self.md5!r}; allowed: auto, none, or an MD5 digest (32 hexadecimal digits)")


@dataclass(frozen=True)
class TrainingConfig:
    spec: TrainingSpec = field(default_factory=TrainingSpec)
    custom_kernels: str = "pytorch"  # HIPPYNN_USE_CUSTOM_KERNELS; measured fastest on CPU here

    def __post_init__(self):
        one_of("custom_kernels", self.custom_kernels, CUSTOM_KERNELS)


@dataclass(frozen=True)
class WeakScalingConfig:
    """Weak scaling: one case per node count, one MPI rank per GPU of each node (per core on a CPU site). The seed's
    box is a block of the unit box, replicate 25 24 (8 x nodes): 340,800 atoms per node, 85,200 per GPU of a
    4-GPU node, 1,022,400 atoms on 3 nodes."""
    nodes: tuple = ()  # node counts, e.g. [1, 2, 3]; none: no weak-scaling sweep
    block: tuple = SEED_WEAK_BLOCK  # replicate X Y (Z x nodes); another block is a named deviation
    layout: WeakLayout = WeakLayout.BLOCK  # the ours division may run `rod` instead; the seed division runs the block
    zrep_per_rank: int = 300  # rod: replicate 2 2 (zrep_per_rank x ranks)

    def __post_init__(self):
        if self.nodes:
            counts("nodes", self.nodes)
        counts("block", self.block)
        require(len(self.block) == 3, "block", f"{list(self.block)}: three replicas, X Y Z (Z grows with the nodes)")
        choice(self, "layout", WeakLayout)
        require(self.zrep_per_rank >= 1, "zrep_per_rank", f"{self.zrep_per_rank} must be >= 1")


@dataclass(frozen=True)
class MDConfig:
    engine: MDEngine = MDEngine.EMBEDDED
    profile: str = "quick"
    zreps: tuple = (2, 4, 8)
    ranks: tuple = (1, 2)
    model_device: str = "cpu"
    dtype: str = "float32"
    custom_kernels: str = "pytorch"
    lmp: str = ""  # site engine only: LAMMPS executable; empty = $LMP, else `lmp` on PATH
    kokkos: bool = False  # site engine only: on GPUs through KOKKOS (-k on g N -sf kk -pk kokkos <kokkos_package>)
    kokkos_package: str = AUTO_KOKKOS  # auto: the seed's line if the site's lmp takes it, else newton on neigh half
    mliap_model: MliapExport = MliapExport.HIPPYNN  # site engine only: which export pair_style mliap unified loads
    # site engine only: size ML-IAP's pair arrays on a compressed box before the first stage (LAMMPS' pair-array
    # bug on several ranks, science/lammps/mliap_pair_arrays.py); auto = cases of several ranks without Kokkos
    mliap_presize: str = PRESIZE_AUTO
    # a case slower than this many steps per second is taken as hung: its timeout is 5 min + its steps at this rate
    min_timesteps_per_s: float = 0.5
    weak_scaling: WeakScalingConfig = field(default_factory=WeakScalingConfig)

    def __post_init__(self):
        choice(self, "engine", MDEngine)
        choice(self, "mliap_model", MliapExport)
        require(not self.kokkos or self.engine.runs_site_lammps, "kokkos",
                "Kokkos applies to the site engine only (md.engine: mliap); with another engine set "
                "md.kokkos: false (--set md.kokkos=false)")
        require(self.mliap_model is MliapExport.HIPPYNN or self.engine.runs_site_lammps, "mliap_model",
                f"{self.mliap_model}: the exported model for pair_style mliap applies to the site engine only "
                "(md.engine: mliap); with another engine leave it at hippynn (--set md.mliap_model=hippynn)")
        require(not (self.kokkos and self.model_device == "cpu"), "kokkos",
                "Kokkos on GPUs needs md.model_device: cuda (the exported model's device)")
        try:
            explicit = parse_package(self.kokkos_package)
        except ValueError as exc:
            raise InvalidSetting("kokkos_package", str(exc)) from None
        require(not explicit or self.kokkos, "kokkos_package", "Kokkos options need md.kokkos: true")
        one_of("mliap_presize", self.mliap_presize, PRESIZE_CHOICES)
        require(isinstance(self.min_timesteps_per_s, (int, float)) and 0 < self.min_timesteps_per_s <= 1e6,
                "min_timesteps_per_s", f"{self.min_timesteps_per_s}: steps per second, above 0 (0.01 = a case may take "
                "100 s per step before it counts as hung)")
        require(self.mliap_presize != PRESIZE_ALWAYS or self.engine.runs_site_lammps, "mliap_presize",
                "always: presizing ML-IAP's pair arrays applies to the site engine only (md.engine: mliap)")
        one_of("profile", self.profile, tuple(PROFILES))
        counts("zreps", self.zreps)
        counts("ranks", self.ranks)
        one_of("dtype", self.dtype, DTYPES)
        device("model_device", self.model_device)
        one_of("custom_kernels", self.custom_kernels, CUSTOM_KERNELS)


@dataclass(frozen=True)
class ValidationConfig:
    enabled: bool = True
    spec: ValidationSpec = field(default_factory=ValidationSpec)

    # the spec checks itself (ValidationSpec.__post_init__)


@dataclass(frozen=True)
class RetryConfig:
    """How often Parsl retries each task kind after a failure that may not repeat (a lost node, a kill,
    out-of-memory, a crash). Bad input and LAMMPS input errors are never retried."""
    dataset: int = 1
    training: int = 1
    export: int = 1
    md: int = 2
    validation: int = 0

    def __post_init__(self):
        for kind in ("dataset", "training", "export", "md", "validation"):
            require(0 <= getattr(self, kind) <= 10, kind, f"{getattr(self, kind)}; allowed: 0 to 10")


@dataclass(frozen=True)
class ReportConfig:
    """How report.md compares a run with earlier ones (only like-for-like rows: report_md.py says which)."""
    regression_tolerance: float = 0.10  # slower than the baseline by more than this (and than its spread): REGRESSION
    baseline: str = ""  # a run (path or name under the runs folder); empty: every earlier run of this site

    def __post_init__(self):
        require(isinstance(self.regression_tolerance, (int, float)) and 0 < self.regression_tolerance < 1,
                "regression_tolerance", f"{self.regression_tolerance}: a fraction, above 0 and below 1 (0.1 = 10%)")


@dataclass(frozen=True)
class SiteConfig:
    name: str
    source: str
    provider: ProviderConfig
    dataset: DatasetConfig
    training: TrainingConfig
    md: MDConfig
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    retries: RetryConfig = field(default_factory=RetryConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    runs_dir: str = ""  # empty = <repository>/runs
    monitoring: bool = False  # Parsl's MonitoringHub: every task's states and resource use in <run>/monitoring.db
    # seed: the seed's work exactly (divisions.py); ours: what training and md say. Run in this order, seed first.
    divisions: tuple = (Division.OURS,)

    @property
    def division(self) -> Division:
        """The division of a one-division site (divisions.division_site makes one per division)."""
        if len(self.divisions) != 1:
            raise ValueError(f"site {self.name} runs {len(self.divisions)} divisions; take one with division_site()")
        return self.divisions[0]

    def __post_init__(self):
        """What spans sections: devices against the provider's GPUs, ranks against its cores and nodes."""
        provider, md = self.provider, self.md
        require(isinstance(self.name, str) and re.fullmatch(r"[A-Za-z0-9_.-]+", self.name), "name",
                f"{self.name!r}: letters, digits and _ . - only (it names the run folders and reaches shell commands)")
        require(all(d in Division.words() for d in self.divisions) and len(set(self.divisions)) == len(self.divisions),
                "divisions", f"{list(map(str, self.divisions))}; allowed: one or both of {', '.join(Division.words())}")
        object.__setattr__(self, "divisions", tuple(d for d in Division if d in self.divisions))  # seed first
        if provider.gpus_per_node == 0:
            for key, value in (("md.model_device", md.model_device), ("training.device", self.training.spec.device)):
                require(not value.startswith("cuda"), key,
                        f"{value!r}, but provider.gpus_per_node is 0 (a CPU site); use cpu or set gpus_per_node")
        capacity = provider.cores_per_node * provider.nodes_per_block
        require(max(md.ranks) <= capacity, "md.ranks",
                f"{max(md.ranks)} ranks, but provider.cores_per_node is {provider.cores_per_node}"
                + (f" x {provider.nodes_per_block} nodes" if provider.nodes_per_block > 1 else ""))
        for ranks in md.ranks:
            _spread_evenly("md.ranks", ranks, provider.cores_per_node)
        if md.weak_scaling.nodes:
            require(max(md.weak_scaling.nodes) <= provider.nodes_per_block, "md.weak_scaling.nodes",
                    f"{max(md.weak_scaling.nodes)} nodes, but a block of the MPI executor has "
                    f"{provider.nodes_per_block} (provider.nodes_per_block)")
        rank_counts = self.validation.spec.rank_counts
        require(max(rank_counts) <= provider.cores_per_node + 1, "validation.rank_counts",
                f"{max(rank_counts)} ranks on a {provider.cores_per_node}-core node")


# (section, old key, new key): an old key is named with its new one, never silently dropped
RENAMED_KEYS = (("training", "engine", "trainer"),)
_TOP_KEYS = ("name", "divisions", "provider", "dataset", "training", "md", "validation", "retries", "report",
             "runs_dir", "monitoring")


def site_config_path(site: str) -> Path:
    """`--site NAME` -> site_configs/NAME.yaml; a value ending in .yaml/.yml is a path."""
    if site.endswith((".yaml", ".yml")):
        path = Path(site)
        if not path.is_file():
            raise ConfigError(f"site config file not found: {path}")
        return path
    path = SITE_CONFIG_DIR / f"{site}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in SITE_CONFIG_DIR.glob("*.yaml"))
        raise ConfigError(f"unknown site {site!r}; known sites: {', '.join(known)} (or give a path to a .yaml file)")
    return path


def load_site_config(site: str, overrides=()) -> SiteConfig:
    path = site_config_path(site)
    raw = read_yaml(path, _TOP_KEYS)
    for override in overrides:
        apply_override(raw, override)
    return _build_site(raw, path)


def read_renamed_keys(path, raw):
    """An old key is read as its new one, with a note on stderr naming both (where it was given, and what to write
    instead). Given beside its new key, the one a --set gives wins; both in the file (or both --set) is an error."""
    for section, old, new in RENAMED_KEYS:
        mapping = raw.get(section)
        if not isinstance(mapping, dict) or old not in mapping:
            continue
        where = key_location(path, mapping, old, section + ".")
        overrides = getattr(mapping, "overrides", {})
        if new in mapping and (old in overrides) == (new in overrides):
            raise ConfigError(f"{where}: renamed {section}.{new}, which is given too; keep {new}: only")
        value = mapping.pop(old)
        if new in overrides:
            print(f"note: {where} is ignored: it is now {section}.{new}, which --set gives", file=sys.stderr)
            continue
        mapping[new] = value
        for table in (getattr(mapping, "lines", {}), overrides):
            table.pop(new, None)
            if old in table:
                table[new] = table.pop(old)
        print(f"note: {where} is now {section}.{new} (the same values) and is read as that; write {new}: in the "
              f"file, or --set {section}.{new}=...", file=sys.stderr)


def _build_site(raw, path) -> SiteConfig:
    check_keys(path, raw, _TOP_KEYS, "")
    read_renamed_keys(path, raw)
    values = {
        "name": raw.get("name"),
        "source": str(path),
        "provider": build(ProviderConfig, path, raw.get("provider"), "provider."),
        "dataset": build(DatasetConfig, path, raw.get("dataset"), "dataset."),
        "training": section_with_spec(TrainingConfig, TrainingSpec, path, raw.get("training"), "training.",
                                       ("custom_kernels",)),
        "md": build(MDConfig, path, raw.get("md"), "md."),
        "validation": section_with_spec(ValidationConfig, ValidationSpec, path, raw.get("validation"),
                                         "validation.", ("enabled",)),
        "retries": build(RetryConfig, path, raw.get("retries"), "retries."),
        "report": build(ReportConfig, path, raw.get("report"), "report."),
        "runs_dir": coerce(path, raw, "runs_dir", "", raw.get("runs_dir", ""), str),
        "monitoring": coerce(path, raw, "monitoring", "", raw.get("monitoring", False), bool),
    }
    if "divisions" in raw:
        values["divisions"] = coerce(path, raw, "divisions", "", raw["divisions"], tuple)
    return construct(SiteConfig, path, raw, "", values)
