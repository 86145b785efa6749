"""Independent evaluation of a trained model on a periodic box with hippynn's own periodic graph.

Used to check the engine: same weights, but hippynn finds the periodic pairs itself from the cell.
"""
import numpy as np


def read_force_dump(path):
    """Read a LAMMPS `custom id type x y z fx fy fz` dump of one snapshot -> (ids, positions, forces, box lengths)."""
    lines = open(path).read().splitlines()
    bounds_at = lines.index(next(l for l in lines if l.startswith("ITEM: BOX BOUNDS")))
    lo_hi = np.array([[float(v) for v in lines[bounds_at + 1 + d].split()[:2]] for d in range(3)])
    atoms_at = lines.index(next(l for l in lines if l.startswith("ITEM: ATOMS")))
    columns = lines[atoms_at].split()[2:]
    table = np.array([[float(v) for v in l.split()] for l in lines[atoms_at + 1 :] if l.strip()])
    col = {name: i for i, name in enumerate(columns)}
    ids = table[:, col["id"]].astype(int)
    positions = table[:, [col["x"], col["y"], col["z"]]] - lo_hi[:, 0]
    forces = table[:, [col["fx"], col["fy"], col["fz"]]]
    return ids, positions, forces, lo_hi[:, 1] - lo_hi[:, 0]


def hippynn_periodic_prediction(state_file, positions, cell, dtype="float64"):
    """Energy (eV) and forces (eV/Angstrom) of one periodic Ag box from the trained weights."""
    import torch
    from hippynn.graphs import Predictor

    from .network import build_seed_graph, load_graph_state

    saved = torch.load(state_file, map_location="cpu", weights_only=False)
    graph = build_seed_graph(saved["network_params"])
    load_graph_state(graph, saved["state"])
    forces = graph.forces
    species, positions_node, cell_node = graph.inputs
    predictor = Predictor(list(graph.inputs), [graph.henergy.mol_energy, forces])
    torch_dtype = getattr(torch, dtype)
    predictor.graph.to(torch_dtype)
    n = len(positions)
    out = predictor(
        node_values={
            species: torch.full((1, n), 47, dtype=torch.int64),
            positions_node: torch.as_tensor(np.asarray(positions)[None], dtype=torch_dtype),
            cell_node: torch.as_tensor(np.asarray(cell)[None], dtype=torch_dtype),
        }
    )
    energy = float(out[graph.henergy.mol_energy].reshape(-1)[0])
    return energy, out[forces].detach().numpy().reshape(n, 3)


def exported_model_prediction(model_path, positions, cell, dtype="float64"):
    """Energy and forces of one periodic box from hippynn_lammps_model.pt alone, without LAMMPS.

    Pairs come from ASE's periodic neighbour list (cell shifts instead of ghost atoms), every atom is
    local, so this path shares only the network weights with the engine.
    """
    from ase.neighborlist import primitive_neighbor_list

    from .export import load_exported_model
    from .model_evaluator import ModelEvaluator

    evaluator = ModelEvaluator(load_exported_model(model_path), "cpu", dtype, model_step="hippynn")
    positions = np.asarray(positions, dtype=np.float64)
    cell = np.asarray(cell, dtype=np.float64)
    pair_i, pair_j, shift_vectors = primitive_neighbor_list(
        "ijD", (True, True, True), cell, positions, evaluator.cutoff, self_interaction=False
    )
    pair_coord = -shift_vectors  # D = x_j + shift - x_i; ML-IAP hands the model -r_ij = x_i - x_j
    n = len(positions)
    numbers = evaluator.atomic_numbers(np.ones(n, dtype=np.int64))
    energy, forces, _ = evaluator.evaluate(numbers, n, pair_i.astype(np.int64), pair_j.astype(np.int64), pair_coord)
    return energy, forces
