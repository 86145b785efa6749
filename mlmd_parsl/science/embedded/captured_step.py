"""The engine's model step on a GPU as one captured CUDA graph, replayed every MD step.

At the seed's sizes an eager step is launch-bound: a few hundred small kernels and host round trips
cost more than the arithmetic. Here the whole step - pair vectors from positions, the pairs within the
cutoff compacted into a fixed-size buffer, the lean network on them, the pair-force gradient, forces on
the model's atoms and the virial - is captured once and replayed with one launch. Shapes are fixed: the
candidate pairs, the pairs within the cutoff and the model atoms live in buffers with headroom; unused
pair slots point at a dummy model atom of weight 0 with a far-away vector (zero energy, zero force).

The candidates reach the cutoff plus a skin, about twice the pairs within the cutoff; the network runs
only on the latter. Which candidates are within the cutoff changes every step, so they are compacted on
the device every step (a prefix sum gives each its slot); the count comes back with the energy, and a
step whose pairs outgrow their buffer is run again with a larger one. A candidate-list rebuild only
refills the buffers; the graph is captured again only when a buffer grows.
"""
import math
import sys

import torch

from ..gpu.captured_graph import CapturedGraph, far_away_vectors, fill_padded, with_headroom
from .force_assembly import assemble

# From this many model atoms on, the pairs within the cutoff are compacted before the network. Both ways in one
# H200 call (benchmarks/profile_model_step.py, RESULTS.md): compiled, compaction is 1.19x faster at 2,272 atoms
# and 1.26x at 9,088, 7% slower at 568; uncompiled, the same at 568 and 1.22x faster at 2,272.
COMPACT_MIN_ATOMS = 1_000
# Above this many model atoms per rank the eager lean step beats the captured one when the network is neither
# compiled nor fused (at 85,200 atoms on an H200: eager 7.4 ms, captured and compacted 9.6 ms). Compiled, the
# captured step is faster at every size measured (5.4 ms at 85,200): CapturedLeanStep.max_atoms.
CUDA_GRAPH_MAX_ATOMS = 35_000


