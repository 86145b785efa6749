"""Evaluate an exported hippynn_lammps_model.pt on LAMMPS-style inputs (local atoms + ghosts + pairs).

The "hippynn" model step is the same call LAMMPS' `pair_style mliap unified` makes
(MLIAPInterface.compute_forces): graph(z, pair_i, pair_j, -rij, nlocal) -> per-atom energies of local
atoms, their sum, pair forces. The "lean" step (default) computes the same from the same weights with
LeanHipnn (measured against hippynn's step in benchmarks/harness.py, the "model" and "stock" columns);
networks it does not support fall back to hippynn's graph.
"""
import numpy as np

MODEL_STEPS = ("lean", "hippynn")


class ModelEvaluator:
    def __init__(self, interface, device="cpu", dtype="float32", model_step="lean"):
        import torch

        from .export import model_cutoff
        from .lean_hipnn import LeanHipnn, UnsupportedNetwork

        if model_step not in MODEL_STEPS:
            raise ValueError(f"model_step {model_step!r}: one of {', '.join(MODEL_STEPS)}")
        self.torch = torch
        self.device = torch.device(device)
        self.dtype = getattr(torch, dtype)
        self.graph = interface.graph.to(self.device).to(self.dtype)
        self.species_set = interface.species_set.to(self.device)
        self.cutoff = model_cutoff(interface)
        self.element_types = list(interface.element_types)
        self.lean, self.fallback_reason = None, ""
        if model_step == "lean":
            try:
                self.lean = LeanHipnn.from_graph(self.graph)
            except UnsupportedNetwork as exc:
                self.fallback_reason = f"hippynn's graph used: {exc}"
        self.model_step = "lean" if self.lean is not None else "hippynn"

    def atomic_numbers(self, lammps_types):
        """LAMMPS types (1-based, in element_types order) -> atomic numbers of the model's species."""
        return self.species_set[self.torch.as_tensor(np.asarray(lammps_types), device=self.device)]

    def evaluate(self, atomic_numbers, nlocal, pair_i, pair_j, pair_coord):
        """Energy of the first `nlocal` atoms, forces on every atom the model saw and the virial.

        pair_i / pair_j index `atomic_numbers`; pair_coord is x_i - x_j (any float dtype, numpy or torch).
        Forces are summed on the device (index_add_) in float64 and come back as one (n, 3) numpy array;
        the virial is sum_pairs (x_i - x_j) f_ij in LAMMPS order (xx, yy, zz, xy, xz, yz), energy units.
        """
        torch = self.torch
        z = atomic_numbers.reshape(1, -1)
        pi = torch.as_tensor(pair_i, device=self.device)
        pj = torch.as_tensor(pair_j, device=self.device)
        pc = torch.as_tensor(pair_coord, device=self.device)
        if self.lean is not None:
            local_weight = (torch.arange(z.shape[1], device=self.device) < nlocal).to(self.dtype)
            total_energy, pair_forces = self.lean.energy_and_pair_forces(z.reshape(-1), pi, pj, pc.to(self.dtype),
                                                                         local_weight)
        else:
            n = torch.as_tensor(nlocal)  # on the host: the graph slices energies with it, a device copy would sync
            _, total_energy, pair_forces = self.graph(z, pi, pj, pc.to(self.dtype), n)
        with torch.no_grad():
            forces, scalars = assemble(z.shape[1], pi, pj, pc, pair_forces, total_energy)
            scalars = scalars.cpu().numpy()
        return float(scalars[0]), forces.cpu().numpy(), scalars[1:]


def assemble(natoms, pair_i, pair_j, pair_coord, pair_forces, energy):
    """Forces on natoms atoms from pair forces f_ij (+ on i, - on j) and (energy, virial) as one float64
    tensor, the virial sum_pairs (x_i - x_j) f_ij in LAMMPS order (xx, yy, zz, xy, xz, yz). Torch only, no
    host sync, so the captured CUDA-graph step uses it too."""
    import torch

    pair_forces = pair_forces.detach().to(torch.float64)
    forces = torch.zeros((natoms, 3), dtype=torch.float64, device=pair_forces.device)
    forces.index_add_(0, pair_i, pair_forces)
    forces.index_add_(0, pair_j, -pair_forces)  # not alpha=-1: torch's CPU index_add_ takes 3-4x longer with it
    w = pair_coord.detach().to(torch.float64).T @ pair_forces  # w[a, b] = sum_pairs pc_a f_b
    scalars = torch.stack([energy.detach().reshape(()).to(torch.float64),
                           w[0, 0], w[1, 1], w[2, 2], w[0, 1], w[0, 2], w[1, 2]])
    return forces, scalars
