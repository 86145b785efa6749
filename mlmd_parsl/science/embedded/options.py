"""How the embedded engine runs a model, and the `python -m mlmd_parsl.md` command line that asks for it.

One `EngineOptions` is what md's flags say; `md_argv` is the one place that writes that command line (the
campaign's MD cases, the validation's standalone runs and the benchmarks all run it)."""
import sys
from dataclasses import dataclass

from ..choices import ModelStepKind

DEFAULT_SKIN = 1.0  # Angstrom beyond the cutoff that reused pair candidates reach (pairs.py)
MAX_PAIR_SKIN = 2.0  # LAMMPS' own neighbour skin in metal units; more only adds candidates
COMPILE_CHOICES = ("auto", "on", "off")
# The lean network's pair part: fused Triton kernels (GPU), the whole step as one fused numba kernel (CPU,
# cpu_step.py) or torch's operations (the reference). "auto": on a CPU the numba step (benchmarks/RESULTS.md, issue
# 41), on a GPU torch's operations - on an H200 the compiled network's captured step beat the fused kernels'
# (issue 24); the lean export in the seed's LAMMPS uses them (lean_mliap.py).
PAIR_KERNELS = ("auto", "triton", "numba", "torch")


@dataclass(frozen=True)
class EngineOptions:
    device: str = "cpu"  # torch device of the model (cpu, cuda, cuda:N; a rank's own GPU: embedded.device_for_rank)
    dtype: str = "float32"
    pair_skin: float = DEFAULT_SKIN
    model_step: ModelStepKind = ModelStepKind.LEAN  # falls back to hippynn's graph for networks the lean one lacks
    cuda_graph: bool = True  # on a GPU, replay the lean step as one captured CUDA graph (captured_step.py)
    compact_min_atoms: int = None  # None: captured_step.COMPACT_MIN_ATOMS
    compile_network: str = "auto"  # COMPILE_CHOICES (compiled_network.py)
    pair_kernels: str = "auto"  # PAIR_KERNELS: numba on a CPU, torch's operations on a GPU, or as named

    def __post_init__(self):
        object.__setattr__(self, "model_step", ModelStepKind(self.model_step))

    def to_argv(self) -> list:
        """md's flags for these options: device and dtype always, the rest where they differ from md's defaults."""
        argv = ["--device", self.device, "--dtype", self.dtype]
        default = EngineOptions()
        if self.model_step is not default.model_step:
            argv += ["--model-step", str(self.model_step)]
        if not self.cuda_graph:
            argv.append("--no-cuda-graph")
        if self.compile_network != default.compile_network:
            argv += ["--compile", self.compile_network]
        if self.pair_kernels != default.pair_kernels:
            argv += ["--pair-kernels", self.pair_kernels]
        if self.compact_min_atoms is not None:
            argv += ["--compact-min-atoms", str(self.compact_min_atoms)]
        if self.pair_skin != default.pair_skin:
            argv += ["--pair-skin", f"{self.pair_skin:g}"]
        return argv


def md_argv(model, box, replicate, log, options: EngineOptions = EngineOptions(), profile=None, steps=None,
            timed_steps=None, dump_forces=None, python=None) -> list:
    """`python -m mlmd_parsl.md ...` for one run: `profile` (the MD-HO protocol) or `steps` (one NVE stage)."""
    argv = [python or sys.executable, "-m", "mlmd_parsl.md", "--model", str(model), "--box", str(box),
            "--replicate", *map(str, replicate)]
    if profile is not None:
        argv += ["--profile", profile]
    if steps is not None:
        argv += ["--steps", str(steps)]
    if timed_steps is not None:
        argv += ["--timed-steps", str(timed_steps)]
    if dump_forces is not None:
        argv += ["--dump-forces", str(dump_forces)]
    return argv + ["--log", str(log)] + options.to_argv()
