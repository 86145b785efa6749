"""What differs between md.engine choices, as one interface. Each engine is one module implementing MDBackend;
md_backends/__init__.py registers it under its MDEngine word, and the rest of the code asks `backend_for(engine)`
instead of branching on the engine (tests/unit/test_architecture.py counts such branches: none outside here).

The defaults are those of an engine that is a Python program on the worker: no site LAMMPS to find or check, no
deck to write before the case, no preflight, nothing for the cross-engine check."""
from pathlib import Path

from ...config import SiteConfig
from ...science.choices import MDEngine
from ...science.model.export import Export
from ..cases import MDCase, SiteLammpsRun


class MDBackend:
    engine: MDEngine
    code_modules: tuple = ()  # package modules whose source (and imports) is in its cases' content key

    def lmp(self, site: SiteConfig) -> str:
        """The site's LAMMPS executable the cases run, as configured ('' where the engine brings its own)."""
        return ""

    def lammps_executable(self, lmp: str) -> str:
        """The LAMMPS the worker's provenance record describes (`lmp`: what lmp() gave)."""
        raise NotImplementedError

    def check_before_run(self, site: SiteConfig) -> None:
        """The driver's checks before any worker starts; raises LammpsBuildError (exit 2) naming what is missing."""

    def site_lammps_run(self, site: SiteConfig, ranks: int, kokkos_package: tuple) -> SiteLammpsRun:
        """What a case of `ranks` runs in the site's LAMMPS (`kokkos_package`: the -pk kokkos line, with md.kokkos);
        None for an engine that runs none. A presized case's row names that deviation."""
        return None

    def command(self, case: MDCase, exported: Export, python: str, custom_kernels: str, threads: int) -> str:
        """The bash command of one MD case (launch.py: how its ranks start)."""
        raise NotImplementedError

    def prepare(self, case: MDCase) -> None:
        """What the command needs in the case's folder, written just before the case is submitted."""

    def launch_preflight(self, site: SiteConfig, folder: Path, run_probe, log, manifest_dir: Path):
        """Before the first MD case of a division: prove the engine runs the export (raise LammpsBuildError if not).
        Returns the launch it found (recorded in the manifest and the summary) or None."""
        return None

    def probe_commands(self, site: SiteConfig, folder: Path) -> list:
        """[(kokkos package, command)] the launch preflight may run, in order (for the dry run)."""
        return []

    def validation_engine(self, site: SiteConfig, exported: Export, cases: list):
        """The site's LAMMPS for the validation's cross-engine check (cross_engine.SiteEngine), or None."""
        return None

    def dry_run_notes(self, site: SiteConfig, cases: list) -> list:
        """Lines the dry run adds after the tasks (e.g. the deck a case runs)."""
        return []
