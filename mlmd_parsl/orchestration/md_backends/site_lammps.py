"""md.engine mliap (the seed's): the site's LAMMPS runs the MD-HO deck with `pair_style mliap unified` on the
exported model, launched as the seed launches it; a preflight (run 0 of the export) before the first case, and the
cross-engine check in the validation."""
import shlex

from ...science.choices import MDEngine
from ...science.lammps.mliap_pair_arrays import presize_applies
from ..cases import SiteLammpsRun
from ..site_engine_files import site_engine_deck, site_lmp, write_site_engine_deck
from ..launch import launch_prefix, rank_command
from ..rundir import site_engine_preflight_dir
from .base import MDBackend


class SiteLammpsBackend(MDBackend):
    engine = MDEngine.MLIAP
    # the site's LAMMPS runs our deck and, for the lean export, unpickles lean_mliap's class at run time
    code_modules = ("mlmd_parsl.science.lammps.deck", "mlmd_parsl.science.model.lean_mliap")

    def lmp(self, site):
        return site_lmp(site)

    def lammps_executable(self, lmp):
        return lmp

    def check_before_run(self, site):
        from ...science.lammps.build import inspect_build, resolve_lmp

        inspect_build(self.engine, resolve_lmp(site.md.lmp), site.md.kokkos, division=site.division)

    def site_lammps_run(self, site, ranks, kokkos_package):
        return SiteLammpsRun(lmp=site_lmp(site), export=site.md.mliap_model, kokkos=site.md.kokkos,
                             kokkos_package=kokkos_package,
                             presize=presize_applies(site.md.mliap_presize, ranks, site.md.kokkos))

    def command(self, case, exported, python, custom_kernels, threads):
        """The seed's way: the site's LAMMPS runs in.lammps (written by prepare), with the seed's environment (its
        run scripts export HIPPYNN_USE_CUSTOM_KERNELS and HIPPYNN_WARN_LOW_DISTANCES) and what its embedded Python
        needs (science/lammps/site_lammps.py says why). On GPUs: `-k on g 1`, one GPU per rank, as the seed
        launches every case."""
        from ...science.lammps.kokkos_options import kokkos_gpu_args
        from ...science.lammps.site_lammps import site_lmp_shell_exports

        run = case.site_lammps
        kokkos = kokkos_gpu_args(1, run.kokkos_package) if run.kokkos else []
        args = [run.lmp, *kokkos, "-in", "in.lammps", "-log", str(case.log)]
        return (
            f"cd {shlex.quote(str(case.dir))} && export OMP_NUM_THREADS={int(threads)} "
            f"HIPPYNN_USE_CUSTOM_KERNELS={shlex.quote(custom_kernels)} HIPPYNN_WARN_LOW_DISTANCES=False "
            f"PYTHONWARNINGS=ignore && {site_lmp_shell_exports(python)} && "
            f"{launch_prefix(case)}{rank_command(case, args)}"
        )

    def prepare(self, case):
        write_site_engine_deck(case)

    def launch_preflight(self, site, folder, run_probe, log, manifest_dir):
        from ..site_engine_preflight import preflight_site_engine

        return preflight_site_engine(site, folder, run_probe, log, manifest_dir=manifest_dir)

    def probe_commands(self, site, folder):
        from ...science.lammps.kokkos_options import preflight_candidates
        from ..site_engine_preflight import site_engine_probe_command

        tries = preflight_candidates(site.md.kokkos_package) if site.md.kokkos else [()]
        return [(package, site_engine_probe_command(str(site_engine_preflight_dir(folder)), site_lmp(site),
                                                    package, site.provider.task_python)) for package in tries]

    def validation_engine(self, site, exported, cases):
        from ...science.validation.cross_engine import SiteEngine

        return SiteEngine(site_lmp(site), exported.mliap_file(site.md.mliap_model), site.md.model_device,
                          cases[0].site_lammps.kokkos_package if cases else ())

    def dry_run_notes(self, site, cases):
        if not cases:
            return []
        shown = next((case for case in cases if case.site_lammps.presize), cases[0])
        presized = {case.site_lammps.presize for case in cases}
        differs = "its replicate line" + (", and cases of one rank have no presize_pair_arrays lines"
                                          if len(presized) > 1 else "")
        return [f"\n# {site.division}: in.lammps of {shown.task} (each case's differs only in {differs}):"
                f"\n{site_engine_deck(shown).text}"]
