"""Train the seed's HIPNN on an Ag extxyz set and write model_results.txt with FOM 1.

FOM 1 ("FOM Average Epoch time") = total training wall time / epochs trained, as in the seed.
Two trainers (TrainingSpec.trainer), one procedure: "hippynn" is hippynn's own loop (setup_and_train, the
seed's code path: its FOM 1 is the one comparable with the seed's published numbers); "lean" is ours
(lean_training.py), the same procedure evaluated with the lean HIP-NN. Both start from the same graph,
weights, split and hierarchical energy initialisation, and write the same files.
"""
import time
import typing
from dataclasses import asdict, dataclass
from pathlib import Path

from ..choices import Trainer
from ..spec_checks import at_least_one, choice, device, require
from .network import SEED_NETWORK_PARAMS, build_seed_graph, graph_state
from .training_summary import TrainingSummary, write_training_summary

SPLIT_SEED = 1001
TEST_SIZE = 0.1
VALID_SIZE = 0.1
EARLY_STOPPING_KEY = "Loss-Err"
TRAINERS = Trainer.words()


@dataclass(frozen=True)
class TrainingSpec:
    max_epochs: int = 5000
    batch_size: int = 128
    eval_batch_size: int = 128
    max_batch_size: int = 128
    learning_rate: float = 1e-3
    plateau_patience: int = 25
    plateau_factor: float = 0.5
    termination_patience: int = 50
    device: str = "cpu"
    precompute_pairs: bool = True  # pure-torch periodic pair finding costs ~10x per epoch on CPU
    torch_seed: int = 0
    trainer: Trainer = Trainer.HIPPYNN  # hippynn's loop (the seed's) or the lean trainer
    # Where the sensitivities start (Angstrom): the initial values of trainable parameters only (mu from
    # 1/linspace(1/dist_soft_max, 1/dist_soft_min), sigma = 2 n dist_soft_min); the network, its cost
    # and the export are the seed's whatever it is. None: the seed's 2.3.
    dist_soft_min: typing.Optional[float] = None

    def __post_init__(self):
        choice(self, "trainer", Trainer)
        device("device", self.device)
        require(self.dist_soft_min is None or 1.0 <= self.dist_soft_min < 3.75, "dist_soft_min",
                f"{self.dist_soft_min}: Angstrom, from 1.0 to below dist_soft_max 3.75 (or null: the seed's 2.3)")
        at_least_one(self, ("max_epochs", "batch_size", "eval_batch_size", "max_batch_size", "termination_patience",
                            "plateau_patience"))


def train(dataset_path, out_dir, spec: TrainingSpec, dataset_label="real", threads: int = 0,
          oracle=None) -> TrainingSummary:
    """Train, test and save weights; return the summary written to training_summary.json. torch's default dtype
    is float32 while it trains (hippynn builds its modules in it); the caller's default is restored after.

    `threads`: torch's intra-op threads while it trains (0: the cores this process may run on). Always set, never
    inherited: a LAMMPS instance anywhere in the process (the synthetic dataset's, in the same Parsl worker) sets
    OpenMP's thread count to 1, which made FOM 1 twice the training's time on two cores.
    `oracle`: the EAM oracle that labelled a synthetic set (recorded in the summary for the validation)."""
    import torch

    previous = torch.get_default_dtype(), torch.get_num_threads()
    torch.set_default_dtype(torch.float32)
    torch.set_num_threads(threads or training_threads())
    try:
        return _train(dataset_path, out_dir, spec, dataset_label, oracle)
    finally:
        torch.set_default_dtype(previous[0])
        torch.set_num_threads(previous[1])


def training_threads() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass(frozen=True)
class LoopResult:
    """What a trainer's loop leaves: epochs trained, their wall time, and `final_test()`, which prints the final
    metrics (hippynn's table) and returns the MetricTracker holding them."""
    epochs: int
    elapsed_s: float
    final_test: typing.Callable


def _train(dataset_path, out_dir, spec: TrainingSpec, dataset_label, oracle) -> dict:
    import hippynn
    import torch

    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    dataset_path = Path(dataset_path).resolve()
    torch.manual_seed(spec.torch_seed)
    graph, network_params, training_modules, database = _seed_graph_and_split(dataset_path, spec)
    loop = TRAINER_LOOPS[spec.trainer](graph, database, training_modules, spec, torch.device(spec.device), out_dir)
    epoch_time = loop.elapsed_s / max(loop.epochs, 1)
    with hippynn.tools.log_terminal(str(out_dir / "model_results.txt"), "wt"):
        if dataset_label == "synthetic":
            print(f"Dataset: SYNTHETIC (Ag labelled by the EAM oracle {oracle}, not the Materials Cloud set)")
        print(f"Trainer: {spec.trainer}, {torch.get_num_threads()} torch thread(s), device {spec.device}")
        tracker = loop.final_test()
        print("FOM Average Epoch time: {:12.8f}".format(epoch_time))
    torch.save(
        {"network_params": network_params,  # on the CPU, so any machine can load it (trained on a GPU or not)
         "state": {part: {k: v.cpu() if hasattr(v, "cpu") else v for k, v in state.items()}
                   for part, state in graph_state(graph).items()}},
        out_dir / "network_state.pt",
    )
    summary = TrainingSummary(
        dataset=str(dataset_path), dataset_label=dataset_label, oracle=oracle, trainer=spec.trainer,
        epochs=int(loop.epochs), threads=torch.get_num_threads(), training_wall_s=loop.elapsed_s,
        epoch_time_s=epoch_time,
        metrics={split: {name: float(value) for name, value in values.items()}
                 for split, values in tracker.best_metric_values.items()},
        spec=asdict(spec), versions={"torch": torch.__version__, "hippynn": hippynn.__version__})
    write_training_summary(summary, out_dir)
    return summary


