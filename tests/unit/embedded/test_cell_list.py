"""CellListPairs (the GPU's pair finder, fixed shapes) run eagerly on the CPU against scipy's k-d tree."""
import numpy as np
import pytest
import torch

from mlmd_parsl.science.embedded.cell_list import CellListPairs
from mlmd_parsl.science.embedded.pairs import local_pairs

REACH, CUTOFF = 5.0, 4.0


def atoms(seed, n=400, side=18.0, nlocal=250):
    rng = np.random.default_rng(seed)
    return rng.uniform(-7.0, side - 7.0, size=(n, 3)), nlocal  # negative coordinates and cells too


def found(finder, positions, nlocal, model_of_position=None):
    if model_of_position is None:
        model_of_position = np.arange(len(positions))
    i, j, model_j, within = finder.find(torch.as_tensor(positions), nlocal, torch.as_tensor(model_of_position))
    return i.numpy().copy(), j.numpy().copy(), model_j.numpy().copy(), within


def expected(positions, nlocal):
    i, j = local_pairs(positions, nlocal, REACH)
    d2 = ((positions[i] - positions[j]) ** 2).sum(axis=1)
    return set(zip(i.tolist(), j.tolist())), int((d2 < CUTOFF**2).sum())


def check(finder, positions, nlocal):
    i, j, _, within = found(finder, positions, nlocal)
    pairs, pairs_within = expected(positions, nlocal)
    assert len(i) == len(pairs) > 1000  # no pair twice, none missing
    assert set(zip(i.tolist(), j.tolist())) == pairs
    assert np.all(np.diff(i) >= 0)  # sorted by i: the model's per-atom sums rely on it
    assert within == pairs_within


@pytest.mark.parametrize("seed", [5, 6])
def test_finds_the_k_d_tree_pairs(seed):
    positions, nlocal = atoms(seed)
    check(CellListPairs(REACH, CUTOFF, "cpu"), positions, nlocal)


def test_model_index_of_j_comes_from_the_positions_map():
    positions, nlocal = atoms(1)
    model_of_position = np.random.default_rng(0).integers(-1, 300, size=len(positions))
    _, j, model_j, _ = found(CellListPairs(REACH, CUTOFF, "cpu"), positions, nlocal, model_of_position)
    assert np.array_equal(model_j, model_of_position[j])


def test_atoms_beyond_the_grid_and_a_crowded_cell_lose_no_pair():
    finder = CellListPairs(REACH, CUTOFF, "cpu")
    positions, nlocal = atoms(2)
    check(finder, positions, nlocal)
    per_cell, per_atom, capacity = finder.per_cell, finder.per_atom, finder.pair_capacity
    spread = positions * np.array([1.6, 1.0, 1.0]) + [25.0, 0.0, 0.0]  # most atoms now beyond the grid's cells
    check(finder, spread, nlocal)
    crowded = positions.copy()
    crowded[:60] = crowded[:60] * 0.15  # 60 atoms crammed into a few cells: a fuller cell, an atom with more pairs
    check(finder, crowded, nlocal)
    # the counts that outgrew their buffers grew them, and the pairs were found again
    assert finder.per_cell > per_cell and finder.per_atom > per_atom and finder.pair_capacity > capacity


def test_fewer_atoms_after_more_ignore_the_stale_rows():
    finder = CellListPairs(REACH, CUTOFF, "cpu")
    positions, nlocal = atoms(3, n=500, nlocal=300)
    check(finder, positions, nlocal)
    capacity = finder.position_capacity
    check(finder, positions[:350], 200)
    assert finder.position_capacity == capacity  # the same buffers, rows 350.. left from the first find
