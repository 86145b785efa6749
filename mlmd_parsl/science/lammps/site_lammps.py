"""Running the site's own LAMMPS (`pair_style mliap unified`, the seed's engine) on an exported model.

Two things every such LAMMPS needs from us, whatever its vintage:
- The Python interpreter embedded in `lmp` must import torch, hippynn, the `lammps` package (its
  `lammps.mliap` loader) and, for the lean export, mlmd_parsl. It starts from the interpreter LAMMPS was
  linked against, not from our venv, so PYTHONPATH names the venv's site-packages and this package.
  (PYTHONPATH entries do not run .pth files, so an editable install's finder would not be seen: the
  package's own parent folder is named explicitly.)
- LAMMPS releases before the 2025 ones load the model with a bare `torch.load(file)`; torch >= 2.6 then
  defaults to weights_only=True and refuses every pickled MLIAPUnified ("Weights only load failed").
  `TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1` restores the old default for that process only. Newer LAMMPS
  passes weights_only=False itself and torch < 2.6 ignores the variable, so it is set for every build:
  one rule that is right for all of them, instead of a guess at which build a site has. The model file
  is the campaign's own export, never a download.
"""
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

from ...errors import LammpsBuildError

WEIGHTS_ONLY_OVERRIDE = {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
PROBE_REPLICATE = (2, 2, 1)  # the preflight's box: 284 atoms, seconds, and ghosts on every side at 1 rank


def embedded_python_path() -> str:
    """PYTHONPATH for the interpreter inside `lmp`: this package's parent, then the venv's site-packages."""
    package_parent = str(Path(__file__).resolve().parents[3])
    folders = [package_parent, sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    return os.pathsep.join(dict.fromkeys(folders))


def site_lmp_environment(base=None) -> dict:
    """The environment for a child `lmp` process started from this Python."""
    env = dict(os.environ if base is None else base)
    inherited = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = embedded_python_path() + (os.pathsep + inherited if inherited else "")
    env.update(WEIGHTS_ONLY_OVERRIDE)
    # Unless told otherwise, hippynn's kernels as the seed's MD scripts set them (seed_procedure.SEED_MD_KERNELS):
    # hippynn's default picks numba's where numba is installed (our dependency since issue 41), and the hippynn
    # export then ran 1.1 steps/s at 568 atoms on 2 ranks of this 2-core machine instead of ~70.
    env.setdefault("HIPPYNN_USE_CUSTOM_KERNELS", "pytorch")
    return env


def site_lmp_shell_exports(python: str) -> str:
    """The same environment as a bash `export`, for commands that run on a worker node: PYTHONPATH is
    computed there, by the Python that runs the campaign's tasks."""
    import shlex

    query = f"{shlex.quote(python)} -m mlmd_parsl.science.lammps.site_lammps"
    overrides = " ".join(f"{k}={v}" for k, v in WEIGHTS_ONLY_OVERRIDE.items())
    return f'export {overrides} PYTHONPATH="$({query})${{PYTHONPATH:+:$PYTHONPATH}}"'


def quote_failure(output: str, log_text: str = "") -> str:
    """The lines that say why `lmp` failed: LAMMPS' ERROR line and the Python exception above it."""
    text = output + "\n" + log_text
    lines = [line.strip() for line in text.splitlines()]
    errors = [line for line in lines if line.startswith("ERROR")]
    exceptions = [line for line in lines if re.match(r"^[\w.]+(Error|Exception)\b.*:", line)]
    quoted = list(dict.fromkeys(exceptions[-1:] + errors[-1:]))
    if not quoted:
        tail = [line for line in lines if line][-5:]
        return " | ".join(tail) or "no output"
    hint = ""
    if any("No module named" in line for line in quoted):
        hint = (" (the Python inside lmp must import torch, hippynn and lammps from PYTHONPATH, and be the same "
                "Python version as the venv: lmp links the libpython it was built against)")
    return " | ".join(line[:600] for line in quoted) + hint


class SiteLammpsFailed(LammpsBuildError):
    """The site's `lmp` exited non-zero: carries the command, folder, exit code and the quoted reason."""

    def __init__(self, command, directory, returncode, reason):
        self.command, self.directory, self.returncode, self.reason = command, directory, returncode, reason
        super().__init__(f"`{' '.join(command)}` in {directory} exited with code {returncode}: {reason}")


def run_site_lammps(lmp: str, deck_text: str, work_dir, ranks: int = 1, kokkos_package=(), tag: str = "site",
                    timeout: float = 1800) -> Path:
    """Write `deck_text` to work_dir/<tag>.in, run it with the site's `lmp` on `ranks` MPI ranks (the venv's
    mpiexec), on one GPU through KOKKOS with `-pk kokkos <kokkos_package>` when that is given, and return its
    log; raise SiteLammpsFailed with the quoted reason if it fails."""
    from .kokkos_options import kokkos_gpu_args
    from .runtime import THIS_NODE_MPIEXEC_ENV, mpiexec_executable

    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    deck, log = work_dir / f"{tag}.in", work_dir / f"{tag}.lammps"
    deck.write_text(deck_text)
    kokkos = kokkos_gpu_args(1, kokkos_package) if kokkos_package else []
    command = [lmp, *kokkos, "-in", deck.name, "-log", log.name, "-screen", "none"]
    if ranks > 1:
        command = [mpiexec_executable(), "-n", str(ranks)] + command
    env = {**site_lmp_environment(), **THIS_NODE_MPIEXEC_ENV, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    try:
        result = subprocess.run(command, cwd=work_dir, env=env, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SiteLammpsFailed(command, work_dir, -1, str(exc)) from None
    (work_dir / f"{tag}.out").write_text(result.stdout + result.stderr)  # what the site's LAMMPS printed
    if result.returncode != 0:
        log_text = log.read_text(errors="replace") if log.exists() else ""
        raise SiteLammpsFailed(command, work_dir, result.returncode,
                               quote_failure(result.stdout + result.stderr, log_text))
    return log


def choose_site_kokkos(lmp: str, model_file, box_file, work_dir, configured: str = "auto"):
    """The Kokkos options this `lmp` accepts, found as the campaign's preflight finds them (run 0 of the
    export on 284 atoms with each candidate line), in this process's environment: for the validation CLI,
    the harness and tests. Returns a KokkosChoice (its `failure` says why none ran)."""
    from .deck import ForceField, make_deck, single_stage_protocol
    from .kokkos_options import choose_kokkos_package

    deck = make_deck(Path(box_file).resolve(), PROBE_REPLICATE, single_stage_protocol(0),
                     ForceField.mliap(Path(model_file).resolve()), kokkos=True)

    def probe(package):
        try:
            run_site_lammps(lmp, deck.text, work_dir, 1, package, tag="kokkos_probe", timeout=600)
        except SiteLammpsFailed as exc:
            return exc.reason
        return None

    return choose_kokkos_package(probe, configured)


if __name__ == "__main__":
    print(embedded_python_path())
    sys.exit(0)
