"""The repulsive wall: one atom moved straight at its nearest neighbour; the model's energy rise (and EAM's)."""
from pathlib import Path

import numpy as np

from ..lammps.deck import lammps_word
from ..lammps.eam_oracle import oracle_potential
from .reference import HippynnPeriodicReference


WALL_MIN_EV = 2.0  # Boltzmann factor at 1111 K below 1e-9; EAM's own wall rises 2.5 eV by 2.1 A
WALL_DISTANCES_A = (2.8, 2.6, 2.4, 2.3, 2.2, 2.1, 2.0, 1.9, 1.8, 1.6, 1.4, 1.2, 1.0)


def wall_path(box):
    """(cell, positions at each of WALL_DISTANCES_A): atom 0 of the unit box moved along the line to its nearest
    neighbour (minimum image), so that the two are that far apart."""
    import ase.io

    unit = ase.io.read(str(box), format="lammps-data", atom_style="atomic")
    positions, lengths = unit.positions.copy(), np.diag(unit.cell.array)
    separation = positions[0] - positions
    separation -= lengths * np.round(separation / lengths)
    distance = np.linalg.norm(separation, axis=1)
    distance[0] = np.inf
    neighbour = int(np.argmin(distance))
    direction = separation[neighbour] / distance[neighbour]
    path = []
    for d in WALL_DISTANCES_A:
        moved = positions.copy()
        moved[0] = positions[neighbour] + direction * d
        path.append(moved)
    return unit.cell.array, path


def check_repulsive_wall(model, box, oracle=None, potential_dir="."):
    """The model's energy along the wall path; with `oracle` (an EAM oracle's name), the oracle's beside it."""
    cell, path = wall_path(box)
    periodic_reference = HippynnPeriodicReference.from_export(model)
    model_energy = [periodic_reference(p, cell)[0] for p in path]
    result = {"distances_a": list(WALL_DISTANCES_A),
              "model_rise_ev": [e - model_energy[0] for e in model_energy], "min_barrier_ev": WALL_MIN_EV}
    if oracle:
        eam = _eam_energies(box, path, oracle_potential(oracle, potential_dir))
        result["eam_rise_ev"], result["oracle"] = [e - eam[0] for e in eam], oracle
    result["barrier_ev"] = max(result["model_rise_ev"])
    result["barrier_at_a"] = WALL_DISTANCES_A[int(np.argmax(result["model_rise_ev"]))]
    result["ok"] = result["barrier_ev"] >= WALL_MIN_EV
    return result


def _eam_energies(box, path, potential):
    from mpi4py import MPI

    from ..lammps.runtime import open_lammps

    lmp = open_lammps(comm=MPI.COMM_SELF)
    try:
        lmp.commands_string(f"""
            units metal
            atom_style atomic
            boundary p p p
            atom_modify map array sort 0 0
            read_data {lammps_word(Path(box).resolve())}
            mass 1 107.8682
            pair_style eam
            pair_coeff 1 1 {lammps_word(potential)}
            thermo_style custom pe
            """)
        energies = []
        for positions in path:
            lmp.command("set atom 1 x {:.12f} y {:.12f} z {:.12f}".format(*positions[0]))
            lmp.command("run 0 post no")
            energies.append(float(lmp.get_thermo("pe")))
        return energies
    finally:
        lmp.close()
