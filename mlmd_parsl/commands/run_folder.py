"""One run folder read back: where it is, what it ran, how it ended (manifest.json, results.csv, console.log)."""
import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserInputError
from ..orchestration.rundir import REPO_RUNS_DIR, first_start, run_folder


@dataclass(frozen=True)
class RunSummary:
    name: str
    path: Path
    site: str
    created: str  # ISO time the run started ("" when the manifest is unreadable)
    host: str
    commit: str
    status: str  # complete | N of M tasks failed | interrupted | no results yet (running, or stopped unannounced)
    divisions: tuple = ()  # a DivisionSummary each, the seed's first


@dataclass(frozen=True)
class DivisionSummary:
    """The figures of one division of a run (rows of runs from before divisions: division '')."""
    division: str
    training_s_per_epoch: float = None
    md_katom_step_s: tuple = ()  # every finished MD case's throughput
    physics: str = ""  # physical | unphysical | not checked
    accuracy_gate: str = ""


def find_run(run: str, runs_dir: Path = REPO_RUNS_DIR) -> Path:
    """A run folder given as a path, or as a name under the runs folder; exit 2 naming both places otherwise."""
    path = run_folder(run, runs_dir)
    if not (path / "manifest.json").is_file():
        raise UserInputError(f"{run}: no run folder (a folder with a manifest.json) there or under {runs_dir}")
    return path.resolve()


def read_rows(path: Path) -> list:
    from ..science.reporting.results import read_results

    results = path / "results.csv"
    if not results.is_file():
        raise UserInputError(f"{path}: has no results.csv (still running, or stopped before its last task); "
                             f"continue it with --resume {path}")
    return read_results(results)


def summarize(path: Path) -> RunSummary:
    """One run's line of `runs`: never an exception (one unreadable run must not hide the others)."""
    from ..science.reporting.results import UnreadableResults

    try:
        manifest = json.loads((path / "manifest.json").read_text())
    except (OSError, ValueError):
        manifest = {}
    manifest = manifest if isinstance(manifest, dict) else {}
    site = (manifest.get("site") or {}).get("name", "?")
    base = dict(name=path.name, path=path, site=site, created=first_start(manifest),
                host=(manifest.get("host") or {}).get("hostname", ""),
                commit=((manifest.get("code") or {}).get("commit") or "")[:10])
    if not (path / "results.csv").is_file():
        return RunSummary(**base, status=_unfinished_status(path))
    try:
        rows = read_rows(path)
    except UnreadableResults as exc:
        return RunSummary(**base, status=f"unreadable results.csv ({str(exc).split(': ', 1)[0]})")
    failed = [r for r in rows if r.get("status") != "ok"]
    from ..science.reporting.results import by_division

    return RunSummary(**base, status=f"{len(failed)} of {len(rows)} tasks failed" if failed else "complete",
                      divisions=tuple(division_summary(name, members) for name, members in by_division(rows).items()))


def division_summary(division: str, rows: list) -> DivisionSummary:
    train = next((r for r in rows if r.get("kind") == "training"), {})
    md = tuple(r["katom_step_s"] for r in rows if r.get("kind") == "md" and r.get("status") == "ok")
    return DivisionSummary(division,
                           training_s_per_epoch=train["epoch_time_s"] if train.get("status") == "ok" else None,
                           md_katom_step_s=md, physics=rows[0].get("physics") or "not checked",
                           accuracy_gate=rows[0].get("accuracy_gate", ""))


def _unfinished_status(path: Path) -> str:
    console = path / "console.log"
    tail = console.read_text(errors="replace")[-2000:] if console.is_file() else ""
    if "finished tasks are kept" in tail:
        return "interrupted"
    return "no results yet"
