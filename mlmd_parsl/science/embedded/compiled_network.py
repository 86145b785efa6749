"""The lean network's energy compiled by torch.compile (inductor): by default in the captured GPU step; with
`md.py --compile on` also in the CPU's eager step (measured slower there on a 2-core machine).

Eager, the lean step is about 230 kernels per MD step, most of them elementwise passes over every pair (the
sensitivities, the cutoff, the angular terms and their backward), each reading and writing the whole pair
array. Inductor fuses those chains, forward and backward, into a few Triton kernels; the captured graph then
replays about 100 kernels. Measured on one H200 with the physical model at 9,088 atoms: the captured,
compacted step 1.47 -> 0.83 ms (benchmarks/RESULTS.md, issue 15). The arithmetic is the same; the order of
float32 additions may differ, as between any two kernels.
"""
import torch


class CompiledLean:
    """LeanHipnn's energy_and_pair_forces with the energy compiled; autograd runs inductor's compiled backward.
    Compilation happens on the first call (the captured step's warm-up, before capture) and again when the
    captured buffers grow (dynamic=None: a second shape compiles a dynamic-shape kernel set). The eager CPU
    step, whose pair count changes every step, asks for dynamic=True at once."""

    def __init__(self, lean, dynamic=None):
        self.lean = lean
        self.hard_max = lean.hard_max

        def energy(atomic_numbers, pair_i, pair_j, pair_coord, local_weight):
            energies = lean.atom_energies(atomic_numbers, pair_i, pair_j, pair_coord, padded_sums=False)
            return (energies * local_weight).sum()

        self.energy = torch.compile(energy, fullgraph=True, dynamic=dynamic)

    def energy_and_pair_forces(self, atomic_numbers, pair_i, pair_j, pair_coord, local_weight):
        pair_coord = pair_coord.detach().requires_grad_(True)
        energy = self.energy(atomic_numbers, pair_i, pair_j, pair_coord, local_weight)
        (grad,) = torch.autograd.grad(energy, pair_coord)
        return energy.detach(), -grad


def why_not_compiled(device) -> str:
    """'' when torch.compile can build kernels for `device` here, else the reason (the network then runs
    uncompiled)."""
    from importlib.util import find_spec
    import os
    import shutil

    if torch.device(device).type == "cuda":
        if find_spec("triton") is None:
            return "triton is not installed (torch.compile's GPU kernels need it)"
        return ""
    if not any(shutil.which(c) for c in (os.environ.get("CXX", ""), "g++", "c++", "clang++") if c):
        return "no C++ compiler found (torch.compile's CPU kernels need one)"
    return ""
