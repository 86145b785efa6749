"""VerletPairs: the pairs within the cutoff, exactly, while its candidate list is reused and rebuilt."""
import numpy as np
import pytest

from mlmd_parsl.science.engine.pairs import VerletPairs, local_pairs, local_pairs_cell_list

CUTOFF = 4.0


def cluster(seed=0, nlocal=120, nforeign=60):
    """Local atoms 1..nlocal, ghosts that image some local atoms (same tag, shifted), foreign ghosts whose
    tags no local atom has, two images of some foreign atoms; positions in a 14 A cube (silver-like density)."""
    rng = np.random.default_rng(seed)
    local = rng.uniform(0, 14, size=(nlocal, 3))
    image_of = rng.choice(nlocal, size=40, replace=False)
    images = local[image_of] + np.array([14.0, 0.0, 0.0])
    foreign = rng.uniform([14, 0, 0], [18, 14, 14], size=(nforeign, 3))
    foreign_twins = foreign[:10] - np.array([0.0, 0.0, 14.0])
    positions = np.concatenate([local, images, foreign, foreign_twins])
    tags = np.concatenate([np.arange(1, nlocal + 1), image_of + 1, np.arange(nlocal + 1, nlocal + nforeign + 1),
                           np.arange(nlocal + 1, nlocal + 11)])
    return positions, tags, nlocal


def brute_force(positions, tags, nlocal):
    """Sorted rows (i, tag of j, rounded x_i - x_j) of all pairs i < nlocal, j != i within the cutoff."""
    rows = []
    for i in range(nlocal):
        d = positions[i] - positions
        for j in np.nonzero((np.einsum("ij,ij->i", d, d) < CUTOFF**2) & (np.arange(len(positions)) != i))[0]:
            rows.append((i, tags[j], *np.round(d[j], 9)))
    return sorted(rows)


def folded(pairs, positions, tags, nlocal):
    x = pairs.update(positions, tags, nlocal)
    pair_i, model_j, vectors = (t.numpy() for t in pairs.within_cutoff(x))
    model_tags = tags[pairs.model_atoms()]
    assert np.array_equal(model_tags[:nlocal], tags[:nlocal])
    return sorted((i, model_tags[j], *np.round(v, 9)) for i, j, v in zip(pair_i, model_j, vectors))


def test_pairs_match_brute_force_and_images_fold_onto_their_atoms():
    positions, tags, nlocal = cluster()
    pairs = VerletPairs(CUTOFF, skin=1.0)
    assert folded(pairs, positions, tags, nlocal) == brute_force(positions, tags, nlocal)
    # every image of a local atom became that atom; each foreign atom appears once, however many images
    assert pairs.natoms == nlocal + len(pairs.foreign_tags)
    assert len(set(pairs.foreign_tags)) == len(pairs.foreign_tags) and set(pairs.foreign_tags) <= set(tags[nlocal:])
    assert not set(pairs.foreign_tags) & set(tags[:nlocal])
    assert any(t in pairs.foreign_tags for t in range(nlocal + 1, nlocal + 11))  # twins present in the pairs


def test_candidates_are_reused_while_atoms_move_less_than_half_the_skin():
    positions, tags, nlocal = cluster(seed=1)
    pairs = VerletPairs(CUTOFF, skin=1.0)
    folded(pairs, positions, tags, nlocal)
    rng = np.random.default_rng(2)
    for _ in range(5):
        moved = positions + rng.uniform(-0.28, 0.28, size=positions.shape)  # |d| < 0.49 A
        assert folded(pairs, moved, tags, nlocal) == brute_force(moved, tags, nlocal)
    assert pairs.builds == 1


@pytest.mark.parametrize("change", ["one atom moves beyond half the skin", "tags renumbered", "atom count"])
def test_candidates_are_rebuilt_when_they_may_be_stale(change):
    positions, tags, nlocal = cluster(seed=3)
    pairs = VerletPairs(CUTOFF, skin=1.0)
    folded(pairs, positions, tags, nlocal)
    if change == "one atom moves beyond half the skin":
        positions = positions.copy()
        positions[5] += [0.51, 0.0, 0.0]
    elif change == "tags renumbered":
        order = np.concatenate([np.arange(nlocal)[::-1], np.arange(nlocal, len(tags))])
        positions, tags = positions[order], tags[order]
    else:
        positions, tags = positions[:-1], tags[:-1]
    assert folded(pairs, positions, tags, nlocal) == brute_force(positions, tags, nlocal)
    assert pairs.builds == 2


def test_zero_skin_finds_pairs_every_step():
    positions, tags, nlocal = cluster(seed=4)
    pairs = VerletPairs(CUTOFF, skin=0.0)
    for _ in range(3):
        assert folded(pairs, positions, tags, nlocal) == brute_force(positions, tags, nlocal)
    assert pairs.builds == 3


@pytest.mark.parametrize("seed", [5, 6])
def test_cell_list_finds_the_k_d_tree_pairs(seed):
    """The GPU's pair finder (torch cell list), run on the CPU here, against scipy's k-d tree."""
    import torch

    positions, _, nlocal = cluster(seed=seed)
    positions = positions - 7.0  # negative coordinates and cells
    expected = local_pairs(positions, nlocal, CUTOFF + 1.0)
    found = local_pairs_cell_list(torch.as_tensor(positions), nlocal, CUTOFF + 1.0)
    assert len(expected[0]) > 1000
    assert all(np.array_equal(e, f.numpy()) for e, f in zip(expected, found))
