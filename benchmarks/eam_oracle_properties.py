"""The synthetic data's EAM oracles side by side: fcc lattice constant, cohesive energy, bulk modulus, and the
temperature where a heated crystal melts (superheating onset in a ramp, same protocol for every oracle;
an upper bound on the melting point, not the melting point itself).

    python benchmarks/eam_oracle_properties.py [--ramp-ps 100] [--cells 6]
"""
import argparse
import tempfile
from pathlib import Path

import numpy as np
from mpi4py import MPI

from mlmd_parsl.science.lammps.eam_oracle import ORACLES, oracle_potential
from mlmd_parsl.science.lammps.runtime import open_lammps

MASS = 107.8682


def _lammps(eam, lattice, cells):
    lmp = open_lammps(comm=MPI.COMM_SELF)
    lmp.commands_string(f"""
        units metal
        atom_style atomic
        boundary p p p
        lattice fcc {lattice}
        region cell block 0 {cells} 0 {cells} 0 {cells}
        create_box 1 cell
        create_atoms 1 box
        mass 1 {MASS}
        pair_style eam
        pair_coeff 1 1 {eam}
        thermo_style custom step temp pe vol press
        """)
    return lmp


def lattice_properties(eam):
    """(a0 in A, cohesive energy in eV/atom, bulk modulus in GPa) from E(a) of the perfect fcc crystal at 0 K."""
    lattices = np.linspace(3.9, 4.3, 81)
    energies = []
    for a in lattices:
        lmp = _lammps(eam, a, 4)
        lmp.command("run 0")
        energies.append(lmp.get_thermo("pe") / lmp.get_natoms())
        lmp.close()
    energies = np.array(energies)
    best = int(np.argmin(energies))
    window = slice(max(best - 4, 0), best + 5)
    c2, c1, c0 = np.polyfit(lattices[window], energies[window], 2)
    a0 = -c1 / (2 * c2)
    e0 = c0 - c1**2 / (4 * c2)
    # E per atom as a function of volume per atom V = a^3/4: B = V d2E/dV2 = (4 / (9 a0)) d2E/da2 (eV/A^3)
    bulk = 4.0 / (9.0 * a0) * 2 * c2 * 160.21766
    return a0, -e0, bulk


def melting_onset(eam, a0, cells, ramp_ps, work):
    """Heat the crystal at zero pressure from 300 to 2500 K in `ramp_ps`; the temperature where the potential
    energy per atom jumps most above its trend (the superheated crystal giving way)."""
    record = f"{work}/ramp_{Path(eam).stem}.txt"
    lmp = _lammps(eam, a0, cells)
    lmp.commands_string(f"""
        timestep 0.002
        velocity all create 300 4928459 mom yes rot yes dist gaussian
        fix ramp all npt temp 300 2500 0.2 iso 0 0 2.0
        thermo 0
        variable t equal temp
        variable e equal pe/atoms
        fix record all ave/time 10 10 100 v_t v_e file {record}
        run {int(ramp_ps * 1000 / 2)}
        """)
    lmp.close()
    table = np.loadtxt(record)
    temperature, energy = table[:, 1], table[:, 2]
    jump = np.convolve(np.diff(energy), np.ones(5), "same")  # energy rise over 5 samples (1 ps at 100 ps)
    where = int(np.argmax(jump - np.median(jump)))
    return float(temperature[where]), float(jump[where])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ramp-ps", type=float, default=100.0)
    parser.add_argument("--cells", type=int, default=6)
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp()
    print(f"{'oracle':<12} {'a0 (A)':>8} {'E_coh (eV)':>11} {'B (GPa)':>8} {'melts at (K)':>13} "
          f"{'PE jump (eV/atom)':>18}")
    for name in ORACLES:
        eam = oracle_potential(name, work)
        a0, ecoh, bulk = lattice_properties(eam)
        melt, latent = melting_onset(eam, a0, args.cells, args.ramp_ps, work)
        print(f"{name:<12} {a0:8.4f} {ecoh:11.4f} {bulk:8.1f} {melt:13.0f} {latent:18.3f}")


if __name__ == "__main__":
    main()
