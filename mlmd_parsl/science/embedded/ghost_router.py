"""Send forces that land on ghost atoms back to the ranks that own those atoms ("owner sum").

The model is evaluated for local atoms only (as ML-IAP does), so each pair (local i, ghost j) puts
a force on a ghost. LAMMPS' `fix external` only accepts forces on local atoms, so we do the reverse
communication ourselves. Communication is proportional to the ghost shell:

* a plan maps each ghost to its owner rank; it is made by asking the ranks whose sub-domains lie
  near my ghosts which of my ghost tags they own (all ranks as fallback), and remade whenever any
  rank's ghost list changed or an expected atom is no longer owned where it was (re-neighbouring);
* every step, each rank sends the ghost forces to their owners only, point to point.
"""
import numpy as np

_FORCE_TAG = 7102


class GhostForceRouter:
    def __init__(self, comm, natoms_total, neighbour_ranks=None):
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.natoms_total = natoms_total
        self.neighbour_ranks = neighbour_ranks  # candidate owners, None = all ranks
        self._ghost_tags = None
        self._send = {}  # rank -> indices into my ghost array owned by that rank
        self._recv = {}  # rank -> tags (in send order) I own for that rank
        self._table = np.full(natoms_total + 1, -1, dtype=np.int64)  # tag -> local index, kept across steps
        self._mapped_tags = np.empty(0, dtype=np.int64)

    def _local_map(self, local_tags):
        """tag -> local index (-1 if not mine); only last step's entries are cleared, so the per-step cost
        is O(local atoms), not O(all atoms)."""
        self._table[self._mapped_tags] = -1
        self._table[local_tags] = np.arange(len(local_tags))
        self._mapped_tags = np.array(local_tags, dtype=np.int64)
        return self._table

    def add_ghost_forces(self, local_tags, ghost_tags, ghost_forces, local_forces):
        """Add each ghost's force to its owner's local force array (in place, on every rank)."""
        if self.size == 1 and len(ghost_tags) == 0:  # one rank folds every image onto its atom: nothing to route
            return
        local_map = self._local_map(local_tags)
        if self.size == 1:
            if np.any(local_map[ghost_tags] < 0):
                raise RuntimeError("a ghost atom has no owner on a single rank")
            np.add.at(local_forces, local_map[ghost_tags], ghost_forces)
            return
        stale = self._ghost_tags is None or not np.array_equal(ghost_tags, self._ghost_tags)
        if not stale:
            stale = any(np.any(local_map[tags] < 0) for tags in self._recv.values())
        if self.comm.allreduce(bool(stale), op=_mpi_lor()):  # collective: every rank replans together
            self._make_plan(local_map, ghost_tags)
        self._exchange(local_map, ghost_forces, local_forces)

    def _make_plan(self, local_map, ghost_tags):
        from mpi4py import MPI

        self._ghost_tags = ghost_tags.copy()
        owner = np.full(len(ghost_tags), -1, dtype=np.int64)
        owner[local_map[ghost_tags] >= 0] = self.rank  # periodic images of my own atoms
        received = {}
        asked = {self.rank}
        # Ask the nearby ranks first; anything still unowned is asked of every other rank.
        for round_ranks in (self.neighbour_ranks or range(self.size), range(self.size)):
            unresolved = np.nonzero(owner < 0)[0]
            if not self.comm.allreduce(len(unresolved) > 0, op=MPI.LOR):
                break
            targets = [r for r in round_ranks if r not in asked] if len(unresolved) else []
            asked.update(targets)
            outgoing = [None] * self.size
            for r in targets:
                outgoing[r] = ghost_tags[unresolved]
            incoming = self.comm.alltoall(outgoing)
            answers = self.comm.alltoall([None if q is None else local_map[q] >= 0 for q in incoming])
            for r, mask in enumerate(answers):
                if mask is not None:
                    owner[unresolved[mask]] = r
            for r, query in enumerate(incoming):
                if query is not None and np.any(local_map[query] >= 0):
                    received.setdefault(r, []).append(query[local_map[query] >= 0])
        if np.any(owner < 0):
            raise RuntimeError(f"rank {self.rank}: {int(np.sum(owner < 0))} ghost atoms have no owner rank")
        self._recv = {r: np.concatenate(parts) for r, parts in received.items()}
        self._self_ghosts = np.nonzero(owner == self.rank)[0]
        self._send = {r: np.nonzero(owner == r)[0] for r in np.unique(owner).tolist() if r != self.rank}

    def _exchange(self, local_map, ghost_forces, local_forces):
        from mpi4py import MPI

        if len(self._self_ghosts):
            np.add.at(local_forces, local_map[self._ghost_tags[self._self_ghosts]], ghost_forces[self._self_ghosts])
        requests = []
        buffers = {}
        for r, tags in self._recv.items():
            buffers[r] = np.empty((len(tags), 3), dtype=np.float64)
            requests.append(self.comm.Irecv(buffers[r], source=r, tag=_FORCE_TAG))
        outgoing = []
        for r, idx in self._send.items():
            payload = np.ascontiguousarray(ghost_forces[idx], dtype=np.float64)
            outgoing.append(payload)
            requests.append(self.comm.Isend(payload, dest=r, tag=_FORCE_TAG))
        MPI.Request.Waitall(requests)
        for r, tags in self._recv.items():
            np.add.at(local_forces, local_map[tags], buffers[r])


def _mpi_lor():
    from mpi4py import MPI

    return MPI.LOR


def neighbour_ranks_from_subdomains(comm, sublo, subhi, boxlo, boxhi, periodic, margin):
    """Ranks whose sub-domain comes within `margin` of mine (periodic images included), me included."""
    bounds = comm.allgather((np.asarray(sublo, float), np.asarray(subhi, float)))
    lo, hi = np.asarray(sublo, float), np.asarray(subhi, float)
    length = np.asarray(boxhi, float) - np.asarray(boxlo, float)
    near = []
    for r, (olo, ohi) in enumerate(bounds):
        close = True
        for d in range(3):
            shifts = (-1, 0, 1) if periodic[d] else (0,)
            gap = min(max(olo[d] + s * length[d] - hi[d], lo[d] - (ohi[d] + s * length[d]), 0.0) for s in shifts)
            if gap > margin:
                close = False
                break
        if close:
            near.append(r)
    return near
