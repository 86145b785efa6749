"""The engine's model step: one protocol over every back-end, as ASE's `Calculator.calculate()` is one call
over every code. The back-ends: the lean step (LeanHipnn), hippynn's own graph (the call LAMMPS'
`pair_style mliap unified` makes, MLIAPInterface.compute_forces), and the lean step captured as one CUDA
graph (captured_step.py).

A step is told each time the candidate pair list is rebuilt (`prepare`), and evaluates the positions of every
MD step (`evaluate`): the energy of the local atoms, the forces on every atom the model saw and the virial,
as host float64 values. The engine calls nothing else.
"""
import sys
from typing import Protocol

import numpy as np

from .force_assembly import assemble

from ..choices import ModelStepKind
from .options import COMPILE_CHOICES, PAIR_KERNELS  # noqa: F401 (what step() takes)

MODEL_STEPS = ModelStepKind.words()

class ModelStep(Protocol):
    name: str

    def prepare(self, pairs, atomic_numbers) -> None:
        """A new candidate list in `pairs` (VerletPairs), for model atoms of these atomic numbers."""

    def evaluate(self, pairs, x) -> tuple:
        """(energy, forces (natoms, 3), virial (6,)) for positions x (device tensor) of the prepared atoms."""


class ExportedModel:
    """An exported hippynn_lammps_model.pt on one device and dtype: its cutoff, species and model steps."""

    def __init__(self, interface, device="cpu", dtype="float32"):
        import torch

        from ..model.export import model_cutoff

        self.torch = torch
        self.device = torch.device(device)
        self.dtype = getattr(torch, dtype)
        self.graph = interface.graph.to(self.device).to(self.dtype)
        self.species_set = interface.species_set.to(self.device)
        self.cutoff = model_cutoff(interface)

    def atomic_numbers(self, lammps_types):
        """LAMMPS types (1-based, in element_types order) -> atomic numbers of the model's species."""
        return self.species_set[self.torch.as_tensor(np.asarray(lammps_types), device=self.device)]

    def eager_step(self, model_step=ModelStepKind.LEAN, compiled=False):
        """The eager step of `model_step` (the lean network compiled by torch.compile with `compiled`); a
        network the lean step does not support falls back to hippynn's graph (the returned step's
        `fallback_reason` says why)."""
        from ..model.lean_hipnn import LeanHipnn, UnsupportedNetwork

        if model_step not in MODEL_STEPS:
            raise ValueError(f"model_step {model_step!r}: one of {', '.join(MODEL_STEPS)}")
        if ModelStepKind(model_step) is ModelStepKind.LEAN:
            try:
                return EagerStep(LeanPairForces(LeanHipnn.from_graph(self.graph), compiled), self.device, self.dtype)
            except UnsupportedNetwork as exc:
                return EagerStep(HippynnPairForces(self.graph), self.device, self.dtype,
                                 fallback_reason=f"hippynn's graph used: {exc}")
        return EagerStep(HippynnPairForces(self.graph), self.device, self.dtype)

    def step(self, model_step=ModelStepKind.LEAN, cuda_graph=True, compact_min_atoms=None, compile_network="auto",
             pair_kernels="auto") -> ModelStep:
        """The engine's step: on a GPU with cuda_graph, the lean step captured as a CUDA graph (compacting the
        pairs within the cutoff from compact_min_atoms on; None: captured_step's default) up to its size limit
        and eager above; else the eager step. pair_kernels (PAIR_KERNELS): on a CPU with "numba", or "auto" unless
        compile_network is "on", the whole lean step as one fused numba kernel (cpu_step.py; nothing compiled);
        the lean network's pair part by the fused Triton kernels (fused_pairs.py) with "triton"; by torch's
        operations with "torch", and "auto" on a GPU. compile_network (COMPILE_CHOICES): the lean network compiled
        by torch.compile - "auto" in the captured GPU step without fused kernels, "on" in the eager CPU step and
        beside fused kernels too, "off" nowhere; where this torch cannot compile or the kernels cannot run, a note
        and the network as it is."""
        from .compiled_network import why_not_compiled

        if compile_network not in COMPILE_CHOICES:
            raise ValueError(f"compile_network {compile_network!r}: one of {', '.join(COMPILE_CHOICES)}")
        if pair_kernels not in PAIR_KERNELS:
            raise ValueError(f"pair_kernels {pair_kernels!r}: one of {', '.join(PAIR_KERNELS)}")
        captured_graph = cuda_graph and self.device.type == "cuda"
        eager = self.eager_step(model_step)
        lean = eager.pair_forces.lean if isinstance(eager.pair_forces, LeanPairForces) else None
        fused = pair_kernels == "triton" and lean is not None and self._fuse(lean, say_why=True)
        wants_cpu_step = pair_kernels == "numba" or (pair_kernels == "auto" and compile_network != "on")
        if wants_cpu_step and lean is not None and self._fuse_cpu_step(lean, pair_kernels):
            return eager  # the whole step is one numba kernel: nothing to compile or capture
        compiled = compile_network == "on" or (compile_network == "auto" and captured_graph and not fused)
        reason = why_not_compiled(self.device) if compiled else ""
        if reason:
            sys.stderr.write(f"note: the lean network runs uncompiled: {reason}\n")
            compiled = False
        if compiled and not captured_graph and isinstance(eager.pair_forces, LeanPairForces):
            eager = EagerStep(LeanPairForces(eager.pair_forces.lean, compiled=True), self.device, self.dtype)
        if captured_graph and isinstance(eager.pair_forces, LeanPairForces):
            from .captured_step import COMPACT_MIN_ATOMS, CapturedLeanStep

            compact_from = COMPACT_MIN_ATOMS if compact_min_atoms is None else compact_min_atoms
            captured = CapturedLeanStep(eager.pair_forces.lean, self.device, self.dtype, compact_from, compiled)
            return SizeSwitchedStep(captured, eager)
        return eager

    def _fuse_cpu_step(self, lean, pair_kernels) -> bool:
        """On a CPU, switch `lean` to the fused numba step (cpu_step.py) where it runs; if asked for by name and not
        possible, say why. "auto" on a GPU: False."""
        from ..model.cpu_step import fused_cpu_step_unavailable

        reason = fused_cpu_step_unavailable(lean, self.device)
        if reason and pair_kernels == "numba":
            sys.stderr.write(f"note: the lean network runs in torch: {reason}\n")
        if not reason:
            lean.use_cpu_kernels()
        return not reason

    def _fuse(self, lean, say_why) -> bool:
        """Switch `lean` to the fused pair kernels where they run here; if asked for and not possible, say why."""
        from ..model.lean_hipnn import fused_kernels_unavailable

        reason = fused_kernels_unavailable(lean, self.device)
        if reason and say_why:
            sys.stderr.write(f"note: the lean network's pair part runs in torch: {reason}\n")
        if not reason:
            lean.use_fused_kernels()
        return not reason


