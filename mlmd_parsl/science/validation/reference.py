"""Independent evaluation of a trained model on a periodic box with hippynn's own periodic graph, and the
reader of the engine's force dumps it is compared with.

Used to check the engine: same weights, but hippynn finds the periodic pairs itself from the cell.
"""
import numpy as np


def read_force_dump(path):
    """Read a LAMMPS `custom id type x y z fx fy fz` dump of one snapshot -> (ids, positions, forces, box lengths)."""
    lines = open(path).read().splitlines()
    bounds_at = lines.index(next(line for line in lines if line.startswith("ITEM: BOX BOUNDS")))
    lo_hi = np.array([[float(v) for v in lines[bounds_at + 1 + d].split()[:2]] for d in range(3)])
    atoms_at = lines.index(next(line for line in lines if line.startswith("ITEM: ATOMS")))
    columns = lines[atoms_at].split()[2:]
    table = np.array([[float(v) for v in line.split()] for line in lines[atoms_at + 1 :] if line.strip()])
    col = {name: i for i, name in enumerate(columns)}
    ids = table[:, col["id"]].astype(int)
    positions = table[:, [col["x"], col["y"], col["z"]]] - lo_hi[:, 0]
    forces = table[:, [col["fx"], col["fy"], col["fz"]]]
    return ids, positions, forces, lo_hi[:, 1] - lo_hi[:, 0]


class HippynnPeriodicReference:
    """hippynn's own periodic graph on a network's weights: hippynn finds the pairs from the positions and the
    cell (its periodic pair finder), and the forces are autograd's -dE/dR. Nothing of the engine's or of
    LAMMPS' evaluation is in it (no ghost atoms, no pair lists of ours, no force assembly), so a bug in those
    cannot hide from a comparison with it."""

    def __init__(self, network_module, energy_module, dtype="float64"):
        import torch
        from hippynn.graphs import Predictor, inputs, networks, physics, targets

        species, positions, cell = (inputs.SpeciesNode(db_name="numbers"), inputs.PositionsNode(db_name="positions"),
                                    inputs.CellNode(db_name="cell"))
        network_class = networks.HipnnQuad if type(network_module).__name__ == "HipnnQuad" else networks.Hipnn
        network = network_class("HIPNN", (species, positions, cell), module=network_module, periodic=True)
        energy = targets.HEnergyNode("HEnergy", network, module=energy_module)
        forces = physics.GradientNode("forces", (energy.mol_energy, positions), sign=-1)
        self.inputs, self.energy, self.forces = (species, positions, cell), energy.mol_energy, forces
        self.dtype = getattr(torch, dtype)
        self.predictor = Predictor(list(self.inputs), [self.energy, forces])
        self.predictor.graph.to(self.dtype)

    @classmethod
    def from_export(cls, model_path, dtype="float64"):
        """From hippynn_lammps_model.pt alone: its network and energy modules (copies), rewired periodic."""
        import copy

        from hippynn.layers.targets import HEnergy
        from hippynn.networks.hipnn import Hipnn

        from ..model.export import load_exported_model

        modules = list(load_exported_model(model_path).graph.modules())
        network = next(m for m in modules if isinstance(m, Hipnn))
        energy = next(m for m in modules if isinstance(m, HEnergy))
        return cls(copy.deepcopy(network), copy.deepcopy(energy), dtype)

    @classmethod
    def from_training(cls, state_file, dtype="float64"):
        """From network_state.pt, the training's own save."""
        from ..model.export import load_network_state
        from ..model.network import build_seed_graph, load_graph_state

        saved = load_network_state(state_file)
        graph = build_seed_graph(saved["network_params"])
        load_graph_state(graph, saved["state"])
        return cls(graph.network.torch_module, graph.henergy.torch_module, dtype)

    def __call__(self, positions, cell):
        """Energy (eV) and forces (eV/Angstrom) of one periodic Ag box: positions (n, 3), cell (3, 3), Angstrom."""
        import torch

        species, positions_node, cell_node = self.inputs
        n = len(positions)
        out = self.predictor(node_values={
            species: torch.full((1, n), 47, dtype=torch.int64),
            positions_node: torch.as_tensor(np.asarray(positions)[None], dtype=self.dtype),
            cell_node: torch.as_tensor(np.asarray(cell)[None], dtype=self.dtype),
        })
        return float(out[self.energy].reshape(-1)[0]), out[self.forces].detach().numpy().reshape(n, 3)


def hippynn_periodic_prediction(state_file, positions, cell, dtype="float64"):
    """Energy (eV) and forces (eV/Angstrom) of one periodic Ag box from the trained weights (network_state.pt)."""
    return HippynnPeriodicReference.from_training(state_file, dtype)(positions, cell)
