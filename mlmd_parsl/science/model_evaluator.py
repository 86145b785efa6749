"""Evaluate an exported hippynn_lammps_model.pt on LAMMPS-style inputs (local atoms + ghosts + pairs).

This is the same call LAMMPS' `pair_style mliap unified` makes (MLIAPInterface.compute_forces):
graph(z, pair_i, pair_j, -rij, nlocal) -> per-atom energies of local atoms, their sum, pair forces.
"""
import numpy as np


class ModelEvaluator:
    def __init__(self, interface, device="cpu", dtype="float32"):
        import torch

        self.torch = torch
        self.device = torch.device(device)
        self.dtype = getattr(torch, dtype)
        self.graph = interface.graph.to(self.device).to(self.dtype)
        self.species_set = interface.species_set.to(self.device)
        self.cutoff = float(interface.rcutfac) * 2.0  # rcutfac is half the hard cutoff
        self.element_types = list(interface.element_types)

    def atomic_numbers(self, lammps_types):
        """LAMMPS types (1-based, in element_types order) -> atomic numbers of the model's species."""
        return self.species_set[self.torch.as_tensor(np.asarray(lammps_types), device=self.device)]

    def evaluate(self, atomic_numbers, nlocal, pair_i, pair_j, pair_coord):
        """Return (energy of the local atoms, pair forces f_ij on atom i as float64 numpy arrays)."""
        torch = self.torch
        z = atomic_numbers.reshape(1, -1)
        pi = torch.as_tensor(pair_i, device=self.device)
        pj = torch.as_tensor(pair_j, device=self.device)
        pc = torch.as_tensor(pair_coord, device=self.device, dtype=self.dtype)
        n = torch.as_tensor(nlocal, device=self.device)
        _, total_energy, pair_forces = self.graph(z, pi, pj, pc, n)
        return float(total_energy.detach()), pair_forces.detach().to("cpu", torch.float64).numpy()


def forces_from_pairs(ntotal, pair_i, pair_j, pair_forces):
    """Per-atom forces (local and ghost) and the virial sum_ij (x_i - x_j) f_ij, given pair forces."""
    forces = np.zeros((ntotal, 3))
    np.add.at(forces, pair_i, pair_forces)
    np.add.at(forces, pair_j, -pair_forces)
    return forces


def pair_virial(pair_coord, pair_forces):
    """Virial in LAMMPS order (xx, yy, zz, xy, xz, yz), energy units."""
    w = pair_coord.T @ pair_forces  # w[a, b] = sum_pairs pc_a f_b
    return np.array([w[0, 0], w[1, 1], w[2, 2], w[0, 1], w[0, 2], w[1, 2]])
