"""LeanHipnn: the engine's model step gives hippynn's own graph's energy and pair forces, from the same weights."""
import numpy as np
import pytest
import torch

from mlmd_parsl.science.model.export import load_exported_model
from mlmd_parsl.science.model.lean_hipnn import LeanHipnn, UnsupportedNetwork
from mlmd_parsl.science.embedded.model_steps import ExportedModel
from tests.conftest import FIXTURES


def periodic_pairs(cutoff, replicate=(2, 2, 2), seed=0):
    """Pairs (i, j, x_i - x_j) of a jiggled silver box within `cutoff` (ASE's periodic neighbour list)."""
    import ase.io
    from ase.neighborlist import neighbor_list

    atoms = ase.io.read(FIXTURES / "ag_box.data", format="lammps-data", atom_style="atomic").repeat(replicate)
    atoms.positions += np.random.default_rng(seed).normal(0, 0.1, atoms.positions.shape)
    i, j, d = neighbor_list("ijD", atoms, cutoff)
    return len(atoms), torch.as_tensor(i), torch.as_tensor(j), torch.as_tensor(-d)  # D = x_j - x_i


@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-10), (torch.float32, 2e-5)])
def test_lean_step_gives_hippynns_energy_and_pair_forces(untrained_model, dtype, tolerance):
    graph = load_exported_model(untrained_model["model"]).graph.to(dtype)
    lean = LeanHipnn.from_graph(graph)
    n, i, j, pc = periodic_pairs(4.0)
    nlocal = n - 50  # the last atoms carry no energy, as ghosts would not
    weight = (torch.arange(n) < nlocal).to(dtype)
    energy, pair_forces = lean.energy_and_pair_forces(torch.full((n,), 47), i, j, pc.to(dtype), weight)
    _, ref_energy, ref_forces = graph(torch.full((1, n), 47), i, j, pc.to(dtype), torch.as_tensor(nlocal))
    assert float(energy) == pytest.approx(float(ref_energy.detach()), rel=tolerance)
    scale = float(ref_forces.abs().max())
    assert scale > 0.01  # real forces, not zeros
    assert float((pair_forces - ref_forces.detach()).abs().max()) <= tolerance * scale


def test_candidates_beyond_the_cutoff_change_nothing(untrained_model):
    """The engine may hand the lean step its whole candidate list (cutoff + skin) or padding pairs far away:
    they must get exactly zero force and change nothing else beyond round-off (on a CPU the neighbour sums are
    a batched matmul, whose summation order depends on where each pair sits in its atom's row)."""
    graph = load_exported_model(untrained_model["model"]).graph.to(torch.float64)
    lean = LeanHipnn.from_graph(graph)
    n, i, j, pc = periodic_pairs(5.0)
    inside = pc.norm(dim=1) < 4.0
    assert 0 < int(inside.sum()) < len(pc)
    pad = 100
    i_all = torch.cat([i, torch.zeros(pad, dtype=i.dtype)])
    j_all = torch.cat([j, torch.zeros(pad, dtype=j.dtype)])
    pc_all = torch.cat([pc, torch.full((pad, 3), 1e3, dtype=pc.dtype)])
    z, weight = torch.full((n,), 47), torch.ones(n, dtype=torch.float64)
    e_inside, f_inside = lean.energy_and_pair_forces(z, i[inside], j[inside], pc[inside], weight)
    e_all, f_all = lean.energy_and_pair_forces(z, i_all, j_all, pc_all, weight)
    assert float(e_all) == pytest.approx(float(e_inside), rel=1e-13)
    assert float((f_all[:len(pc)][inside] - f_inside).abs().max()) <= 1e-12 * float(f_inside.abs().max())
    assert not torch.any(f_all[:len(pc)][~inside])
    assert not torch.any(f_all[len(pc):])


def test_unsupported_network_falls_back_to_hippynns_graph(untrained_model):
    interface = load_exported_model(untrained_model["model"])
    network = next(m for m in interface.graph.moddict.values() if type(m).__name__ == "HipnnQuad")
    network.resnet = False
    with pytest.raises(UnsupportedNetwork, match="resnet"):
        LeanHipnn.from_graph(interface.graph)
    step = ExportedModel(interface, "cpu", "float64").step("lean")
    assert step.name == "hippynn" and "resnet" in step.fallback_reason


@pytest.mark.parametrize("npairs, sort", [(0, False), (1, False), (500, False), (500, True)])
def test_neighbour_sums_on_a_cpu_equal_the_per_pair_sum(npairs, sort):
    """The CPU's padded batched-matmul neighbour sum equals summing every pair's outer product, for pairs
    sorted by i (as the engine's) or in any order, atoms without pairs and no pairs at all."""
    from mlmd_parsl.science.model.lean_hipnn import neighbour_sums

    generator = torch.Generator().manual_seed(npairs)
    natoms = 40
    pair_i = torch.randint(0, natoms - 5, (npairs,), generator=generator)  # the last atoms get none
    if sort:
        pair_i = pair_i.sort().values
    angular = torch.randn(npairs, 9, dtype=torch.float64, generator=generator)
    radial = torch.randn(npairs, 8, dtype=torch.float64, generator=generator)
    expected = torch.zeros(natoms, 9, 8, dtype=torch.float64)
    for p in range(npairs):
        expected[pair_i[p]] += torch.outer(angular[p], radial[p])
    got = neighbour_sums(pair_i, angular, radial, natoms)
    assert got.shape == (natoms, 9, 8)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
