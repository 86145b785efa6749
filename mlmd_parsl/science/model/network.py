"""The seed's HIPNN graph for silver: network, targets, loss and validation metrics (the seed's Ag training)."""
from dataclasses import dataclass

SEED_NETWORK_PARAMS = {
    "possible_species": [0, 47],
    "n_features": 8,
    "n_sensitivities": 16,
    "dist_soft_min": 2.3,
    "dist_soft_max": 3.75,
    "dist_hard_max": 4.0,
    "n_interaction_layers": 1,
    "n_atom_layers": 3,
    "sensitivity_type": "inverse",
    "resnet": True,
}


@dataclass
class SeedGraph:
    network: object  # hippynn HipnnQuad node
    henergy: object  # HEnergyNode
    forces: object  # GradientNode: -dE/dR
    inputs: tuple  # (species, positions, cell) input nodes
    train_loss: object
    validation_losses: dict


def build_seed_graph(network_params=None) -> SeedGraph:
    import hippynn
    from hippynn.graphs import inputs, loss, networks, physics, targets

    hippynn.settings.WARN_LOW_DISTANCES = False
    params = dict(SEED_NETWORK_PARAMS if network_params is None else network_params)

    species = inputs.SpeciesNode(db_name="numbers")
    positions = inputs.PositionsNode(db_name="positions")
    cell = inputs.CellNode(db_name="cell")
    network = networks.HipnnQuad("HIPNN", (species, positions, cell), module_kwargs=params, periodic=True)

    henergy = targets.HEnergyNode("HEnergy", network)
    sys_energy = henergy.mol_energy
    sys_energy.db_name = "energy"
    hierarchicality = physics.PerAtom("RperAtom", henergy.hierarchicality)
    force = physics.GradientNode("forces", (sys_energy, positions), sign=-1)
    force.db_name = "forces"
    en_peratom = physics.PerAtom("T/Atom", sys_energy)
    en_peratom.db_name = "energy_per_atom"

    rmse_energy = loss.MSELoss(en_peratom.pred, en_peratom.true) ** (1 / 2)
    mae_energy = loss.MAELoss(en_peratom.pred, en_peratom.true)
    rsq_energy = loss.Rsq(en_peratom.pred, en_peratom.true)
    force_rsq = loss.Rsq(force.pred, force.true)
    force_mae = loss.MAELoss(force.pred, force.true)
    force_rmse = loss.MSELoss(force.pred, force.true) ** (1 / 2)
    rbar = loss.Mean(hierarchicality.pred)
    l2_reg = loss.l2reg(network)

    loss_error = 10 * (rmse_energy + mae_energy) + (force_mae + force_rmse)
    loss_regularization = 1e-6 * l2_reg + rbar
    train_loss = loss_error + loss_regularization

    validation_losses = {  # factors of 1e3: meV
        "EpA-RMSE": 1e3 * rmse_energy,
        "EpA-MAE": 1e3 * mae_energy,
        "EpA-RSQ": rsq_energy,
        "ForceRMSE": 1e3 * force_rmse,
        "ForceMAE": 1e3 * force_mae,
        "ForceRsq": force_rsq,
        "T-Hier": rbar,
        "L2Reg": l2_reg,
        "Loss-Err": loss_error,
        "Loss-Reg": loss_regularization,
        "Loss": train_loss,
    }
    return SeedGraph(network, henergy, force, (species, positions, cell), train_loss, validation_losses)


def graph_state(graph: SeedGraph) -> dict:
    """The trainable weights of the energy model (network + energy head)."""
    return {
        "network": graph.network.torch_module.state_dict(),
        "henergy": graph.henergy.torch_module.state_dict(),
    }


def load_graph_state(graph: SeedGraph, state: dict) -> None:
    graph.network.torch_module.load_state_dict(state["network"])
    graph.henergy.torch_module.load_state_dict(state["henergy"])
