"""VerletPairs: the pairs within the cutoff, exactly, while its candidate list is reused and rebuilt, with either
pair finder (the host's k-d tree; the fixed-shape cell list a GPU replays, run eagerly here)."""
import numpy as np
import pytest

from mlmd_parsl.science.embedded.pairs import VerletPairs

CUTOFF = 4.0
FINDERS = pytest.mark.parametrize("finder", ["kdtree", "cell_list"])


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


@FINDERS
def test_pairs_match_brute_force_and_images_fold_onto_their_atoms(finder):
    positions, tags, nlocal = cluster()
    pairs = VerletPairs(CUTOFF, skin=1.0, finder=finder)
    assert folded(pairs, positions, tags, nlocal) == brute_force(positions, tags, nlocal)
    # every image of a local atom became that atom; each foreign atom appears once, however many images
    assert pairs.natoms == nlocal + len(pairs.foreign_tags)
    assert len(set(pairs.foreign_tags)) == len(pairs.foreign_tags) and set(pairs.foreign_tags) <= set(tags[nlocal:])
    assert not set(pairs.foreign_tags) & set(tags[:nlocal])
    assert any(t in pairs.foreign_tags for t in range(nlocal + 1, nlocal + 11))  # twins present in the pairs


@FINDERS
def test_candidates_are_reused_while_atoms_move_less_than_half_the_skin(finder):
    positions, tags, nlocal = cluster(seed=1)
    pairs = VerletPairs(CUTOFF, skin=1.0, finder=finder)
    folded(pairs, positions, tags, nlocal)
    rng = np.random.default_rng(2)
    for _ in range(5):
        moved = positions + rng.uniform(-0.28, 0.28, size=positions.shape)  # |d| < 0.49 A
        assert folded(pairs, moved, tags, nlocal) == brute_force(moved, tags, nlocal)
    assert pairs.builds == 1


@FINDERS
@pytest.mark.parametrize("change", ["one atom moves beyond half the skin", "tags renumbered", "atom count"])
def test_candidates_are_rebuilt_when_they_may_be_stale(change, finder):
    positions, tags, nlocal = cluster(seed=3)
    pairs = VerletPairs(CUTOFF, skin=1.0, finder=finder)
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


@FINDERS
def test_zero_skin_finds_pairs_every_step(finder):
    positions, tags, nlocal = cluster(seed=4)
    pairs = VerletPairs(CUTOFF, skin=0.0, finder=finder)
    for _ in range(3):
        assert folded(pairs, positions, tags, nlocal) == brute_force(positions, tags, nlocal)
    assert pairs.builds == 3


@FINDERS
def test_the_count_within_the_cutoff_is_that_of_the_pairs(finder):
    positions, tags, nlocal = cluster(seed=7)
    pairs = VerletPairs(CUTOFF, skin=1.0, finder=finder)
    x = pairs.update(positions, tags, nlocal)
    assert pairs.count_within_cutoff() == len(brute_force(positions, tags, nlocal)) == len(pairs.within_cutoff(x)[0])


def test_an_unknown_finder_is_refused_by_name():
    with pytest.raises(ValueError, match="'octree'.*kdtree, cell_list"):
        VerletPairs(CUTOFF, finder="octree")