def _seed_graph_and_split(dataset_path: Path, spec: TrainingSpec):
    """The seed's graph (dist_soft_min as the spec says), hippynn's split of the set, and the hierarchical energy
    initialisation on it: (graph, network_params, training_modules, database)."""
    from hippynn.databases import AseDatabase
    from hippynn.experiment.assembly import assemble_for_training
    from hippynn.pretraining import hierarchical_energy_initialization

    network_params = dict(SEED_NETWORK_PARAMS)
    if spec.dist_soft_min is not None:
        network_params["dist_soft_min"] = spec.dist_soft_min
    graph = build_seed_graph(network_params)
    training_modules, db_info = assemble_for_training(graph.train_loss, graph.validation_losses)
    database = AseDatabase(
        directory=str(dataset_path.parent) + "/",
        name=dataset_path.name,
        seed=SPLIT_SEED,
        quiet=True,
        pin_memory=False,
        test_size=TEST_SIZE,
        valid_size=VALID_SIZE,
        **db_info,
    )
    hierarchical_energy_initialization(
        graph.henergy, database, peratom=True, energy_name="energy_per_atom", decay_factor=1e-2
    )
    return graph, network_params, training_modules, database


def _train_hippynn(graph, database, training_modules, spec, device, out_dir):
    """hippynn's setup_and_train, the seed's loop; its final test is hippynn's test_model."""
    import hippynn
    import torch
    from hippynn.experiment import SetupParams, setup_and_train, test_model
    from hippynn.experiment.assembly import assemble_for_training, precompute_pairs
    from hippynn.experiment.controllers import PatienceController, RaiseBatchSizeOnPlateau

    if spec.precompute_pairs:
        precompute_pairs(training_modules.model, database, device=device, n_images=3)
        training_modules, db_info = assemble_for_training(graph.train_loss, graph.validation_losses)
        database.inputs = db_info["inputs"]
    database.send_to_device(device)

    optimizer = torch.optim.Adam(training_modules.model.parameters(), lr=spec.learning_rate)
    scheduler = RaiseBatchSizeOnPlateau(
        optimizer=optimizer,
        max_batch_size=spec.max_batch_size,
        patience=spec.plateau_patience,
        factor=spec.plateau_factor,
    )
    controller = PatienceController(
        optimizer=optimizer,
        scheduler=scheduler,
        batch_size=spec.batch_size,
        eval_batch_size=spec.eval_batch_size,
        max_epochs=spec.max_epochs,
        termination_patience=spec.termination_patience,
        stopping_key=EARLY_STOPPING_KEY,
    )
    with hippynn.tools.active_directory(str(out_dir / "model_files")):
        with hippynn.tools.log_terminal(str(out_dir / "training_log.txt"), "wt"):
            start = time.perf_counter()
            setup_and_train(
                training_modules=training_modules,
                database=database,
                setup_params=SetupParams(controller=controller, device=device),
            )
            elapsed = time.perf_counter() - start
    evaluator = training_modules.evaluator
    return LoopResult(controller.current_epoch, elapsed,
                      lambda: test_model(database, evaluator, spec.eval_batch_size, "Final Training"))


def _train_lean(graph, database, training_modules, spec, device, out_dir):
    """The lean trainer on hippynn's split; its final test prints the final metrics as hippynn's tracker does."""
    import torch
    from hippynn.experiment.metric_tracker import MetricTracker

    from .lean_hipnn import LiveHipnnWeights
    from .lean_training import train_lean

    possible = SEED_NETWORK_PARAMS["possible_species"]
    species_map = torch.zeros(max(possible) + 1, dtype=torch.int64)
    species_map[torch.as_tensor(possible)] = torch.arange(len(possible))
    species_map = species_map.to(device)
    graph.network.torch_module.to(device)
    graph.henergy.torch_module.to(device)
    weights = LiveHipnnWeights(graph.network.torch_module, graph.henergy.torch_module, species_map)
    splits = {name: database.splits[name] for name in ("train", "valid", "test")}
    with open(out_dir / "training_log.txt", "w") as log_file:
        def log(line):
            print(line, file=log_file, flush=True)

        epochs, elapsed, final = train_lean(weights, splits, spec, device, log=log)

    def final_test():
        tracker = MetricTracker(list(graph.validation_losses), stopping_key=None)
        tracker.register_metrics(final, when="Final Training")
        tracker.evaluation_print(final, quiet=False)
        return tracker

    return LoopResult(epochs, elapsed, final_test)


TRAINER_LOOPS = {Trainer.HIPPYNN: _train_hippynn, Trainer.LEAN: _train_lean}
