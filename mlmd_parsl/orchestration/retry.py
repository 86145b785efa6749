"""Retries per task kind, and a Parsl retry handler that does not retry what would fail again.

Parsl retries a task while its accumulated failure cost stays <= Config.retries. We set Config.retries to
the largest per-kind budget and charge each failure so that a kind with budget k is retried k times, and
a deterministic failure (bad input, a LAMMPS input error) costs more than any budget: it is never retried.
"""
import functools
from pathlib import Path

# Kinds of task. The first five have a budget in the site's `retries:` section; collection and preflight have
# none (the preflight's failure is the message the user needs).
TASK_KINDS = ("dataset", "training", "export", "md", "validation", "collection", "preflight")


def task_kind(kind: str):
    """Tag a function that becomes a Parsl app with its task kind (a decorator; the function is unchanged)."""
    if kind not in TASK_KINDS:
        raise ValueError(f"task kind {kind!r}; allowed: {', '.join(TASK_KINDS)}")

    def tag(func):
        func.task_kind = kind
        return func
    return tag


def kind_of(func) -> str:
    """The kind tagged on an app's function, through Parsl's wrappers (functools.wraps keeps a python app's
    function as __wrapped__; a bash app's is the first argument of a partial). '' if it has none."""
    seen = 0
    while func is not None and seen < 10:
        if getattr(func, "task_kind", None):
            return func.task_kind
        if isinstance(func, functools.partial):
            tagged = next((a for a in func.args if getattr(a, "task_kind", None)), None)
            func = tagged or func.func
        else:
            func = getattr(func, "__wrapped__", None)
        seen += 1
    return ""


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
    """deterministic | timed out | out-of-memory | node failure or walltime | killed | crashed | failed."""
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
        log = ((task_record or {}).get("kwargs") or {}).get("lammps_log")  # what submit_md_case passes the MD app
        if exitcode == 2 or (log and lammps_error(log)):
            return "deterministic"  # our bad-input exit code, or LAMMPS stopped on its input or the physics
        if exitcode == 124 and ((task_record or {}).get("kwargs") or {}).get("timeout_s"):
            return "timed out"  # the case's own timeout (timeout(1) exits 124): a hang would hang again
        # A shell reports a signal as 128 + its number, Python as minus it, and MPICH's mpiexec (hydra), which
        # launches every MD case, as the bare number (measured: a rank killed by SIGSEGV -> mpiexec exits 11).
        # Our engines exit 0, 1 or 2 and LAMMPS 1, so 9, 11 and 6 are signals here, not exit codes.
        if exitcode in (137, -9, 9):
            return "killed"  # SIGKILL: the OOM killer, or the node went away
        if exitcode in (139, -11, 11, 134, -6, 6):
            return "crashed"
    return "failed"


NEVER_RETRIED = ("deterministic", "timed out")


def retry_budget(retries, kind: str) -> int:
    return getattr(retries, kind, 0)  # kinds without a `retries:` key (collection, preflight, untagged): none


def make_retry_handler(retries):
    """retry_handler(exception, task_record) -> cost, for parsl.Config(retries=max_retries(retries))."""
    ceiling = max_retries(retries)

    def handler(exc, task_record):
        kind = kind_of(task_record.get("func"))
        budget = retry_budget(retries, kind)
        if budget == 0 or classify(exc, task_record) in NEVER_RETRIED:
            return ceiling + 1
        return ceiling / (budget + 0.5)  # budget failures stay under the ceiling, one more goes over

    return handler


def max_retries(retries) -> int:
    return max(retries.dataset, retries.training, retries.export, retries.md, retries.validation)
