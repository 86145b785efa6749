"""The synthetic data's EAM oracles: Ag_u3 as shipped, and Ag_u3 switched to zero inside the network's cutoff."""
import numpy as np
import pytest
from mpi4py import MPI

from mlmd_parsl.science.lammps.eam_oracle import (SWITCH_OFF_A, SWITCH_ON_A, Funcfl, oracle_identity,
                                                  oracle_potential, smooth_switch)
from mlmd_parsl.science.lammps.runtime import eam_potential_path, open_lammps


def test_switch_is_one_then_zero_with_flat_ends():
    r = np.linspace(3.0, 4.0, 2001)
    s = smooth_switch(r)
    assert np.all(s[r <= SWITCH_ON_A] == 1.0) and np.all(s[r >= SWITCH_OFF_A] == 0.0)
    assert np.all(np.diff(s) <= 0)
    slope = np.gradient(s, r)
    curvature = np.gradient(slope, r)
    for end in (SWITCH_ON_A, SWITCH_OFF_A):  # C2: slope and curvature vanish at both ends
        near = np.abs(r - end) < 2e-3
        assert np.abs(slope[near]).max() < 1e-2 and np.abs(curvature[near]).max() < 30


def test_ag_u3_reads_and_writes_back_unchanged(tmp_path):
    shipped = Funcfl.read(eam_potential_path())
    assert (shipped.nrho, shipped.nr) == (500, 500) and shipped.cutoff == pytest.approx(5.55)
    (tmp_path / "copy.eam").write_text(shipped.text())
    copy = Funcfl.read(tmp_path / "copy.eam")
    for name in ("embedding", "charge", "density"):
        assert np.array_equal(getattr(copy, name), getattr(shipped, name))


def _dimer_energy(potential, distance):
    lmp = open_lammps(comm=MPI.COMM_SELF)
    try:
        lmp.commands_string(f"""
            units metal
            atom_style atomic
            boundary f f f
            region big block -20 20 -20 20 -20 20
            create_box 1 big
            create_atoms 1 single 0 0 0
            create_atoms 1 single {distance} 0 0
            mass 1 107.8682
            pair_style eam
            pair_coeff 1 1 {potential}
            run 0
            """)
        return lmp.get_thermo("pe"), lmp.numpy.extract_atom("f")[:2, 0].copy()
    finally:
        lmp.close()


def test_short_oracle_is_ag_u3_inside_the_switch_and_nothing_beyond_it(tmp_path):
    short, ag_u3 = oracle_potential("ag_u3_short", tmp_path), oracle_potential("ag_u3", tmp_path)
    assert ag_u3 == eam_potential_path() and short.parent == tmp_path
    assert Funcfl.read(short).cutoff == SWITCH_OFF_A
    for r in (2.3, 2.9, 3.2):
        assert _dimer_energy(short, r)[0] == pytest.approx(_dimer_energy(ag_u3, r)[0], rel=1e-6)
    for r in (SWITCH_OFF_A + 0.01, 4.16, 5.0):  # the second shell: Ag_u3 still interacts there, ours does not
        energy, forces = _dimer_energy(short, r)
        assert energy == 0.0 and np.all(forces == 0.0)
        assert abs(_dimer_energy(ag_u3, r)[0]) > 1e-3
    inside = [_dimer_energy(short, r)[0] for r in np.linspace(SWITCH_ON_A, SWITCH_OFF_A, 10)]
    assert all(abs(b) <= abs(a) + 1e-9 for a, b in zip(inside, inside[1:]))  # switched off smoothly, no jump


def test_short_oracle_file_is_rewritten_only_when_different_and_named_by_its_switch(tmp_path):
    path = oracle_potential("ag_u3_short", tmp_path)
    mtime = path.stat().st_mtime_ns
    assert oracle_potential("ag_u3_short", tmp_path).stat().st_mtime_ns == mtime
    path.write_text("damaged")
    assert oracle_potential("ag_u3_short", tmp_path).read_text().startswith(Funcfl.read(eam_potential_path()).header)
    assert oracle_identity("ag_u3_short") != oracle_identity("ag_u3")
    assert f"switch={SWITCH_ON_A}-{SWITCH_OFF_A}" in oracle_identity("ag_u3_short")
    with pytest.raises(ValueError, match="allowed: ag_u3_short, ag_u3"):
        oracle_potential("ag_u4", tmp_path)