class LeanPairForces:
    def __init__(self, lean, compiled=False):
        """compiled: the network compiled by torch.compile for changing pair counts (compiled_network.py); if
        compiling fails, a note on stderr and the network as it is from then on."""
        self.lean = lean
        self.network = lean
        if compiled:
            from .compiled_network import CompiledLean

            self.network = CompiledLean(lean, dynamic=True)

    @property
    def name(self):
        name = "lean (compiled)" if self.network is not self.lean else "lean"
        if getattr(self.lean, "cpu_step", None) is not None:
            return name + " (fused CPU step, numba)"
        return name + (" + fused pair kernels" if getattr(self.lean, "fused", None) is not None else "")

    def __call__(self, z, pair_i, pair_j, pair_coord, nlocal):
        torch = sys.modules["torch"]
        local_weight = (torch.arange(len(z), device=z.device) < nlocal).to(pair_coord.dtype)
        try:
            return self.network.energy_and_pair_forces(z, pair_i, pair_j, pair_coord, local_weight)
        except Exception as exc:  # compiling failed (the uncompiled network's errors are raised as they are)
            if self.network is self.lean:
                raise
            sys.stderr.write(f"torch.compile of the lean network failed ({type(exc).__name__}: {str(exc)[:300]}); "
                             "it runs uncompiled\n")
            self.network = self.lean
            return self.lean.energy_and_pair_forces(z, pair_i, pair_j, pair_coord, local_weight)


