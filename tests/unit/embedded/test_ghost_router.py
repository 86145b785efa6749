"""Ghost forces routed to their owners on one rank (MPI.COMM_SELF); tests/unit/embedded/test_embedded.py runs the
multi-rank exchange through the engine."""
import numpy as np
import pytest
from mpi4py import MPI

from mlmd_parsl.science.embedded.ghost_router import GhostForceRouter


def test_one_rank_adds_image_forces_to_their_atoms_and_routes_nothing_without_them():
    router = GhostForceRouter(MPI.COMM_SELF, natoms_total=4)
    local_tags = np.array([3, 1, 4, 2])
    forces = np.arange(12.0).reshape(4, 3)
    router.add_ghost_forces(local_tags, np.empty(0, dtype=np.int64), np.zeros((0, 3)), forces)
    assert np.array_equal(forces, np.arange(12.0).reshape(4, 3))
    router.add_ghost_forces(local_tags, np.array([4, 4, 1]), np.ones((3, 3)), forces)
    assert np.array_equal(forces[2], np.arange(6.0, 9.0) + 2) and np.array_equal(forces[1], np.arange(3.0, 6.0) + 1)
    assert np.array_equal(forces[[0, 3]], np.arange(12.0).reshape(4, 3)[[0, 3]])


def test_one_rank_refuses_a_ghost_it_does_not_own():
    router = GhostForceRouter(MPI.COMM_SELF, natoms_total=4)
    with pytest.raises(RuntimeError, match="no owner"):
        router.add_ghost_forces(np.array([1, 2]), np.array([3]), np.ones((1, 3)), np.zeros((2, 3)))
