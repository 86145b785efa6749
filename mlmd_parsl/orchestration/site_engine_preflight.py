"""The site engine's preflight: before the first MD case of a division, one rank of the site's LAMMPS evaluates
the exported model once (run 0), launched as MD cases are; on GPUs it also finds the Kokkos line that LAMMPS
accepts. What it found goes into the manifest (site_engine.<division>)."""
import shlex
from pathlib import Path

from ..config import SiteConfig
from ..science.lammps.logs import parse_log
from .site_engine_files import site_lmp
from .rundir import update_manifest


def site_engine_probe_command(probe_dir: str, lmp: str, kokkos_package: tuple, python: str) -> str:
    """Preflight by doing: one rank of the site's LAMMPS evaluates the exported model once (run 0), launched the
    way MD cases are (on one GPU through KOKKOS with `-pk kokkos <kokkos_package>` when that is given), so
    whatever stops it (model load, imports, packages, Kokkos options, MPI) stops it here, in seconds."""
    from ..science.lammps.kokkos_options import kokkos_gpu_args
    from ..science.lammps.site_lammps import site_lmp_shell_exports

    args = [lmp, *(kokkos_gpu_args(1, kokkos_package) if kokkos_package else []), "-in", "in.lammps", "-log",
            "log.lammps"]
    return (f"cd {shlex.quote(str(Path(probe_dir)))} && export OMP_NUM_THREADS=1 PYTHONWARNINGS=ignore && "
            f"{site_lmp_shell_exports(python)} && $PARSL_MPI_PREFIX {' '.join(shlex.quote(a) for a in args)}")


def preflight_site_engine(site: SiteConfig, run_dir: Path, run_probe, log=print, manifest_dir: Path = None) -> dict:
    """Preflight by doing: the site's `lmp` evaluates the division's exported model once (run 0, one rank, launched
    as MD cases are) before any MD case; on GPUs through KOKKOS it finds the options that `lmp` accepts
    (kokkos_options.py says how). `run_dir`: the division's folder; `manifest_dir`: the run's (default: run_dir).
    run_probe(probe_dir, lmp, kokkos_package) runs case_plan.site_engine_probe_command with its output in
    probe_dir/stdout.txt and stderr.txt and returns its exception or None. Returns {"lmp", "kokkos": KokkosChoice
    record or None}, also written to the manifest under site_engine.<division>; raises LammpsBuildError (exit 2)
    quoting why it failed. The trained model is kept."""
    import time

    from ..errors import LammpsBuildError
    from ..science.lammps.kokkos_options import choose_kokkos_package
    from .site_engine_files import clear_probe_outputs, write_site_engine_probe

    probe_dir = write_site_engine_probe(site, run_dir)
    lmp = site_lmp(site)
    start = time.monotonic()

    def probe(kokkos_package):
        clear_probe_outputs(probe_dir)
        return probe_failure(probe_dir, run_probe(probe_dir, lmp, kokkos_package))

    if site.md.kokkos:
        choice = choose_kokkos_package(probe, site.md.kokkos_package)
        reason, kokkos = choice.failure or None, choice.as_record()
    else:
        reason, kokkos = probe(()), None
    manifest_dir = Path(manifest_dir or run_dir)
    if reason is not None:
        record_site_engine(manifest_dir, site, {"lmp": lmp, "kokkos": kokkos, "preflight": "failed", "reason": reason})
        raise LammpsBuildError(
            f"md.engine mliap: the site's LAMMPS {lmp} cannot run the {site.division} division's exported model "
            f"(preflight, run 0 in {probe_dir}): {reason}. No MD case was started; the trained model is kept: fix "
            f"this, then continue with --resume {manifest_dir}")
    log_file = probe_dir / "log.lammps"
    launch = {"lmp": lmp, "kokkos": kokkos, "preflight": "ok"}
    record_site_engine(manifest_dir, site, launch)
    log(f"{site.division}: site engine preflight: {lmp} evaluated the {site.md.mliap_model} export (run 0, "
        f"{parse_log(log_file).atoms} atoms, PE {probe_energy(log_file):.3f} eV) in {time.monotonic() - start:.0f} s"
        + (f"; MD cases run {choice.describe()}" if kokkos else ""))
    return launch


def record_site_engine(manifest_dir: Path, site: SiteConfig, launch: dict):
    """manifest.json's site_engine.<division>: what the preflight found, kept beside the other division's."""
    import json

    path = Path(manifest_dir) / "manifest.json"
    recorded = (json.loads(path.read_text()).get("site_engine") or {}) if path.is_file() else {}
    update_manifest(manifest_dir, site_engine={**recorded, str(site.division): launch})


def probe_energy(log_file: Path):
    from ..science.lammps.logs import thermo_tables

    return thermo_tables(log_file).get("timed", [{}])[0].get("PotEng") if log_file.exists() else None


def probe_failure(probe_dir: Path, exc):
    """None if the probe evaluated the model (its log has the energy), else the quoted reason it did not."""
    from ..science.lammps.site_lammps import quote_failure

    log_file = probe_dir / "log.lammps"
    if exc is None and probe_energy(log_file) is not None:
        return None
    output = "".join(p.read_text(errors="replace") for p in (probe_dir / "stdout.txt", probe_dir / "stderr.txt")
                     if p.exists())
    return quote_failure(output, log_file.read_text(errors="replace") if log_file.exists() else "")
