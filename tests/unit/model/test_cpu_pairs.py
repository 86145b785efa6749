"""The fused numba pair kernels (cpu_pairs.py) give LeanHipnn's torch energy and pair forces on the CPU.
Skipped where numba is not installed (issue 41: not yet a dependency; pip install numba)."""
import pytest
import torch

from tests.unit.model.test_lean_hipnn import periodic_pairs

pytest.importorskip("numba", reason="numba is not installed (pip install numba: the CPU pair kernels' compiler)")


@pytest.fixture(scope="module")
def lean_networks(untrained_model):
    from mlmd_parsl.science.model.export import load_exported_model
    from mlmd_parsl.science.model.lean_hipnn import LeanHipnn

    graph = load_exported_model(untrained_model["model"]).graph
    return {dtype: LeanHipnn.from_graph(graph.to(dtype)) for dtype in (torch.float64, torch.float32)}


@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-12), (torch.float32, 2e-5)])
@pytest.mark.parametrize("order", ["by atom", "shuffled"])
def test_cpu_kernels_give_the_torch_energy_and_pair_forces(lean_networks, dtype, tolerance, order):
    lean = lean_networks[dtype]
    n, i, j, pc = periodic_pairs(4.5, replicate=(1, 1, 2))  # reach beyond the cutoff: some pairs add nothing
    if order == "shuffled":
        perm = torch.randperm(len(i), generator=torch.Generator().manual_seed(0))
        i, j, pc = i[perm], j[perm], pc[perm]
    pc = pc.to(dtype)
    z, weight = torch.full((n,), 47), (torch.arange(n) < n - 30).to(dtype)
    ref_energy, ref_forces = lean.use_cpu_kernels(False).energy_and_pair_forces(z, i, j, pc, weight)
    energy, forces = lean.use_cpu_kernels().energy_and_pair_forces(z, i, j, pc, weight)
    lean.use_cpu_kernels(False)
    scale = float(ref_forces.abs().max())
    assert scale > 0.01 and forces.dtype == dtype
    assert float((forces - ref_forces).abs().max()) <= tolerance * scale
    assert float(energy) == pytest.approx(float(ref_energy), rel=tolerance)
    beyond = pc.norm(dim=1) > lean.hard_max
    assert beyond.any() and float(forces[beyond].abs().max()) == 0.0


def test_pairs_of_atoms_beyond_natoms_add_nothing_and_get_zero_gradient(lean_networks):
    from mlmd_parsl.science.model.cpu_pairs import CpuPairWeights, cpu_pair_sums

    lean = lean_networks[torch.float64]
    n, i, j, pc = periodic_pairs(4.0, replicate=(1, 1, 2))
    weights, natoms = CpuPairWeights(lean), n - 5
    coord = pc.double().requires_grad_(True)
    part = cpu_pair_sums(weights, i, coord, natoms)
    whole = cpu_pair_sums(weights, i, pc.double(), n)
    (grad,) = torch.autograd.grad(part.sum(), coord)
    later = i >= natoms
    assert later.any() and float(grad[later].abs().max()) == 0.0 and float(grad[~later].abs().max()) > 0
    assert torch.allclose(part, whole[:natoms], rtol=0, atol=1e-12)
