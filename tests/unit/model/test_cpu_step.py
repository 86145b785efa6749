"""The fused numba CPU step (cpu_step.py) gives LeanHipnn's torch energy and pair forces; its float32 exp and
softplus (cpu_math.py) are torch's to float32 round-off."""
import numpy as np
import pytest
import torch

from tests.unit.model.test_lean_hipnn import periodic_pairs


@pytest.fixture(scope="module")
def lean_networks(untrained_model):
    from mlmd_parsl.science.model.export import load_exported_model
    from mlmd_parsl.science.model.lean_hipnn import LeanHipnn

    graph = load_exported_model(untrained_model["model"]).graph
    return {dtype: LeanHipnn.from_graph(graph.to(dtype)) for dtype in (torch.float64, torch.float32)}


def torch_and_fused(lean, z, i, j, pc, weight):
    reference = lean.use_cpu_kernels(False).energy_and_pair_forces(z, i, j, pc, weight)
    try:
        return reference, lean.use_cpu_kernels().energy_and_pair_forces(z, i, j, pc, weight)
    finally:
        lean.use_cpu_kernels(False)


@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-12), (torch.float32, 2e-5)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_fused_step_gives_the_torch_energy_and_pair_forces(lean_networks, dtype, tolerance, seed):
    """Fresh jiggled boxes, pairs reaching beyond the cutoff (they add nothing), the pairs shuffled for odd seeds
    (the step groups them by atom), the last atoms weighted 0 as ghosts are."""
    lean = lean_networks[dtype]
    n, i, j, pc = periodic_pairs(4.5, replicate=(1, 1, 2), seed=seed)
    if seed % 2:
        perm = torch.randperm(len(i), generator=torch.Generator().manual_seed(seed))
        i, j, pc = i[perm], j[perm], pc[perm]
    pc = pc.to(dtype)
    z, weight = torch.full((n,), 47), (torch.arange(n) < n - 30).to(dtype)
    (ref_energy, ref_forces), (energy, forces) = torch_and_fused(lean, z, i, j, pc, weight)
    scale = float(ref_forces.abs().max())
    assert scale > 0.01 and forces.dtype == dtype and forces.shape == ref_forces.shape
    assert float((forces - ref_forces).abs().max()) <= tolerance * scale
    assert float(energy) == pytest.approx(float(ref_energy), rel=tolerance)
    beyond = pc.norm(dim=1) > lean.hard_max
    unweighted = weight[i] == 0
    assert beyond.any() and float(forces[beyond | unweighted].abs().max()) == 0.0
    assert float(forces[~beyond & ~unweighted].abs().max()) > 0


def test_an_atom_without_pairs_gets_its_isolated_energy(lean_networks):
    lean = lean_networks[torch.float64]
    n, i, j, pc = periodic_pairs(4.0, replicate=(1, 1, 1))
    keep = i != 3  # atom 3 has no pairs of its own (it still is others' neighbour j)
    z, weight = torch.full((n,), 47), torch.ones(n, dtype=torch.float64)
    (ref_energy, ref_forces), (energy, forces) = torch_and_fused(lean, z, i[keep], j[keep], pc[keep].double(), weight)
    assert float(energy) == pytest.approx(float(ref_energy), rel=1e-12)
    assert float((forces - ref_forces).abs().max()) <= 1e-12 * float(ref_forces.abs().max())


def test_pairs_of_atoms_outside_the_atoms_are_refused(lean_networks):
    from mlmd_parsl.science.model.cpu_step import CpuFusedStep

    n, i, j, pc = periodic_pairs(4.0, replicate=(1, 1, 1))
    step = CpuFusedStep(lean_networks[torch.float64])
    with pytest.raises(ValueError, match="outside"):
        step(i.numpy()[::-1] + 1, pc.numpy()[::-1], np.ones(n), np.ones(n))


@pytest.mark.parametrize("name", ["exp", "softplus", "softplus_slope"])
@pytest.mark.parametrize("dtype, tolerance", [(np.float32, 4e-7), (np.float64, 1e-14)])
def test_the_kernels_exp_and_softplus_are_torchs(name, dtype, tolerance):
    from numba import njit

    from mlmd_parsl.science.model import cpu_math

    function = getattr(cpu_math, name)

    @njit
    def apply(x, out):
        for p in range(len(x)):
            out[p] = function(x[p])

    x = np.concatenate([np.linspace(-79.0, 30.0, 20001), np.linspace(-1e-4, 1e-4, 101)]).astype(dtype)
    out = np.empty_like(x)
    apply(x, out)
    reference = {"exp": torch.exp, "softplus": torch.nn.functional.softplus,
                 "softplus_slope": softplus_backward}[name](torch.from_numpy(x).double()).detach().numpy()
    assert np.max(np.abs(out - reference) / np.abs(reference)) <= tolerance


def softplus_backward(x):
    x = x.clone().requires_grad_(True)
    (slope,) = torch.autograd.grad(torch.nn.functional.softplus(x).sum(), x)
    return slope


def test_below_exp_minus_80_the_float32_exp_is_zero():
    """Denormal-range terms are dropped (cpu_math's note): exactly 0, never a denormal."""
    from numba import njit

    from mlmd_parsl.science.model.cpu_math import exp

    @njit
    def apply(x):
        return exp(x)

    assert apply(np.float32(-80.5)) == 0.0 and apply(np.float32(-79.5)) > 1e-35


def test_the_engine_takes_the_fused_step_on_a_cpu_unless_torch_is_asked_for(untrained_model):
    from mlmd_parsl.science.embedded.model_steps import ExportedModel
    from mlmd_parsl.science.model.export import load_exported_model

    exported = ExportedModel(load_exported_model(untrained_model["model"]), "cpu", "float32")
    assert "fused CPU step" in exported.step(pair_kernels="auto").name
    assert "fused CPU step" in exported.step(pair_kernels="numba").name
    assert "fused CPU step" not in exported.step(pair_kernels="torch").name


def test_one_thread_runs_the_serial_kernel_with_the_parallel_kernels_results(lean_networks):
    """The serial copy caches under a name of its own (a shared name loaded the parallel kernel from the cache)."""
    from mlmd_parsl.science.model import cpu_step

    assert cpu_step._serial_step.py_func.__qualname__ != cpu_step._step.py_func.__qualname__
    assert not cpu_step._serial_step.targetoptions.get("parallel")
    n, i, j, pc = periodic_pairs(4.0, replicate=(1, 1, 2))
    step = cpu_step.CpuFusedStep(lean_networks[torch.float32])
    results = []
    for threads in (1, 2):
        step.threads = threads
        results.append(step(i.numpy(), pc.float().numpy(), np.ones(n), np.ones(n)))
    # the two compilations may contract and order the float32 arithmetic differently (fastmath): round-off apart
    (serial_e, serial_f), (parallel_e, parallel_f) = results
    assert np.allclose(serial_e, parallel_e, rtol=1e-6, atol=0)
    assert np.abs(serial_f - parallel_f).max() <= 1e-5 * np.abs(parallel_f).max()