class HippynnPairForces:
    name = "hippynn"

    def __init__(self, graph):
        self.graph = graph

    def __call__(self, z, pair_i, pair_j, pair_coord, nlocal):
        torch = sys.modules["torch"]
        n = torch.as_tensor(nlocal)  # on the host: the graph slices energies with it, a device copy would sync
        _, total_energy, pair_forces = self.graph(z.reshape(1, -1), pair_i, pair_j, pair_coord, n)
        return total_energy, pair_forces


class EagerStep:
    """Pairs within the cutoff -> pair forces (lean or hippynn) -> forces and virial assembled on the device."""

    def __init__(self, pair_forces, device, dtype, fallback_reason=""):
        self.pair_forces, self.device, self.dtype = pair_forces, device, dtype
        self.fallback_reason = fallback_reason
        self.numbers, self.nlocal = None, 0

    @property
    def name(self):
        return self.pair_forces.name

    def prepare(self, pairs, atomic_numbers):
        self.numbers, self.nlocal = atomic_numbers, pairs.nlocal

    def evaluate(self, pairs, x):
        return self.evaluate_pairs(self.numbers, self.nlocal, *pairs.within_cutoff(x))

    def evaluate_pairs(self, atomic_numbers, nlocal, pair_i, pair_j, pair_coord):
        """Energy of the first `nlocal` atoms, forces on every atom the model saw and the virial.

        pair_i / pair_j index `atomic_numbers`; pair_coord is x_i - x_j (any float dtype, numpy or torch).
        Forces are summed on the device (index_add_) in float64 and come back as one (n, 3) numpy array;
        the virial is sum_pairs (x_i - x_j) f_ij in LAMMPS order (xx, yy, zz, xy, xz, yz), energy units.
        """
        torch = sys.modules["torch"]
        z = atomic_numbers.reshape(-1)
        pi = torch.as_tensor(pair_i, device=self.device)
        pj = torch.as_tensor(pair_j, device=self.device)
        pc = torch.as_tensor(pair_coord, device=self.device)
        total_energy, pair_forces = self.pair_forces(z, pi, pj, pc.to(self.dtype), nlocal)
        with torch.no_grad():
            forces, scalars = assemble(len(z), pi, pj, pc, pair_forces, total_energy)
            scalars = scalars.cpu().numpy()
        return float(scalars[0]), forces.cpu().numpy(), scalars[1:]


class SizeSwitchedStep:
    """The captured step for lists of up to its max_atoms model atoms (or max_atoms if given), the eager step
    above (and from the first capture that fails on, with a note on stderr)."""

    def __init__(self, captured, eager, max_atoms=None):
        self.captured, self.eager, self.max_atoms = captured, eager, max_atoms
        self.fallback_reason = eager.fallback_reason
        self.current = eager
        self.graph_steps = self.steps = 0
        self.graph_name = captured.name

    @property
    def name(self):
        if self.graph_steps == 0:
            return self.eager.name
        if self.graph_steps == self.steps:
            return self.graph_name
        return f"{self.graph_name} for {self.graph_steps} of {self.steps} steps"

    def prepare(self, pairs, atomic_numbers):
        limit = self.max_atoms if self.max_atoms is not None else getattr(self.captured, "max_atoms", None)
        if self.captured is not None and pairs.natoms <= limit:
            try:
                self.captured.prepare(pairs, atomic_numbers)
                self.current, self.graph_name = self.captured, self.captured.name  # compiled, unless that failed
                return
            except RuntimeError as exc:  # a torch/driver that cannot capture: keep going, eagerly
                sys.stderr.write(f"CUDA graph capture failed ({exc}); the lean step runs eagerly\n")
                self.captured = None
        self.eager.prepare(pairs, atomic_numbers)
        self.current = self.eager

    def evaluate(self, pairs, x):
        self.steps += 1
        self.graph_steps += self.current is self.captured
        return self.current.evaluate(pairs, x)
