"""The engine's model step on a GPU as one captured CUDA graph, replayed every MD step.

At the seed's sizes an eager step is launch-bound: a few hundred small kernels and host round trips
cost more than the arithmetic. Here the whole step - pair vectors from positions, the lean network on
every candidate pair (pairs beyond the cutoff add exactly zero), the pair-force gradient, forces on the
model's atoms and the virial - is captured once and replayed with one launch. Shapes are fixed: the
candidate pairs and model atoms live in buffers with headroom; unused pair slots point at atom 0 with a
far-away vector (zero energy, zero force) and a dummy model atom of weight 0. A candidate-list rebuild
only refills the buffers; the graph is captured again only when a list outgrows its buffer.
"""
import math

import torch

from .model_steps import assemble

FAR_AWAY = 1.0e3  # Angstrom: the vector of padding pairs, far beyond any cutoff
HEADROOM = 1.25


class CapturedLeanStep:
    """A ModelStep (model_steps.py): prepare() loads a new candidate list, evaluate() replays the graph."""
    name = "lean (CUDA graph)"

    def __init__(self, lean, device, dtype):
        self.lean = lean
        self.device = torch.device(device)
        self.dtype = dtype
        self.graph = None
        self.pair_capacity = self.atom_capacity = self.position_capacity = 0

    def prepare(self, pairs, atomic_numbers):
        self.load(*pairs.candidates(), atomic_numbers, pairs.nlocal, pairs.natoms, pairs.npositions)

    def evaluate(self, pairs, x):
        return self.run(x)

    def load(self, cand_i, cand_j, model_j, atomic_numbers, nlocal, natoms, npositions):
        """Take a new candidate list (device tensors: position indices i and j, model index of j), the atomic
        numbers of the model's natoms atoms and the count of positions the pairs index."""
        npairs = len(cand_i)
        grow = (npairs > self.pair_capacity or natoms + 1 > self.atom_capacity
                or npositions > self.position_capacity)
        if grow:
            self._allocate(math.ceil(npairs * HEADROOM) + 1, math.ceil(natoms * HEADROOM) + 1,
                           math.ceil(npositions * HEADROOM) + 1)
        dummy = self.atom_capacity - 1
        for buffer, values, pad in ((self.pos_i, cand_i, 0), (self.pos_j, cand_j, 0),
                                    (self.model_i, cand_i, dummy), (self.model_j, model_j, dummy)):
            buffer[:npairs] = values
            buffer[npairs:] = pad
        self.shift.zero_()
        self.shift[npairs:, 0] = FAR_AWAY
        self.numbers[:natoms] = atomic_numbers
        self.numbers[natoms:] = atomic_numbers[0]
        self.weight.copy_((torch.arange(self.atom_capacity, device=self.device) < nlocal).to(self.dtype))
        self.natoms = natoms
        if grow:
            self._capture()

    def run(self, x):
        """(energy, forces on the model's atoms (natoms, 3), virial (6,)) as host float64 arrays for positions x."""
        self.positions[:len(x)] = x
        if self.graph is not None:
            self.graph.replay()
        else:  # on a CPU nothing is captured: the same fixed-shape step, run eagerly (how tests check it)
            self._body()
        scalars = self.scalars.cpu().numpy()
        return float(scalars[0]), self.forces[:self.natoms].cpu().numpy(), scalars[1:]

    def _allocate(self, pairs, atoms, positions):
        index = dict(dtype=torch.int64, device=self.device)
        self.pair_capacity, self.atom_capacity, self.position_capacity = pairs, atoms, positions
        self.pos_i, self.pos_j = torch.zeros(pairs, **index), torch.zeros(pairs, **index)
        self.model_i, self.model_j = torch.zeros(pairs, **index), torch.zeros(pairs, **index)
        self.shift = torch.zeros((pairs, 3), dtype=torch.float64, device=self.device)
        self.numbers = torch.zeros(atoms, **index)
        self.weight = torch.zeros(atoms, dtype=self.dtype, device=self.device)
        self.positions = torch.zeros((positions, 3), dtype=torch.float64, device=self.device)
        self.forces = torch.zeros((atoms, 3), dtype=torch.float64, device=self.device)
        self.scalars = torch.zeros(7, dtype=torch.float64, device=self.device)

    def _body(self):
        pair_coord = self.positions[self.pos_i] - self.positions[self.pos_j] + self.shift
        energy, pair_forces = self.lean.energy_and_pair_forces(self.numbers, self.model_i, self.model_j,
                                                               pair_coord.to(self.dtype), self.weight)
        forces, scalars = assemble(len(self.forces), self.model_i, self.model_j, pair_coord, pair_forces, energy)
        self.forces.copy_(forces)
        self.scalars.copy_(scalars)

    def _capture(self):
        if self.device.type != "cuda":
            return
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):  # warm-up off the capture: lazy initialisation, autograd, allocator
            for _ in range(2):
                self._body()
        torch.cuda.current_stream(self.device).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self._body()
