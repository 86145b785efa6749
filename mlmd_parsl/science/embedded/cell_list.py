"""Candidate pairs from a cell list of fixed shapes: on a GPU one captured CUDA graph per rebuild.

VerletPairs rebuilds its candidates every few MD steps (about 160 times in 1,000 steps of the quick
profile). Built from data-dependent torch ops (bincount, repeat_interleave, boolean masks, unique), a
rebuild cost about 3.5 ms at 2,272 atoms and 6.4 ms at 18,176 on the lent H200, nearly all of it launches
and host round trips; this one takes 0.58 and 1.96 ms (benchmarks/RESULTS.md). Here every shape
is fixed ahead: a grid of cells one `reach` wide, at most `per_cell` atoms listed per cell, the 27 cells
around each local atom read as one dense block, and each block's candidates packed by `nonzero_static`
(at most `per_atom` per local atom) into one buffer of fixed capacity. A rebuild is one graph replay and
one read of four counts; a count beyond its buffer (more candidates, a fuller cell, an atom with more
candidates) grows the buffers, captures again and replays. On a CPU the same code runs eagerly (tests).

Positions outside the grid are clamped into its edge cells. That never loses a pair: clamping moves two
cells at most one apart to cells at most one apart, so every pair still lies in neighbouring cells.
"""
import math

import torch

from ..gpu.captured_graph import CapturedGraph, with_headroom

ROWS_PER_CHUNK = 16_384  # local atoms per dense block: bounds the working memory (~0.5 GB) at any size
_OFFSETS = [(a, b, c) for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)]


