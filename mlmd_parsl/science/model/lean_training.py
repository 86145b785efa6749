"""The lean trainer (training.trainer: lean): the seed's training procedure, evaluated with the lean HIP-NN.

The same as hippynn's loop (training.py, trainer "hippynn"): the graph, its initial weights and the
hierarchical energy initialisation, the split, the loss and its terms, Adam, hippynn's own
PatienceController and RaiseBatchSizeOnPlateau, early stopping on validation Loss-Err with the best
weights kept. It trains hippynn's own parameters (LiveHipnnWeights), so network_state.pt and the export
are hippynn's. What differs is how the network is evaluated: each frame's pairs are found once
(frame_neighbours), a batch is one fixed-shape tensor program with the neighbour sums as one batched
matmul, and the data stays on the device; the host reads one number per epoch, the validation Loss-Err
the controller needs. On a GPU each batch size's whole step (forward, forces, loss, backward, Adam) is
captured once as a CUDA graph and replayed (CapturedOptimizerSteps): an epoch of a few batches of 71-atom
frames is otherwise launch-bound.
"""
import copy
import time

import torch

from .frame_neighbours import frame_neighbours
from .lean_hipnn import LiveHipnnWeights, energy_terms, pair_radial, pair_terms

METRIC_NAMES = ("EpA-RMSE", "EpA-MAE", "EpA-RSQ", "ForceRMSE", "ForceMAE", "ForceRsq",
                "T-Hier", "L2Reg", "Loss-Err", "Loss-Reg", "Loss")  # the order of network.validation_losses


class FrameSet:
    """One split's frames and their neighbour tables as device tensors (float dtype of the model)."""

    def __init__(self, split: dict, cutoff, device, dtype):
        table = frame_neighbours(split["positions"].double().numpy(), split["cell"].double().numpy(), cutoff)
        as_float = dict(device=device, dtype=dtype)
        self.positions = split["positions"].to(**as_float)
        self.numbers = split["numbers"].to(device)
        self.index = torch.as_tensor(table.index, device=device)
        self.shift = torch.as_tensor(table.shift, **as_float)
        self.energy_per_atom = split["energy_per_atom"].to(**as_float)
        self.forces = split["forces"].to(**as_float)
        self.pairs = table.pairs

    def __len__(self):
        return len(self.positions)

    def take(self, rows):
        picked = copy.copy(self)
        for name in ("positions", "numbers", "index", "shift", "energy_per_atom", "forces"):
            setattr(picked, name, getattr(self, name)[rows])
        return picked


def predict(w, frames: FrameSet, create_graph=False):
    """Energy per atom (frames,), forces (frames, atoms, 3) and hierarchicality per atom (frames,)."""
    nframes, natoms, width = frames.index.shape
    positions = frames.positions.detach().requires_grad_(True)
    flat = positions.reshape(nframes * natoms, 3)
    offsets = torch.arange(nframes, device=flat.device).view(nframes, 1, 1) * natoms
    neighbours = (frames.index + offsets).reshape(nframes * natoms, width)
    coords = flat[neighbours] - flat.unsqueeze(1) + frames.shift.reshape(nframes * natoms, width, 3)
    features = w.one_hot(frames.numbers.reshape(-1), flat.dtype)
    sense, angular = pair_terms(w, coords.reshape(-1, 3))
    radial = pair_radial(w, sense, features[neighbours.reshape(-1)])
    sums = torch.bmm(angular.view(len(flat), width, 9).transpose(1, 2), radial.view(len(flat), width, w.nf_out))
    onehot_part, final_part = energy_terms(w, features, sums)
    energy = (onehot_part + final_part).view(nframes, natoms).sum(dim=1)
    (gradient,) = torch.autograd.grad(energy.sum(), positions, create_graph=create_graph)
    real_atoms = (frames.numbers > 0).sum(dim=1).to(flat.dtype)
    atom_hier = final_part.square() / (final_part.square() + onehot_part.square())
    return energy / real_atoms, -gradient, atom_hier.view(nframes, natoms).sum(dim=1) / real_atoms


def loss_terms(w, epa, forces, hier, true_epa, true_forces) -> dict:
    """The seed's loss and validation metrics (meV where hippynn reports meV), as tensors."""
    mse, l1 = torch.nn.functional.mse_loss, torch.nn.functional.l1_loss
    rmse_energy, mae_energy = mse(epa, true_epa).sqrt(), l1(epa, true_epa)
    rmse_force, mae_force = mse(forces, true_forces).sqrt(), l1(forces, true_forces)
    l2 = sum(p.square().sum() for p in w.network.regularization_params())
    loss_error = 10 * (rmse_energy + mae_energy) + (mae_force + rmse_force)
    loss_regularization = 1e-6 * l2 + hier.mean()
    return {
        "EpA-RMSE": 1e3 * rmse_energy, "EpA-MAE": 1e3 * mae_energy, "EpA-RSQ": _rsq(epa, true_epa),
        "ForceRMSE": 1e3 * rmse_force, "ForceMAE": 1e3 * mae_force, "ForceRsq": _rsq(forces, true_forces),
        "T-Hier": hier.mean(), "L2Reg": l2, "Loss-Err": loss_error, "Loss-Reg": loss_regularization,
        "Loss": loss_error + loss_regularization,
    }


def _rsq(predicted, true):
    return 1 - (predicted - true).square().mean() / true.var()


def training_loss(w, frames: FrameSet):
    epa, forces, hier = predict(w, frames, create_graph=True)
    return loss_terms(w, epa, forces, hier, frames.energy_per_atom, frames.forces)["Loss"]


