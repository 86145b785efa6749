"""The lean trainer computes hippynn's loss, its terms and its gradients, and trains as hippynn's loop does."""
import json
from dataclasses import asdict

import numpy as np
import pytest
import torch

from mlmd_parsl.science.model.dataset import SyntheticSpec, synthetic_dataset
from mlmd_parsl.science.model.frame_neighbours import frame_neighbours
from mlmd_parsl.science.model.lean_hipnn import LiveHipnnWeights
from mlmd_parsl.science.model.lean_training import METRIC_NAMES, FrameSet, loss_terms, predict
from mlmd_parsl.science.model.training import TrainingSpec, train


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    """40 EAM frames: a split of 32 / 4 / 4, so one batch of 128 holds the whole training set."""
    spec = SyntheticSpec(frames=40, seed=11, temperatures_k=(900.0, 1500.0), steps_between_frames=20,
                         equilibration_steps=100)
    return synthetic_dataset(spec, tmp_path_factory.mktemp("data")).path


@pytest.fixture
def float64_default():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def seed_graph_and_database(path):
    from pathlib import Path

    from hippynn.databases import AseDatabase
    from hippynn.experiment.assembly import assemble_for_training
    from hippynn.pretraining import hierarchical_energy_initialization

    from mlmd_parsl.science.model.network import build_seed_graph

    torch.manual_seed(5)
    graph = build_seed_graph()
    modules, db_info = assemble_for_training(graph.train_loss, graph.validation_losses)
    path = Path(path)
    database = AseDatabase(directory=str(path.parent) + "/", name=path.name, seed=1001, quiet=True,
                           pin_memory=False, test_size=0.1, valid_size=0.1, **db_info)
    hierarchical_energy_initialization(graph.henergy, database, peratom=True, energy_name="energy_per_atom",
                                       decay_factor=1e-2)
    with torch.no_grad():  # away from hierarchical init's tiny last layer, so every gradient term is sizeable
        for p in graph.henergy.torch_module.layers[1].parameters():
            p.mul_(30.0)
    return graph, modules, db_info, database


def test_loss_terms_and_gradients_equal_hippynns_in_float64(small_set, float64_default):
    graph, modules, db_info, database = seed_graph_and_database(small_set)
    split = database.splits["train"]
    rows = torch.arange(12)
    inputs = [split[name][rows] for name in db_info["inputs"]]
    targets = [split[name][rows] for name in db_info["targets"]]
    parameters = [p for m in (graph.network, graph.henergy) for p in m.torch_module.parameters() if p.requires_grad]

    outputs = modules.model(*inputs)
    reference = dict(zip(modules.evaluator.loss_names, modules.evaluator.loss(*outputs, *targets)))
    (reference_loss,) = modules.loss(*outputs, *targets)
    reference_grads = torch.autograd.grad(reference_loss, parameters)

    species_map = torch.zeros(48, dtype=torch.int64)
    species_map[47] = 1
    weights = LiveHipnnWeights(graph.network.torch_module, graph.henergy.torch_module, species_map)
    frames = FrameSet(split, weights.hard_max, "cpu", torch.float64).take(rows)
    epa, forces, hier = predict(weights, frames, create_graph=True)
    terms = loss_terms(weights, epa, forces, hier, frames.energy_per_atom, frames.forces)
    grads = torch.autograd.grad(terms["Loss"], parameters)

    assert list(reference) == list(METRIC_NAMES)
    assert float(reference["ForceMAE"]) > 10.0  # meV/A: an untrained network, far from the labels
    for name in METRIC_NAMES:
        assert float(terms[name]) == pytest.approx(float(reference[name]), rel=1e-10, abs=1e-12), name
    assert float(terms["Loss"]) == pytest.approx(float(reference_loss), rel=1e-10)
    for p, got, want in zip(parameters, grads, reference_grads):
        assert float(want.abs().max()) > 0, p.shape  # every parameter is reached
        assert float((got - want).abs().max()) <= 1e-9 * float(want.abs().max()), p.shape


def test_frame_neighbours_find_every_periodic_pair_once_and_pad_beyond_the_cutoff(small_set):
    import ase.io
    from ase.neighborlist import neighbor_list

    frames = ase.io.read(small_set, index=":3")
    positions = np.stack([f.positions for f in frames])
    cells = np.stack([f.cell.array for f in frames])
    table = frame_neighbours(positions, cells, 4.0)
    for frame, atoms in enumerate(frames):
        i, d = neighbor_list("id", atoms, 4.0)
        vectors = positions[frame][table.index[frame]] + table.shift[frame] - positions[frame][:, None]
        lengths = np.linalg.norm(vectors, axis=2)
        real = lengths <= 4.0
        assert np.sort(lengths[real]) == pytest.approx(np.sort(d), abs=1e-9)
        assert np.bincount(i, minlength=len(atoms)) == pytest.approx(real.sum(axis=1))
        assert np.all(lengths[~real] >= 3 * 4.0 - 1e-9)  # padding sits at 3 x the cutoff
    assert table.pairs == sum(len(neighbor_list("i", a, 4.0)) for a in frames)


