"""The lean export's step inside the seed's engine on a GPU: fused pair kernels, one captured CUDA graph.

Through KOKKOS, ML-IAP hands `compute_forces` its pairs within the cutoff as device arrays (pair_i, rij) whose
count changes every step. Launched eagerly, the lean network is a few hundred kernels and host round trips per
step; here the pairs are copied into buffers of fixed size (headroom for more pairs; unused slots point at a
dummy atom far away, which adds exactly zero), and the network, its gradient and the per-atom energies are one
CUDA graph replayed every step. A step with more pairs or atoms than the buffers hold grows them and captures
again. What goes back to LAMMPS is what hippynn's interface gives it: per-atom energies of the local atoms,
their sum and one float64 force per pair (LAMMPS adds it to i, subtracts it from j and sums the virial).

Padding pairs belong to the dummy atom, the last, whose sums are never formed (the kernels skip pairs of atoms
beyond those they sum: every padding pair adding zero onto one address would serialise on its atomics).

Streams: KOKKOS wrote the pairs on its own stream, so the step first waits for the device; LAMMPS reads our
forces and energies only after the energy is on the host, which waits for everything the step queued.

One species only: the fused kernels (fused_pairs.py) do not read the neighbour's species. On a CPU nothing is
captured: the same fixed-size step runs eagerly (how the unit tests check it, with Triton's interpreter).
"""
import torch

from .captured_graph import CapturedGraph, far_away_vectors, fill_padded, with_headroom


class CapturedMLIAPStep:
    def __init__(self, lean, species_set, device, dtype):
        if getattr(lean, "fused", None) is None:
            raise ValueError("CapturedMLIAPStep needs the lean network on its fused pair kernels")
        self.lean, self.species_set = lean, species_set
        self.device, self.dtype = torch.device(device), dtype
        self.graph = CapturedGraph(self._body, self.device)
        self.pair_capacity = self.atom_capacity = 0

    @property
    def captures(self):
        return self.graph.captures

    def compute_forces(self, data):
        """ML-IAP's call (Kokkos data on this step's device): energies, per-atom energies and pair forces."""
        if self.device.type != "cuda":
            return self._forces_and_energies(data)
        with torch.cuda.device(self.device):  # Triton and the graph launch on the current device
            torch.cuda.synchronize()  # KOKKOS' writes of rij and pair_i are done before we read them
            self._forces_and_energies(data)

    def _forces_and_energies(self, data):
        nlocal, npairs = int(data.nlistatoms), int(data.npairs)
        if npairs > self.pair_capacity or nlocal + 1 > self.atom_capacity:
            self._allocate(with_headroom(max(npairs, 1), spare=0), with_headroom(nlocal))
        pair_i = torch.as_tensor(data.pair_i, device=self.device) if npairs else None
        fill_padded(self.pair_i, npairs, pair_i, self.atom_capacity - 1)
        if npairs:
            torch.neg(torch.as_tensor(data.rij, device=self.device), out=self.coord[:npairs])  # rij is x_j - x_i
        fill_padded(self.coord, npairs, None, self.padding)
        elems = torch.as_tensor(data.elems, device=self.device)[:nlocal].to(torch.int64)
        self.numbers[:nlocal].copy_(self.species_set[elems + 1])
        torch.lt(self.atom_index, nlocal, out=self.local)
        self.graph.run()
        torch.as_tensor(data.eatoms, device=self.device).copy_(self.eatoms[:nlocal])
        data.energy = float(self.energy)  # the one host sync: everything queued above is done
        if npairs:
            data.update_pair_forces_gpu(self.pair_forces[:npairs])  # LAMMPS reads our forces only now

    def _allocate(self, pairs, atoms):
        index = dict(dtype=torch.int64, device=self.device)
        self.pair_capacity, self.atom_capacity = pairs, atoms
        self.pair_i = torch.zeros(pairs, **index)
        self.coord = torch.zeros((pairs, 3), dtype=torch.float64, device=self.device)
        self.padding = far_away_vectors(pairs, self.device)
        self.numbers = torch.full((atoms,), int(self.species_set[1]), **index)
        self.atom_index = torch.arange(atoms, device=self.device)
        self.local = torch.zeros(atoms, dtype=torch.bool, device=self.device)
        self.pair_forces = torch.zeros((pairs, 3), dtype=torch.float64, device=self.device)
        self.eatoms = torch.zeros(atoms - 1, dtype=torch.float64, device=self.device)
        self.energy = torch.zeros((), dtype=torch.float64, device=self.device)
        self.graph.forget()

    def _body(self):
        coord = self.coord.to(self.dtype, copy=True).requires_grad_(True)
        # pair_j None: the fused kernels take one species, so the neighbour's does not enter. The last atom is
        # the padding pairs' dummy: its pairs are skipped (zeros added onto one address serialise on the atomics).
        real = self.atom_capacity - 1
        energies = self.lean.atom_energies(self.numbers, self.pair_i, None, coord, real)
        energy = (energies * self.local[:real].to(energies.dtype)).sum()
        (grad,) = torch.autograd.grad(energy, coord)
        self.pair_forces.copy_(grad.neg())
        self.eatoms.copy_(energies.detach())
        self.energy.copy_(energy.detach())
