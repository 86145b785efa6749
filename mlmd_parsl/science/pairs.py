"""Pair lists for the embedded engine: every (local atom, any atom) pair within the model cutoff.

LAMMPS' ghost atoms already carry the periodic images, so no cell is needed here.
"""
import numpy as np
from scipy.spatial import cKDTree


def local_pairs(positions, nlocal, cutoff):
    """Return (pair_i, pair_j, pair_coord) for pairs with i < nlocal, any j != i, |x_j - x_i| < cutoff.

    pair_coord is x_i - x_j: the `-rij` that LAMMPS' ML-IAP hands hippynn's graph.
    """
    positions = np.ascontiguousarray(positions, dtype=np.float64)
    local_tree = cKDTree(positions[:nlocal])
    all_tree = cKDTree(positions)
    matrix = local_tree.sparse_distance_matrix(all_tree, cutoff, output_type="coo_matrix")
    pair_i = matrix.row.astype(np.int64)
    pair_j = matrix.col.astype(np.int64)
    keep = pair_i != pair_j
    pair_i, pair_j = pair_i[keep], pair_j[keep]
    pair_coord = positions[pair_i] - positions[pair_j]
    return pair_i, pair_j, pair_coord