def test_lean_and_hippynn_trainers_follow_the_same_loss_curve(small_set, tmp_path):
    """Same start, split and one whole-set batch per epoch: the two trainers take the same Adam steps, so
    validation losses and the final test table agree to float32 noise after several epochs."""
    summaries, curves = {}, {}
    for engine in ("hippynn", "lean"):
        spec = TrainingSpec(max_epochs=8, trainer=engine, torch_seed=3)
        summaries[engine] = train(small_set, tmp_path / engine, spec, "synthetic")
        curves[engine] = validation_curve(tmp_path / engine / "training_log.txt", engine)
        assert json.loads((tmp_path / engine / "training_summary.json").read_text())["trainer"] == engine
        assert f"Trainer: {engine}" in (tmp_path / engine / "model_results.txt").read_text()
    assert summaries["lean"].epochs == summaries["hippynn"].epochs == 8
    assert len(curves["lean"]) == 8
    assert min(curves["lean"]) < 0.96 * curves["lean"][0]  # it learns
    assert curves["lean"] == pytest.approx(curves["hippynn"], rel=2e-3)
    for split in ("train", "valid", "test"):
        for name in ("EpA-MAE", "ForceMAE", "Loss-Err"):
            lean, ref = (summaries[e].metrics[split][name] for e in ("lean", "hippynn"))
            assert lean == pytest.approx(ref, rel=2e-3), (split, name)
    assert asdict(TrainingSpec(trainer="lean"))["trainer"] == "lean"


def validation_curve(log, engine):
    """Validation Loss-Err per epoch from either trainer's training_log.txt (hippynn's log ends with the
    final test table, whose rows look the same: the epochs come first; it prints 5 significant digits)."""
    lines = log.read_text().splitlines()
    if engine == "lean":
        return [float(line.split("Loss-Err")[1].split()[0]) for line in lines if line.startswith("epoch ")]
    rows = [float(line.split()[-1]) for line in lines if line.startswith("Loss-Err :")]  # train, valid columns
    return rows[:8]


def test_dist_soft_min_moves_only_where_the_sensitivities_start(small_set, tmp_path):
    """The local site's start (2.0 A): same network (the lean step and the export take it as the seed's),
    sensitivities starting from 2.0 A with width 1 / (2 x 16 x 2.0)."""
    from mlmd_parsl.science.model.export import export_model, load_exported_model
    from mlmd_parsl.science.model.lean_hipnn import LeanHipnn

    train(small_set, tmp_path, TrainingSpec(max_epochs=1, trainer="lean", dist_soft_min=2.0), "synthetic")
    saved = torch.load(tmp_path / "network_state.pt", weights_only=False)
    assert saved["network_params"]["dist_soft_min"] == 2.0 and saved["network_params"]["n_sensitivities"] == 16
    state = saved["state"]["network"]
    mu = next(v for k, v in state.items() if k.endswith("sensitivity.mu"))
    sigma = next(v for k, v in state.items() if k.endswith("sensitivity.sigma"))
    assert float(mu.min()) == pytest.approx(2.0, abs=0.01) and float(mu.max()) == pytest.approx(3.75, abs=0.01)
    assert float(sigma.mean()) == pytest.approx(64.0, abs=0.1)  # the seed's start: 73.6
    exported = export_model(tmp_path / "network_state.pt", small_set, tmp_path)
    LeanHipnn.from_graph(load_exported_model(exported["model"]).graph)  # the seed's structure, accepted


def test_training_leaves_the_callers_default_dtype_as_it_found_it(small_set, tmp_path, float64_default):
    summary = train(small_set, tmp_path, TrainingSpec(max_epochs=1, trainer="lean"), "synthetic")
    assert summary.epochs == 1
    assert torch.get_default_dtype() == torch.float64  # trained in float32, the worker's process state restored
    saved = torch.load(tmp_path / "network_state.pt", weights_only=False)
    mu = next(v for k, v in saved["state"]["network"].items() if k.endswith("sensitivity.mu"))
    assert mu.dtype == torch.float32


def test_training_sets_its_threads_whatever_lammps_left_in_the_process(small_set, tmp_path):
    """A LAMMPS instance in the process (here the fixture's dataset, in a campaign the dataset task in the same
    Parsl worker) sets OpenMP's threads to 1; FOM 1 must not silently be a one-thread figure."""
    import os

    from mlmd_parsl.science.lammps.runtime import open_lammps

    cores = len(os.sched_getaffinity(0))
    if cores < 2:
        pytest.skip("one core: one thread is all there is")
    open_lammps().close()
    assert torch.get_num_threads() == 1  # what LAMMPS leaves behind (the condition this test is about)
    summary = train(small_set, tmp_path, TrainingSpec(max_epochs=1, trainer="lean"), "synthetic")
    assert summary.threads == cores
    assert f"{cores} torch thread(s)" in (tmp_path / "model_results.txt").read_text()
    assert torch.get_num_threads() == 1  # the caller's setting restored
    one_thread = train(small_set, tmp_path, TrainingSpec(max_epochs=1, trainer="lean"), "synthetic", threads=1)
    assert one_thread.threads == 1