class CapturedLeanStep:
    """A ModelStep (model_steps.py): prepare() loads a new candidate list, evaluate() replays the graph."""
    def __init__(self, lean, device, dtype, compact_min_atoms=COMPACT_MIN_ATOMS, compile_network=False):
        """compile_network: run the lean network compiled by torch.compile (compiled_network.py); if compiling
        fails, the step says so on stderr and captures the network uncompiled."""
        self.lean = lean
        self.network = lean
        if compile_network:
            from .compiled_network import CompiledLean

            self.network = CompiledLean(lean)
        self.device = torch.device(device)
        self.dtype = dtype
        self.compact_min_atoms = compact_min_atoms
        self.compact = None  # whether the current list's pairs within the cutoff are compacted
        self.graph = CapturedGraph(self._body, self.device)
        self.pair_capacity = self.atom_capacity = self.position_capacity = self.kept_capacity = 0

    @property
    def compiled(self):
        return self.network is not self.lean

    @property
    def fused(self):
        return getattr(self.lean, "fused", None) is not None

    @property
    def name(self):
        kinds = [k for k, on in (("compiled", self.compiled), ("fused pair kernels", self.fused)) if on]
        return f"lean (CUDA graph{''.join(', ' + k for k in kinds)})"

    @property
    def max_atoms(self):
        """Up to how many model atoms this step beats the eager one: any count compiled or with the fused pair
        kernels (padding pairs cost them little); in plain torch, above CUDA_GRAPH_MAX_ATOMS the eager step (pairs
        filtered to the cutoff, no padding) is faster."""
        return math.inf if self.compiled or self.fused else CUDA_GRAPH_MAX_ATOMS

    def prepare(self, pairs, atomic_numbers):
        compact = pairs.natoms >= self.compact_min_atoms
        self.load(*pairs.candidates(), atomic_numbers, pairs.nlocal, pairs.natoms, pairs.npositions,
                  pairs.count_within_cutoff() if compact else None)

    def evaluate(self, pairs, x):
        return self.run(x)

    def load(self, cand_i, cand_j, model_j, atomic_numbers, nlocal, natoms, npositions, within_cutoff=None):
        """Take a new candidate list (device tensors: position indices i and j, model index of j), the atomic
        numbers of the model's natoms atoms, the count of positions the pairs index and, to compact the pairs
        within the cutoff, how many candidates are within it now (None: every candidate is evaluated)."""
        npairs = len(cand_i)
        grow = (npairs > self.pair_capacity or natoms + 1 > self.atom_capacity
                or npositions > self.position_capacity)
        if grow:
            self._allocate(with_headroom(npairs), with_headroom(natoms), with_headroom(npositions))
        compact = within_cutoff is not None
        if compact != self.compact:
            self.compact, grow = compact, True
        if compact and (grow or within_cutoff > self.kept_capacity):
            self._allocate_kept(with_headroom(within_cutoff))
            grow = True
        dummy = self.atom_capacity - 1
        for buffer, values, pad in ((self.pos_i, cand_i, 0), (self.pos_j, cand_j, 0),
                                    (self.model_i, cand_i, dummy), (self.model_j, model_j, dummy),
                                    (self.shift, 0.0, self.far_away)):
            fill_padded(buffer, npairs, values, pad)
        fill_padded(self.numbers, natoms, atomic_numbers, atomic_numbers[0])
        self.weight.copy_((torch.arange(self.atom_capacity, device=self.device) < nlocal).to(self.dtype))
        self.natoms = natoms
        if grow:
            self._capture()

    def run(self, x):
        """(energy, forces on the model's atoms (natoms, 3), virial (6,)) as host float64 arrays for positions x."""
        self.positions[:len(x)] = x
        scalars = self._replay()
        kept = int(scalars[7])
        if kept > self.kept_capacity:  # more pairs came within the cutoff than the buffer holds: again, larger
            self._allocate_kept(with_headroom(kept))
            self._capture()
            scalars = self._replay()
        return float(scalars[0]), self.forces[:self.natoms].cpu().numpy(), scalars[1:7]

    def _replay(self):
        self.graph.run()
        return self.scalars.cpu().numpy()

    def _allocate(self, pairs, atoms, positions):
        index = dict(dtype=torch.int64, device=self.device)
        self.pair_capacity, self.atom_capacity, self.position_capacity = pairs, atoms, positions
        self.pos_i, self.pos_j = torch.zeros(pairs, **index), torch.zeros(pairs, **index)
        self.model_i, self.model_j = torch.zeros(pairs, **index), torch.zeros(pairs, **index)
        self.shift = torch.zeros((pairs, 3), dtype=torch.float64, device=self.device)
        self.far_away = far_away_vectors(pairs, self.device)
        self.numbers = torch.zeros(atoms, **index)
        self.weight = torch.zeros(atoms, dtype=self.dtype, device=self.device)
        self.positions = torch.zeros((positions, 3), dtype=torch.float64, device=self.device)
        self.forces = torch.zeros((atoms, 3), dtype=torch.float64, device=self.device)
        self.scalars = torch.zeros(8, dtype=torch.float64, device=self.device)  # energy, virial (6), pairs kept

    def _allocate_kept(self, pairs):
        """Buffers of the pairs within the cutoff, and one trash slot past them for every other candidate."""
        index = dict(dtype=torch.int64, device=self.device)
        self.kept_capacity = pairs - 1
        self.kept_i, self.kept_j = torch.zeros(pairs, **index), torch.zeros(pairs, **index)
        self.kept_coord = torch.zeros((pairs, 3), dtype=torch.float64, device=self.device)
        self.padding_coord = far_away_vectors(pairs, self.device)

    def _body(self):
        candidates = self.positions[self.pos_i] - self.positions[self.pos_j] + self.shift
        if not self.compact:  # every candidate through the network: pairs beyond the cutoff add exactly zero
            self._evaluate(self.model_i, self.model_j, candidates)
            self.scalars[7:].zero_()
            return
        inside = candidates.square() @ candidates.new_ones(3) < self.lean.hard_max ** 2
        slot = torch.cumsum(inside, 0) - 1  # each kept pair's place, in candidate order
        kept = slot[-1:] + 1
        trash = self.kept_capacity
        slot = torch.where(inside & (slot < trash), slot, trash)
        dummy = self.atom_capacity - 1
        self.kept_i.fill_(dummy)
        self.kept_j.fill_(dummy)
        self.kept_coord.copy_(self.padding_coord)
        self.kept_i.scatter_(0, slot, self.model_i)
        self.kept_j.scatter_(0, slot, self.model_j)
        self.kept_coord.scatter_(0, slot.unsqueeze(1).expand(-1, 3), candidates)
        self._evaluate(self.kept_i[:trash], self.kept_j[:trash], self.kept_coord[:trash])
        self.scalars[7:].copy_(kept)

    def _evaluate(self, pair_i, pair_j, pair_coord):
        energy, pair_forces = self.network.energy_and_pair_forces(self.numbers, pair_i, pair_j,
                                                               pair_coord.to(self.dtype), self.weight)
        forces, scalars = assemble(len(self.forces), pair_i, pair_j, pair_coord, pair_forces, energy)
        self.forces.copy_(forces)
        self.scalars[:7].copy_(scalars)

    def _capture(self):
        """Capture the step on its new buffers now (a no-op on a CPU); a compiled network that fails to compile in
        the warm-up is replaced by the uncompiled one."""
        try:
            self.graph.capture()
        except Exception as exc:  # torch.compile failed in the warm-up (no compiler, an unsupported torch)
            if not self.compiled:
                raise
            sys.stderr.write(f"torch.compile of the lean network failed ({type(exc).__name__}: {str(exc)[:300]}); "
                             "the captured step runs it uncompiled\n")
            self.network = self.lean
            self.graph.capture()
