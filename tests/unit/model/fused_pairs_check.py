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
    scale = float(ref_forces.abs().max())
    return {"energy": float(energy), "ref_energy": float(ref_energy), "force_error": float((forces - ref_forces).abs().max()),
            "force_scale": scale, "padding_force": float(forces[-pad:].abs().max()), "dtype": str(forces.dtype),
            "fused": lean.fused is not None, "no_pairs_forces": len(no_pairs[1]), "npairs": len(i)}


if __name__ == "__main__":
    print(json.dumps({name: compare(sys.argv[1], getattr(torch, name)) for name in ("float64", "float32")}))
