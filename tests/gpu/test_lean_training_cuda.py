"""The lean trainer's captured CUDA-graph steps take the same optimizer steps as the eager ones, on the same
batches of two sizes (two graphs sharing the gradients), and the eager GPU step matches the CPU step."""
import numpy as np
import pytest

from tests.conftest import FIXTURES

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (none on this machine)"),
]


def jiggled_frames(path, count=40, seed=0):
    """Frames made from the fixture frame with displaced atoms and noisy labels: training data for a
    comparison of two step implementations, which needs no physics."""
    import ase.io
    from ase.calculators.singlepoint import SinglePointCalculator

    base = ase.io.read(FIXTURES / "ag_frame.xyz")
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        atoms = base.copy()
        atoms.positions += rng.normal(0, 0.05, atoms.positions.shape)
        atoms.calc = SinglePointCalculator(atoms, energy=base.get_potential_energy() + rng.normal(0, 0.1),
                                           forces=base.get_forces() + rng.normal(0, 0.2, (len(atoms), 3)))
        frames.append(atoms)
    ase.io.write(str(path), frames, format="extxyz")
    return path


def weights_and_frames(path, device):
    from hippynn.databases import AseDatabase
    from hippynn.experiment.assembly import assemble_for_training

    from mlmd_parsl.science.model.lean_hipnn import LiveHipnnWeights
    from mlmd_parsl.science.model.lean_training import FrameSet
    from mlmd_parsl.science.model.network import build_seed_graph

    torch.manual_seed(7)
    graph = build_seed_graph()
    _, db_info = assemble_for_training(graph.train_loss, graph.validation_losses)
    database = AseDatabase(directory=str(path.parent) + "/", name=path.name, seed=1001, quiet=True,
                           pin_memory=False, test_size=0.1, valid_size=0.1, **db_info)
    species_map = torch.zeros(48, dtype=torch.int64)
    species_map[47] = 1
    network, energy = graph.network.torch_module.to(device), graph.henergy.torch_module.to(device)
    weights = LiveHipnnWeights(network, energy, species_map.to(device))
    return weights, FrameSet(database.splits["train"], weights.hard_max, device, torch.float32)


def run_steps(kind, weights, frames, batches):
    from mlmd_parsl.science.model.lean_training import CapturedOptimizerSteps

    parameters = [*weights.network.parameters(), *weights.energy_module.parameters()]
    device = frames.positions.device
    if device.type == "cuda":
        optimizer = torch.optim.Adam(parameters, lr=torch.tensor(1e-3, device=device), capturable=True)
    else:
        optimizer = torch.optim.Adam(parameters, lr=1e-3)
    steps = kind(weights, frames, optimizer)
    for rows in batches:
        steps.step(rows.to(device))
    torch.cuda.synchronize()
    if kind is CapturedOptimizerSteps:
        assert sorted(steps.graphs) == [12, 20]  # both sizes captured after their warm-up, then replayed
    return torch.cat([p.detach().flatten().cpu() for p in parameters])


def test_captured_steps_equal_eager_steps(tmp_path):
    from mlmd_parsl.science.model.lean_training import CapturedOptimizerSteps, EagerOptimizerSteps

    path = jiggled_frames(tmp_path / "frames.xyz")
    generator = torch.Generator().manual_seed(3)
    batches = [torch.randperm(32, generator=generator)[: (20 if i % 2 else 12)] for i in range(16)]
    start = torch.cat([p.detach().flatten().cpu() for p in weights_and_frames(path, "cuda")[0].network.parameters()])
    eager = run_steps(EagerOptimizerSteps, *weights_and_frames(path, "cuda"), batches)
    captured = run_steps(CapturedOptimizerSteps, *weights_and_frames(path, "cuda"), batches)
    moved = float((eager[: len(start)] - start).abs().max())
    assert moved > 5e-3  # 16 Adam steps of 1e-3 moved the weights
    assert float((captured - eager).abs().max()) <= 1e-2 * moved  # float32 noise only, after 16 steps


def test_the_gpu_loss_and_gradients_equal_the_cpus(tmp_path):
    from mlmd_parsl.science.model.lean_training import training_loss

    path = jiggled_frames(tmp_path / "frames.xyz")
    rows = torch.arange(0, 32, 2)
    results = []
    for device in ("cpu", "cuda"):
        weights, frames = weights_and_frames(path, device)
        parameters = [*weights.network.parameters(), *weights.energy_module.parameters()]
        loss = training_loss(weights, frames.take(rows.to(device)))
        grads = torch.autograd.grad(loss, parameters)
        results.append((float(loss), torch.cat([g.flatten().cpu() for g in grads])))
    (cpu_loss, cpu_grads), (gpu_loss, gpu_grads) = results
    assert gpu_loss == pytest.approx(cpu_loss, rel=1e-5)
    assert float((gpu_grads - cpu_grads).abs().max()) <= 1e-3 * float(cpu_grads.abs().max())
