"""Pair lists for the embedded engine: every (local atom, any atom) pair within the model cutoff.

LAMMPS' ghost atoms already carry the periodic images, so no cell is needed here.

`VerletPairs` keeps a candidate list built with cutoff + skin and only filters it by distance each
step; it is rebuilt when LAMMPS renumbered or re-imaged its atoms (the tag array changed) or some atom
moved more than skin/2 since the build (then a pair now within the cutoff may be missing). It also
folds ghosts into the atoms the model sees: a ghost that is a periodic image of one of my local atoms
becomes that local atom (the pair keeps the image's vector), and the images of another rank's atom
become one "foreign" atom. The model then evaluates local atoms plus foreign atoms only - on one rank
no ghost at all, like a periodic evaluation - and only foreign forces need sending to their owners.
"""
import numpy as np
from scipy.spatial import cKDTree

from .options import DEFAULT_SKIN, MAX_PAIR_SKIN  # noqa: F401 (the skin is the pair list's)
FINDERS = ("auto", "kdtree", "cell_list")


def local_pairs(positions, nlocal, cutoff):
    """Return (pair_i, pair_j) of pairs with i < nlocal, any j != i, |x_j - x_i| < cutoff (scipy, on the host),
    sorted by i, then j."""
    positions = np.ascontiguousarray(positions, dtype=np.float64)
    # Unbalanced trees build faster, and the structured-array output skips a sparse matrix: 1.7x faster in all
    # at 2,272 atoms (5,355 with ghosts) on the CI machine, the same pairs.
    quick = dict(balanced_tree=False, compact_nodes=False)
    local_tree = cKDTree(positions[:nlocal], **quick)
    all_tree = cKDTree(positions, **quick)
    found = local_tree.sparse_distance_matrix(all_tree, cutoff, output_type="ndarray")
    pair_i, pair_j = found["i"].astype(np.int64), found["j"].astype(np.int64)
    keep = pair_i != pair_j
    pair_i, pair_j = pair_i[keep], pair_j[keep]
    order = np.argsort(pair_i * len(positions) + pair_j)  # sorted by i: the model's per-atom sums run faster
    return pair_i[order], pair_j[order]


class VerletPairs:
    """Pairs within `cutoff` from a reused candidate list (cutoff + skin), as torch tensors on `device`.

    Correct for any skin: an atom within the cutoff now existed at the build (same tag array) and was
    then within cutoff + skin (no atom moved skin/2). Candidates LAMMPS has no ghost for are never
    needed, since LAMMPS keeps every atom within the cutoff. Skin 0 rebuilds every step.
    """

    def __init__(self, cutoff, skin=DEFAULT_SKIN, device="cpu", finder="auto"):
        """finder: how candidates are found - "kdtree" (scipy on the host, 2-3x faster than a torch cell list on
        a CPU), "cell_list" (cell_list.py: fixed shapes, one captured CUDA graph on a GPU) or "auto" (the cell
        list on a GPU, else the k-d tree)."""
        import torch

        if finder not in FINDERS:
            raise ValueError(f"unknown pair finder {finder!r}; allowed: {', '.join(FINDERS)}")
        self.torch = torch
        self.cutoff = float(cutoff)
        self.skin = float(skin)
        self.device = torch.device(device)
        if finder == "auto":
            finder = "cell_list" if self.device.type == "cuda" else "kdtree"
        from .cell_list import CellListPairs

        self.cell_list = (CellListPairs(self.cutoff + self.skin, self.cutoff, self.device)
                          if finder == "cell_list" else None)
        self.builds = 0
        self._tags = None

    def update(self, positions, tags, nlocal):
        """Rebuild the candidates if needed; return the positions as a float64 tensor on the device."""
        torch = self.torch
        x = torch.as_tensor(positions, dtype=torch.float64).to(self.device)
        if self._tags is None or self.skin <= 0 or not np.array_equal(tags, self._tags) or self._moved_too_far(x):
            self._build(np.asarray(positions, dtype=np.float64), np.array(tags, dtype=np.int64), nlocal, x)
        return x

    def _moved_too_far(self, x):
        if x.shape != self._built_x.shape:
            return True
        moved = (x - self._built_x).square().sum(dim=1).max()
        return bool(moved > (self.skin / 2) ** 2)

    def _build(self, positions, tags, nlocal, x):
        torch = self.torch
        owner_of_tag = np.full(int(tags.max()) + 1, -1, dtype=np.int64)
        owner_of_tag[tags[:nlocal]] = np.arange(nlocal)
        model_of_position = owner_of_tag[tags]  # my local atom (itself or the one this ghost images), else -1
        if self.cell_list is not None:
            cand_i, cand_j, model_j, self._within = self.cell_list.find(
                x, nlocal, torch.as_tensor(model_of_position, device=self.device))
        else:
            cand_i, cand_j = (torch.from_numpy(a).to(self.device)
                              for a in local_pairs(positions, nlocal, self.cutoff + self.skin))
            model_j = torch.as_tensor(model_of_position, device=self.device)[cand_j]
            self._within = None
        self.foreign_tags, self.foreign_atoms = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        if np.any(model_of_position < 0):  # another rank's atoms among my ghosts: each becomes one model atom
            tag = torch.as_tensor(tags, device=self.device)
            foreign = model_j < 0
            foreign_tags, foreign_index = torch.unique(tag[cand_j[foreign]], return_inverse=True)
            foreign_atoms = torch.zeros(len(foreign_tags), dtype=torch.int64, device=self.device)
            foreign_atoms[foreign_index] = cand_j[foreign]  # one ghost index per foreign atom, for its type
            model_j[foreign] = nlocal + foreign_index
            self.foreign_tags = foreign_tags.cpu().numpy()
            self.foreign_atoms = foreign_atoms.cpu().numpy()
        self.nlocal = nlocal
        self.natoms = nlocal + len(self.foreign_tags)  # atoms the model sees
        self._cand_i, self._cand_j, self._model_j = cand_i, cand_j, model_j
        self._tags = tags
        self._built_x = x.clone()
        self.npositions = len(x)  # the positions (local + ghost atoms) the candidates index
        self.builds += 1

    def candidates(self):
        """(position index i, position index j, model index of j) of every candidate pair, on the device."""
        return self._cand_i, self._cand_j, self._model_j

    def model_atoms(self):
        """Indices into LAMMPS' atom arrays of the atoms the model sees: local atoms, then one ghost per
        foreign atom (for their types)."""
        return np.concatenate([np.arange(self.nlocal), self.foreign_atoms])

    def count_within_cutoff(self) -> int:
        """How many candidates lie within the cutoff at the positions the list was built from (the cell list
        counts them as it builds; else one host sync)."""
        if self._within is None:
            vectors = self._built_x.index_select(0, self._cand_i) - self._built_x.index_select(0, self._cand_j)
            self._within = int((vectors.square().sum(dim=1) < self.cutoff**2).sum())
        return self._within

    def within_cutoff(self, x):
        """(pair_i, pair_j, pair_coord): model atom indices and x_i - x_j (float64) of pairs within the cutoff."""
        # On a CPU, index_select with the kept positions is 1.5-1.8x faster than boolean-mask indexing, and the
        # squared lengths as a matrix-vector product 3-4x faster than torch's sum over a dimension of 3.
        vectors = x.index_select(0, self._cand_i) - x.index_select(0, self._cand_j)
        keep = (vectors.square() @ vectors.new_ones(3) < self.cutoff**2).nonzero().squeeze(1)
        return self._cand_i.index_select(0, keep), self._model_j.index_select(0, keep), vectors.index_select(0, keep)
