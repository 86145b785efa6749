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
    body = [" ".join(l.split()[:4]) for l in lines[2:]]
    assert "has no energy or no forces" in _bad(tmp_path, "\n".join([lines[0], header] + body) + "\n")