def evaluate(w, frames: FrameSet, batch_size) -> dict:
    """Metrics over a whole split (predictions of its batches put together, as hippynn's Evaluator does)."""
    outputs = [predict(w, frames.take(slice(start, start + batch_size))) for start in range(0, len(frames), batch_size)]
    epa, forces, hier = (torch.cat([o[k].detach() for o in outputs]) for k in range(3))
    with torch.no_grad():
        terms = loss_terms(w, epa, forces, hier, frames.energy_per_atom, frames.forces)
    values = torch.stack([terms[name].reshape(()) for name in METRIC_NAMES]).tolist()  # one host sync
    return dict(zip(METRIC_NAMES, values))


class EagerOptimizerSteps:
    """One optimizer step per batch, as written (the CPU path)."""

    def __init__(self, w, frames: FrameSet, optimizer):
        self.w, self.frames, self.optimizer = w, frames, optimizer

    def step(self, rows):
        self.optimizer.zero_grad(set_to_none=False)
        training_loss(self.w, self.frames.take(rows)).backward()
        self.optimizer.step()


class CapturedOptimizerSteps(EagerOptimizerSteps):
    """The same steps on a GPU, each batch size's captured once as a CUDA graph after WARMUP eager steps (real
    training steps, run on a side stream as capture requires) and replayed for every later batch of that size.
    Gradients live outside the graphs and are zeroed inside them, so graphs of several batch sizes share them;
    Adam is capturable and its learning rate a device tensor the plateau scheduler updates in place."""

    WARMUP = 3

    def __init__(self, w, frames: FrameSet, optimizer):
        super().__init__(w, frames, optimizer)
        self.graphs, self.eager_steps = {}, {}

    def step(self, rows):
        size = len(rows)
        if size in self.graphs:
            graph, static_rows = self.graphs[size]
            static_rows.copy_(rows)
            graph.replay()
            return
        if self.eager_steps.get(size, 0) < self.WARMUP:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                super().step(rows)
            torch.cuda.current_stream().wait_stream(side)
            self.eager_steps[size] = self.eager_steps.get(size, 0) + 1
            return
        static_rows = rows.clone()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            super().step(static_rows)
        self.graphs[size] = (graph, static_rows)
        graph.replay()  # capture records the step without running it


class BestWeights:
    """A copy of the best weights so far, kept in preallocated tensors on the weights' device."""

    def __init__(self, modules):
        self.modules = modules
        self.saved = None

    def _parameters(self):
        return [p for m in self.modules for p in m.parameters()]

    @torch.no_grad()
    def keep(self):
        if self.saved is None:
            self.saved = [p.detach().clone() for p in self._parameters()]
        else:
            torch._foreach_copy_(self.saved, self._parameters())

    @torch.no_grad()
    def restore(self):
        torch._foreach_copy_(self._parameters(), self.saved)


def train_lean(w: LiveHipnnWeights, splits: dict, spec, device, log=print):
    """Train w's parameters in place; return (epochs, wall seconds, final metrics per split)."""
    from hippynn.experiment.controllers import PatienceController, RaiseBatchSizeOnPlateau

    dtype = w.selfint.weight.dtype
    sets = {name: FrameSet(split, w.hard_max, device, dtype) for name, split in splits.items()}
    parameters = list({id(p): p for p in (*w.network.parameters(), *w.energy_module.parameters())}.values())
    on_gpu = torch.device(device).type == "cuda"
    if on_gpu:
        optimizer = torch.optim.Adam(parameters, lr=torch.tensor(spec.learning_rate, device=device), capturable=True)
    else:
        optimizer = torch.optim.Adam(parameters, lr=spec.learning_rate)
    scheduler = RaiseBatchSizeOnPlateau(optimizer=optimizer, max_batch_size=spec.max_batch_size,
                                        patience=spec.plateau_patience, factor=spec.plateau_factor)
    controller = PatienceController(optimizer=optimizer, scheduler=scheduler, batch_size=spec.batch_size,
                                    eval_batch_size=spec.eval_batch_size, max_epochs=spec.max_epochs,
                                    termination_patience=spec.termination_patience, stopping_key="Loss-Err",
                                    quiet=True)
    train = sets["train"]
    log(f"lean trainer: {len(train)} training frames, {train.pairs} pairs, neighbour table width "
        f"{train.index.shape[2]}, device {device}")
    steps = (CapturedOptimizerSteps if on_gpu else EagerOptimizerSteps)(w, train, optimizer)
    best = BestWeights((w.network, w.energy_module))
    best_error, epoch, keep_going = float("inf"), 0, True
    start = time.perf_counter()
    while keep_going:
        for rows in torch.randperm(len(train), device=device).split(controller.batch_size):
            steps.step(rows)
        valid = evaluate(w, sets["valid"], controller.eval_batch_size)
        better = valid["Loss-Err"] < best_error
        keep_going = controller.push_epoch(epoch, better, valid["Loss-Err"])
        if better:
            best_error = valid["Loss-Err"]
            best.keep()
        log(f"epoch {epoch}: valid Loss-Err {valid['Loss-Err']:.6g}{' *' if better else ''} "
            f"EpA-MAE {valid['EpA-MAE']:.4g} meV ForceMAE {valid['ForceMAE']:.4g} meV/A "
            f"lr {float(optimizer.param_groups[0]['lr']):.3g} batch {controller.batch_size}")
        epoch += 1
    elapsed = time.perf_counter() - start
    best.restore()
    final = {name: evaluate(w, frames, spec.eval_batch_size) for name, frames in sets.items()}
    return controller.current_epoch, elapsed, final