class CellListPairs:
    """(i, j) pairs with i < nlocal, j != i, |x_i - x_j| < reach, sorted by i, plus how many are within `cutoff`."""

    def __init__(self, reach, cutoff, device):
        self.reach, self.cutoff = float(reach), float(cutoff)
        self.device = torch.device(device)
        self.graph = CapturedGraph(self._body, self.device, warmups=1, eager_if_capture_fails="the cell list")
        self.position_capacity = self.row_capacity = self.per_cell = self.per_atom = self.pair_capacity = 0
        self.dims = None

    def find(self, x, nlocal, model_of_position):
        """x: (n, 3) float64 positions on the device; model_of_position: (n,) int64, the model atom each position
        is (-1: none). Returns (i, j, model index of j, pairs within the cutoff), the first three views that are
        valid until the next find()."""
        n = len(x)
        if n > self.position_capacity or nlocal > self.row_capacity:
            self._reshape(x, n, nlocal)
        npairs, fullest, most, within = self._run(x, nlocal, model_of_position)
        # twice at most: once every cell fits, the counts are exact
        while npairs > self.pair_capacity or fullest > self.per_cell or most > self.per_atom:
            self._reshape(x, n, nlocal, max(fullest, self.per_cell), max(most, self.per_atom),
                          max(npairs, self.pair_capacity))
            npairs, fullest, most, within = self._run(x, nlocal, model_of_position)
        return self.pair_i[:npairs], self.pair_j[:npairs], self.model_j[:npairs], within

    def _run(self, x, nlocal, model_of_position):
        n = len(x)
        self.positions[:n] = x
        self.model_of_position[:n] = model_of_position
        self.sizes[0].fill_(n)
        self.sizes[1].fill_(nlocal)
        self.graph.run()
        return self.counts.tolist()  # the one host sync of a rebuild

    def _reshape(self, x, n, nlocal, per_cell=0, per_atom=0, pairs=0):
        """New buffers with headroom for n positions, nlocal local atoms, per_cell atoms in a cell, per_atom
        candidates of one atom and `pairs` in all (0: from the positions now), on a grid that spans x now; then
        capture the graph again."""
        lo, hi = torch.aminmax(x, dim=0)
        self.dims = [max(1, math.floor(float(h - low) / self.reach) + 1) for low, h in zip(lo.tolist(), hi.tolist())]
        self.position_capacity = with_headroom(n)
        self.row_capacity = min(with_headroom(nlocal), self.position_capacity)
        if per_cell == 0:  # first build: the fullest cell now, counted (a sync, once)
            cell = torch.minimum(((x - lo) / self.reach).floor().long(), torch.tensor(self.dims, device=x.device) - 1)
            per_cell = int(torch.unique(cell, dim=0, return_counts=True)[1].max())
        if per_atom == 0:  # a sphere of radius `reach` holds 4/3 pi cells' worth; a count beyond builds again
            per_atom = 1.5 * 4.2 * n / math.prod(self.dims) + 8
        self.per_cell = with_headroom(per_cell, spare=0)
        self.per_atom = with_headroom(per_atom, spare=0)
        self.pair_capacity = with_headroom(max(pairs, nlocal * per_atom / 1.5), spare=0)
        chunk_slots = min(ROWS_PER_CHUNK, self.row_capacity) * self.per_atom
        index = dict(dtype=torch.int64, device=self.device)
        self.positions = torch.zeros((self.position_capacity, 3), dtype=torch.float64, device=self.device)
        self.model_of_position = torch.full((self.position_capacity,), -1, **index)
        self.sizes = torch.zeros(2, **index)
        # a block writes all its slots after the pairs so far; the next block overwrites the unused ones
        self.pair_i = torch.zeros(self.pair_capacity + chunk_slots, **index)
        self.pair_j = torch.zeros(self.pair_capacity + chunk_slots, **index)
        self.model_j = torch.zeros(self.pair_capacity + chunk_slots, **index)
        self.counts = torch.zeros(4, **index)
        self.grid = torch.tensor(self.dims, **index)
        self.strides = torch.tensor([self.dims[1] * self.dims[2], self.dims[2], 1], **index)
        self.offsets = torch.tensor(_OFFSETS, **index)
        self.graph.forget()  # captured again on the new buffers at the next run

    def _body(self):
        ncells = math.prod(self.dims)
        empty_cell, spare_cell = ncells, ncells + 1  # no atom is listed in the first; unused positions go in the second
        n, nlocal = self.sizes[0], self.sizes[1]
        x = self.positions
        used = torch.arange(self.position_capacity, device=self.device) < n
        lo = torch.where(used.unsqueeze(1), x, math.inf).amin(dim=0)
        cell = torch.minimum(((x - lo) / self.reach).floor().clamp(min=0).long(), self.grid - 1)
        cell_id = torch.where(used, (cell * self.strides).sum(dim=1), spare_cell)
        by_cell = torch.argsort(cell_id, stable=True)
        sorted_cell = cell_id[by_cell]
        count = torch.zeros(ncells + 2, dtype=torch.int64, device=self.device)
        count.index_add_(0, cell_id, torch.ones_like(cell_id))
        first = torch.cumsum(count, 0) - count
        place = (torch.arange(self.position_capacity, device=self.device) - first[sorted_cell]).clamp(max=self.per_cell)
        table = torch.full(((ncells + 2) * (self.per_cell + 1),), -1, dtype=torch.int64, device=self.device)
        table[sorted_cell * (self.per_cell + 1) + place] = by_cell  # column per_cell: atoms beyond a full cell
        table = table.view(ncells + 2, self.per_cell + 1)[:, :self.per_cell]
        total = torch.zeros((), dtype=torch.int64, device=self.device)
        within = torch.zeros((), dtype=torch.int64, device=self.device)
        most = torch.zeros((), dtype=torch.int64, device=self.device)
        last_slot = len(self.pair_i) - 1
        for start in range(0, self.row_capacity, ROWS_PER_CHUNK):
            i = torch.arange(start, min(start + ROWS_PER_CHUNK, self.row_capacity), device=self.device)
            near = cell[i].unsqueeze(1) + self.offsets  # (rows, 27, 3)
            inside = ((near >= 0) & (near < self.grid)).all(dim=2)
            near_id = torch.where(inside, (near * self.strides).sum(dim=2), empty_cell)
            j = table[near_id].reshape(len(i), -1)  # (rows, 27 * per_cell), -1 where no atom
            d = x[j.clamp(min=0)] - x[i].unsqueeze(1)
            d2 = (d * d).sum(dim=2)
            keep = (j >= 0) & (j != i.unsqueeze(1)) & (i < nlocal).unsqueeze(1) & (d2 < self.reach ** 2)
            within += (keep & (d2 < self.cutoff ** 2)).sum()
            per_row = keep.sum(dim=1)
            most = torch.maximum(most, per_row.max())
            slots = len(i) * self.per_atom
            flat = torch.nonzero_static(keep.reshape(-1), size=slots, fill_value=0).squeeze(1)
            dest = (total + torch.arange(slots, device=self.device)).clamp(max=last_slot)  # the clamp: overflow only
            self.pair_i[dest] = i[flat // j.shape[1]]
            self.pair_j[dest] = j.reshape(-1)[flat]
            total += per_row.sum()
        self.model_j.copy_(self.model_of_position[self.pair_j.clamp(min=0)])
        self.counts.copy_(torch.stack([total, count[:ncells].max(), most, within]))
