"""Each training frame's periodic neighbours within the model's cutoff, found once, in a fixed-shape table.

Training frames never move, so their pairs are found once (ASE's periodic neighbour list) instead of in
every batch. Row a of a frame's table lists atom a's neighbours j and the cell shift s of each (Angstrom),
so the pair vector is x_j + s - x_a and gradients with respect to the positions give forces. Rows are
padded to the widest row of the whole set with the atom itself and a shift of PAD_SHIFT_FACTOR x cutoff:
a pair far beyond the cutoff, which adds exactly zero energy and force (hippynn's cosine cutoff is
multiplied by d <= cutoff), keeps every batch the same shape.
"""
from dataclasses import dataclass

import numpy as np

PAD_SHIFT_FACTOR = 3.0


@dataclass(frozen=True)
class FrameNeighbours:
    index: np.ndarray  # (frames, atoms, width) int64: neighbour atom of the same frame
    shift: np.ndarray  # (frames, atoms, width, 3) float64: cell shift of that neighbour, Angstrom
    pairs: int  # real pairs (i, j) within the cutoff, padding excluded

    @property
    def width(self):
        return self.index.shape[2]


def frame_neighbours(positions, cells, cutoff) -> FrameNeighbours:
    """positions (frames, atoms, 3) and cells (frames, 3, 3), Angstrom; every frame periodic in 3D."""
    from ase.neighborlist import primitive_neighbor_list

    positions, cells = np.asarray(positions, dtype=np.float64), np.asarray(cells, dtype=np.float64)
    nframes, natoms = positions.shape[:2]
    found = []
    for frame in range(nframes):
        i, j, shift_counts = primitive_neighbor_list(
            "ijS", (True, True, True), cells[frame], positions[frame], cutoff, self_interaction=False)
        order = np.argsort(i, kind="stable")
        found.append((i[order], j[order], shift_counts[order] @ cells[frame]))
    width = max(int(np.bincount(i, minlength=natoms).max()) if len(i) else 0 for i, _, _ in found)
    width = max(width, 1)
    index = np.broadcast_to(np.arange(natoms)[None, :, None], (nframes, natoms, width)).copy()
    shift = np.zeros((nframes, natoms, width, 3))
    shift[..., 0] = PAD_SHIFT_FACTOR * cutoff
    for frame, (i, j, s) in enumerate(found):
        first = np.cumsum(np.bincount(i, minlength=natoms)) - np.bincount(i, minlength=natoms)
        slot = np.arange(len(i)) - first[i]
        index[frame, i, slot] = j
        shift[frame, i, slot] = s
    return FrameNeighbours(index=index, shift=shift, pairs=sum(len(i) for i, _, _ in found))
