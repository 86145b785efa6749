"""Run by test_fused_pairs.py under TRITON_INTERPRET=1 (Triton's interpreter must be chosen before the kernels are
defined, so in a process of its own): the fused pair kernels against the torch arithmetic of LeanHipnn, on pairs
in random order, with padding pairs far away, in float64 and float32. Prints one JSON line."""
import json
import sys

import torch

from mlmd_parsl.science.model.export import load_exported_model
from mlmd_parsl.science.model.lean_hipnn import LeanHipnn
from tests.unit.model.test_lean_hipnn import periodic_pairs


def compare(model, dtype, pad=7):
    lean = LeanHipnn.from_graph(load_exported_model(model).graph.to(dtype))
    n, i, j, pc = periodic_pairs(4.5, replicate=(1, 1, 2))
    order = torch.randperm(len(i), generator=torch.Generator().manual_seed(0))  # the kernels take any pair order
    i = torch.cat([i[order], torch.full((pad,), n - 1)])
    j = torch.cat([j[order], torch.full((pad,), n - 1)])
    pc = torch.cat([pc[order], torch.tensor([[1e3, 0.0, 0.0]] * pad, dtype=pc.dtype)]).to(dtype)
    z, weight = torch.full((n,), 47), (torch.arange(n) < n - 30).to(dtype)
    ref_energy, ref_forces = lean.energy_and_pair_forces(z, i, j, pc, weight)
    energy, forces = lean.use_fused_kernels().energy_and_pair_forces(z, i, j, pc, weight)
    no_pairs = lean.energy_and_pair_forces(z, i[:0], j[:0], pc[:0], weight)
    by_atom = torch.argsort(i, stable=True)  # as ML-IAP hands them over
    sorted_energy, sorted_forces = lean.energy_and_pair_forces(z, i[by_atom], j[by_atom], pc[by_atom], weight)
    scale = float(ref_forces.abs().max())
    return {"energy": float(energy), "ref_energy": float(ref_energy),
            "force_error": float((forces - ref_forces).abs().max()),
            "sorted_energy": float(sorted_energy),
            "sorted_force_error": float((sorted_forces - ref_forces[by_atom]).abs().max()),
            "force_scale": scale, "padding_force": float(forces[-pad:].abs().max()), "dtype": str(forces.dtype),
            "fused": lean.fused is not None, "no_pairs_forces": len(no_pairs[1]), "npairs": len(i),
            **beyond_natoms(lean, n, i, pc)}


def beyond_natoms(lean, n, i, pc):
    """Sums of the first natoms atoms only: pairs of later atoms (the captured step's padding atom) add nothing
    and get zero gradient; the sums of the first atoms are those of the whole set."""
    from mlmd_parsl.science.gpu.fused_pairs import fused_pair_sums

    natoms = n - 5
    coord = pc.detach().clone().requires_grad_(True)
    part = fused_pair_sums(lean.fused, i, coord, natoms, pc.dtype)
    whole = fused_pair_sums(lean.fused, i, pc, n, pc.dtype)
    (grad,) = torch.autograd.grad(part.sum(), coord)
    later = i >= natoms
    return {"beyond_rows": len(part), "beyond_sums_error": float((part - whole[:natoms]).abs().max()),
            "beyond_grad": float(grad[later].abs().max()), "beyond_grad_kept": float(grad[~later].abs().max()),
            "beyond_pairs": int(later.sum())}


class KokkosLikeData:
    """What ML-IAP's KOKKOS coupling hands compute_forces (device arrays there, CPU tensors here): local atoms,
    pairs within the cutoff (pair_i, rij = x_j - x_i), every atom's element, and where results go."""

    def __init__(self, nlocal, ntotal, pair_i, pair_j, pair_coord):
        self.nlistatoms, self.npairs = nlocal, len(pair_i)
        self.pair_i, self.pair_j = pair_i.to(torch.int32), pair_j.to(torch.int32)
        self.rij = (-pair_coord).to(torch.float64)
        self.elems = torch.zeros(ntotal, dtype=torch.int32)
        self.eatoms = torch.full((nlocal,), float("nan"), dtype=torch.float64)
        self.energy = self.pair_forces = None

    def update_pair_forces_gpu(self, forces):
        self.pair_forces = forces.clone()


def captured_mliap_step(model, shrink=40):
    """CapturedMLIAPStep (run eagerly on a CPU) over three steps, the second with fewer pairs and local atoms in the
    buffers the first sized, the third with its pairs out of order, against the torch arithmetic on the same pairs."""
    from mlmd_parsl.science.model.lean_mliap import LeanMLIAPModel
    from mlmd_parsl.science.gpu.lean_mliap_step import CapturedMLIAPStep

    interface = load_exported_model(model)
    export = LeanMLIAPModel.from_interface(interface)  # what lean_lammps_model.pt holds
    reference = LeanHipnn.from_graph(interface.graph)
    step = CapturedMLIAPStep(export.lean.use_fused_kernels(), export.species_set, "cpu", export.dtype)
    n, i, j, pc = periodic_pairs(4.0, replicate=(1, 1, 2))
    worst = {"energy": 0.0, "eatoms": 0.0, "force": 0.0}
    for nlocal, shuffled in ((n, False), (n - shrink, False), (n, True)):
        keep = torch.nonzero(i < nlocal).reshape(-1)  # ML-IAP's pairs start at local atoms, sorted by atom
        if shuffled:  # pairs in another order: atomics take any
            keep = keep[torch.randperm(len(keep), generator=torch.Generator().manual_seed(1))]
        data = KokkosLikeData(nlocal, n, i[keep], j[keep], pc[keep])
        step.compute_forces(data)
        z, weight = torch.full((n,), 47), (torch.arange(n) < nlocal).to(torch.float32)
        energy, forces = reference.energy_and_pair_forces(z, i[keep], j[keep], pc[keep].float(), weight)
        eatoms = reference.atom_energies(z, i[keep], j[keep], pc[keep].float(), nlocal)
        worst["energy"] = max(worst["energy"], abs(data.energy - float(energy)) / abs(float(energy)))
        worst["eatoms"] = max(worst["eatoms"], float((data.eatoms - eatoms.detach()).abs().max()))
        worst["force"] = max(worst["force"], float((data.pair_forces - forces).abs().max() / forces.abs().max()))
    return {**worst, "pair_capacity": step.pair_capacity, "npairs_first": int((i < n).sum()),

            "forces_dtype": str(data.pair_forces.dtype)}


if __name__ == "__main__":
    result = {name: compare(sys.argv[1], getattr(torch, name)) for name in ("float64", "float32")}
    print(json.dumps({**result, "mliap_step": captured_mliap_step(sys.argv[1])}))
