import numpy as np
import pytest

from mlmd_parsl.errors import DatasetError
from mlmd_parsl.science.model.dataset import SyntheticSpec, synthetic_dataset, validate_dataset
from tests.conftest import FIXTURES

FRAME = (FIXTURES / "ag_frame.xyz").read_text()


@pytest.fixture(scope="module")
def small_spec():
    return SyntheticSpec(frames=24, seed=11, temperatures_k=(600.0, 1111.0, 1500.0), steps_between_frames=20,
                         equilibration_steps=100)


def test_synthetic_set_is_ag_vacancy_cells_with_eam_labels(small_spec, tmp_path):
    import ase.io

    info = synthetic_dataset(small_spec, tmp_path)
    assert (info.kind, info.frames, info.atoms_per_frame) == ("synthetic", 24, 71)
    frames = ase.io.read(info.path, index=":")
    assert all(set(f.get_chemical_symbols()) == {"Ag"} for f in frames)
    energies = np.array([f.get_potential_energy() / len(f) for f in frames])
    assert np.all((energies > -3.0) & (energies < -2.5))  # EAM Ag cohesive energy ~ -2.85 eV/atom
    assert np.all(np.abs(frames[0].get_forces().sum(axis=0)) < 1e-6)  # EAM forces sum to zero
    temps = [f.info["temperature_k"] for f in frames]
    assert sorted(set(temps)) == [600.0, 1111.0, 1500.0]
    # hotter frames have larger forces
    hot = np.mean([np.abs(f.get_forces()).mean() for f in frames if f.info["temperature_k"] == 1500.0])
    cold = np.mean([np.abs(f.get_forces()).mean() for f in frames if f.info["temperature_k"] == 600.0])
    assert hot > cold


def test_synthetic_set_is_deterministic_and_cached(small_spec, tmp_path):
    first = synthetic_dataset(small_spec, tmp_path / "a")
    second = synthetic_dataset(small_spec, tmp_path / "b")
    assert first.sha256 == second.sha256
    mtime = (tmp_path / "a").joinpath(first.path.split("/")[-1]).stat().st_mtime_ns
    again = synthetic_dataset(small_spec, tmp_path / "a")
    assert again.path == first.path and (tmp_path / "a" / first.path.split("/")[-1]).stat().st_mtime_ns == mtime
    other = synthetic_dataset(SyntheticSpec(**{**small_spec.__dict__, "seed": 12}), tmp_path / "a")
    assert other.sha256 != first.sha256


def _eam_energy(frame, potential):
    from mpi4py import MPI

    from mlmd_parsl.science.lammps.runtime import open_lammps

    lmp = open_lammps(comm=MPI.COMM_SELF)
    try:
        a, b, c = np.diag(frame.cell.array)
        lmp.commands_string(f"units metal\natom_style atomic\nboundary p p p\nregion box block 0 {a} 0 {b} 0 {c}\n"
                            f"create_box 1 box\nmass 1 107.8682\npair_style eam\npair_coeff 1 1 {potential}")
        for x, y, z in frame.positions:
            lmp.command(f"create_atoms 1 single {x:.12f} {y:.12f} {z:.12f}")
        lmp.command("run 0")
        return lmp.get_thermo("pe")
    finally:
        lmp.close()


def test_each_oracle_labels_its_own_cached_set(small_spec, tmp_path):
    import ase.io

    from mlmd_parsl.science.lammps.eam_oracle import DEFAULT_ORACLE, oracle_potential

    assert small_spec.oracle == DEFAULT_ORACLE == "ag_u3_short"
    sets = {name: synthetic_dataset(SyntheticSpec(**{**small_spec.__dict__, "oracle": name}), tmp_path)
            for name in ("ag_u3_short", "ag_u3")}
    assert sets["ag_u3_short"].path != sets["ag_u3"].path  # the cache key names the oracle
    for name, info in sets.items():
        assert info.details["oracle"] == name
        frame = ase.io.read(info.path, index=0)
        assert frame.info["source"] == f"synthetic (LAMMPS EAM {name})"
        own, other = (oracle_potential(n, tmp_path) for n in (name, ({"ag_u3", "ag_u3_short"} - {name}).pop()))
        assert _eam_energy(frame, own) == pytest.approx(frame.get_potential_energy(), abs=1e-6)
        assert abs(_eam_energy(frame, other) - frame.get_potential_energy()) > 0.1  # 71 atoms: eV apart


