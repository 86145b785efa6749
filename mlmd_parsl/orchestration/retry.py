"""Retries per task kind, and a Parsl retry handler that does not retry what would fail again.

Parsl retries a task while its accumulated failure cost stays <= Config.retries. We set Config.retries to
the largest per-kind budget and charge each failure so that a kind with budget k is retried k times, and
a deterministic failure (bad input, a LAMMPS input error) costs more than any budget: it is never retried.
"""
from pathlib import Path

# Parsl app function name -> task kind of the site's `retries:` section
TASK_KINDS = {"prepare_dataset": "dataset", "train_model": "training", "export_for_lammps": "export",
              "_run_md": "md", "validate_exported_model": "validation", "collect_results": "collection",
              "describe_worker": "collection", "_probe_mpi": "md",
              "_probe_site_engine": "preflight"}  # no budget: its failure is the message the user needs


def lammps_error(log_path) -> str:
    """The first 'ERROR' line of a LAMMPS log (an input error, deterministic), or ''."""
    try:
        for line in Path(log_path).read_text(errors="replace").splitlines():
            if line.startswith("ERROR"):
                return line.strip()
    except OSError:
        pass
    return ""


def classify(exc: BaseException, task_record=None) -> str:
    """deterministic | out-of-memory | node failure or walltime | killed | crashed | failed."""
    from ..errors import UserInputError

    name = type(exc).__name__
    text = str(exc)
    if isinstance(exc, UserInputError):
        return "deterministic"
    if name in ("WorkerLost", "ManagerLost"):
        return "node failure or walltime"
    if isinstance(exc, MemoryError) or "out of memory" in text.lower():
        return "out-of-memory"
    exitcode = getattr(exc, "exitcode", None)
    if exitcode is not None:
        args = (task_record or {}).get("args") or ()
        case = args[0] if args and isinstance(args[0], dict) else {}
        if exitcode == 2 or (case.get("log") and lammps_error(case["log"])):
            return "deterministic"  # our bad-input exit code, or LAMMPS refused its input
        if exitcode in (137, -9):
            return "killed"  # SIGKILL: the OOM killer, or the node went away
        if exitcode in (139, -11, 134, -6):
            return "crashed"
    return "failed"


def retry_budget(retries, kind: str) -> int:
    return getattr(retries, kind, 0) if kind != "collection" else 0


def make_retry_handler(retries):
    """retry_handler(exception, task_record) -> cost, for parsl.Config(retries=max_retries(retries))."""
    ceiling = max_retries(retries)

    def handler(exc, task_record):
        kind = TASK_KINDS.get(task_record.get("func_name", ""), "")
        budget = retry_budget(retries, kind)
        if budget == 0 or classify(exc, task_record) == "deterministic":
            return ceiling + 1
        return ceiling / (budget + 0.5)  # budget failures stay under the ceiling, one more goes over

    return handler


def max_retries(retries) -> int:
    return max(retries.dataset, retries.training, retries.export, retries.md, retries.validation)