def test_close_pair_frames_put_one_pair_on_the_repulsive_wall_and_the_md_goes_on(small_spec, tmp_path):
    import ase.io
    from ase.neighborlist import neighbor_list

    from mlmd_parsl.science.model.dataset import CLOSE_PAIR_RANGE_A

    spec = SyntheticSpec(**{**small_spec.__dict__, "close_pair_fraction": 0.25})
    frames = ase.io.read(synthetic_dataset(spec, tmp_path).path, index=":")
    plain = ase.io.read(synthetic_dataset(SyntheticSpec(**{**small_spec.__dict__, "close_pair_fraction": 0.0}),
                                          tmp_path).path, index=":")
    close = [i for i, f in enumerate(frames) if "closest_pair_a" in f.info]
    assert len(close) == 6  # a quarter of each temperature block's 8 frames, rounded
    for i in close:
        frame = frames[i]
        distances = neighbor_list("d", frame, 3.0)
        assert distances.min() == pytest.approx(frame.info["closest_pair_a"], abs=1e-6)
        assert CLOSE_PAIR_RANGE_A[0] <= distances.min() <= CLOSE_PAIR_RANGE_A[1]
        assert np.abs(frame.get_forces()).max() > 3.0  # EAM pushes the pair apart hard
        assert frame.get_potential_energy() > plain[i].get_potential_energy() + 0.5  # on the wall: eV above
    # the atom is put back and the MD goes on: the other frames are MD frames (no pair on the wall), and the first
    # block runs as it does without close pairs up to its first close-pair frame
    for i in set(range(len(frames))) - set(close):
        assert neighbor_list("d", frames[i], 3.0).min() > CLOSE_PAIR_RANGE_A[1] - 0.1
    for i in range(min(close)):
        assert frames[i].positions == pytest.approx(plain[i].positions, abs=1e-9)


def test_valid_file_passes(tmp_path):
    path = tmp_path / "Ag_warm_nospin.xyz"
    path.write_text(FRAME + FRAME)
    info = validate_dataset(path)
    assert (info.kind, info.frames, info.atoms_per_frame) == ("real", 2, 71)


def test_the_seeds_file_is_checked_by_its_pinned_md5_and_described(tmp_path):
    import hashlib

    from mlmd_parsl.science.model.dataset import REAL_DATASET_MD5, expected_md5

    path = tmp_path / "Ag_warm_nospin.xyz"
    path.write_text(FRAME + FRAME)
    actual = hashlib.md5(path.read_bytes()).hexdigest()
    assert expected_md5(path, "auto") == REAL_DATASET_MD5 and expected_md5(tmp_path / "mine.xyz", "auto") is None
    assert expected_md5(path, "none") is None and expected_md5(path, actual.upper()) == actual
    with pytest.raises(DatasetError) as err:
        validate_dataset(path, expected_md5(path, "auto"))
    assert f"MD5 {actual}, expected {REAL_DATASET_MD5}" in str(err.value)
    assert f"--set dataset.md5={actual}" in str(err.value) and path.read_text() == FRAME + FRAME  # kept
    info = validate_dataset(path, actual)  # the right digest passes
    assert info.md5 == actual and info.contents["species"] == ["Ag"]
    import ase.io

    frame = ase.io.read(path, index=0)
    energy = frame.get_potential_energy() / len(frame)
    assert info.contents["energy_per_atom_ev"] == pytest.approx([energy, energy])
    forces = frame.get_forces()
    assert info.contents["force_component_ev_per_a"] == pytest.approx([forces.min(), forces.max()])
    assert info.contents["max_force_ev_per_a"] == pytest.approx(np.linalg.norm(forces, axis=1).max())


def test_the_cli_refuses_a_wrong_digest_before_anything_runs(tmp_path):
    from mlmd_parsl.science.model.dataset import REAL_DATASET_MD5
    from tests.conftest import run_cli

    path = tmp_path / "Ag_warm_nospin.xyz"
    path.write_text(FRAME + FRAME)
    result = run_cli(["mlmd_parsl", "--site", "local", "--set", f"runs_dir={tmp_path / 'runs'}",
                      "--set", f"dataset.path={path}"])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"expected {REAL_DATASET_MD5}" in errors[0] and str(path) in errors[0]
    assert not (tmp_path / "runs").exists()


def _bad(tmp_path, text):
    path = tmp_path / "bad.xyz"
    path.write_text(text)
    with pytest.raises(DatasetError) as err:
        validate_dataset(path)
    return str(err.value)


def test_missing_file_names_the_doi(tmp_path):
    with pytest.raises(DatasetError, match=r"not found: .*nothere.xyz.*10.24435/materialscloud:fr-ts"):
        validate_dataset(tmp_path / "nothere.xyz")


def test_empty_file(tmp_path):
    assert "is empty" in _bad(tmp_path, "")


def test_truncated_file(tmp_path):
    assert "not readable extxyz" in _bad(tmp_path, FRAME[: len(FRAME) // 2])


def test_other_element(tmp_path):
    assert "frame 0: elements ['Cu']; only Ag is allowed" in _bad(tmp_path, FRAME.replace("\nAg ", "\nCu ", 1))


def test_nan_forces(tmp_path):
    lines = FRAME.splitlines()
    fields = lines[5].split()
    fields[-1] = "nan"
    lines[5] = " ".join(fields)
    assert "NaN or inf" in _bad(tmp_path, "\n".join(lines) + "\n")


def test_mixed_atom_counts(tmp_path):
    lines = FRAME.splitlines()
    shorter = "\n".join(["70", lines[1]] + lines[2:-1]) + "\n"
    assert "frame 1: 70 atoms, but frame 0 has 71" in _bad(tmp_path, FRAME + shorter)


def test_frames_without_forces(tmp_path):
    lines = FRAME.splitlines()
    header = lines[1].replace("Properties=species:S:1:pos:R:3:forces:R:3", "Properties=species:S:1:pos:R:3")
    body = [" ".join(line.split()[:4]) for line in lines[2:]]
    assert "has no energy or no forces" in _bad(tmp_path, "\n".join([lines[0], header] + body) + "\n")
