"""MD at the protocol's 5 fs step at 1111 K: closest approach and temperature, and on synthetic data the
same run with the EAM oracle side by side (potential energy, radial distribution function)."""
import subprocess
from pathlib import Path

import numpy as np

from ..embedded.options import EngineOptions
from ..lammps.deck import DeckOutputs, ForceField, Protocol, Stage, make_deck
from ..lammps.logs import thermo_tables
from .engine_runs import atoms_from_log, cutoff_of
from .spec import ValidationSpec


ORACLE_PE_TOL_MEV = 20.0  # model vs EAM mean potential energy per atom in the same 1111 K run
ORACLE_PEAK_TOL_A = 0.1  # position of the g(r) first peak
MIN_APPROACH_A = 2.0  # Ag: nearest neighbours at 2.89 A; EAM's closest approach at 1111 K is about 2.3 A
TEMPERATURE_TOL_K = 50.0  # mean temperature of the 5 fs run vs the thermostat's 1111 K
POSITIONS_EVERY = 50  # steps between position samples of the 5 fs run


def oracle_protocol(spec: ValidationSpec):
    step = spec.oracle_timestep_fs
    return Protocol("md_5fs", (Stage("equilibration", spec.oracle_equilibration_steps, step, "nvt"),
                               Stage("timed", spec.oracle_steps, step, "nvt")), 10)


def check_protocol_md(model, box, out_dir, spec: ValidationSpec, oracle=None):
    """1111 K NVT at the protocol's step with the model (and with `oracle`, the EAM oracle that labelled synthetic
    data, side by side): returns (md_5fs check, oracle comparison or None)."""
    from mpi4py import MPI

    from ..embedded.embedded import run_embedded
    from ..lammps.eam_oracle import oracle_potential
    from ..lammps.runtime import lmp_executable, venv_environment

    box = Path(box).resolve()
    protocol = oracle_protocol(spec)
    files = {name: (out_dir / f"rdf_{name}.txt", out_dir / f"positions_{name}.dump") for name in ("model", "eam")}
    rdf, positions = files["model"]
    deck = make_deck(box, spec.md_5fs_replicate, protocol, ForceField.model_fix(cutoff_of(model)),
                     outputs=DeckOutputs(rdf_file=str(rdf), positions_dump=(str(positions), POSITIONS_EVERY)))
    run_embedded(deck, model, str(out_dir / "oracle_model.lammps"), EngineOptions(dtype=spec.dtype), comm=MPI.COMM_SELF)
    series = closest_approach_series(positions)  # the model's dump, read once
    summaries = {"model": _md_summary(out_dir / "oracle_model.lammps", rdf, series)}
    below = first_time_below(series, MIN_APPROACH_A, spec.oracle_timestep_fs)
    if oracle:
        rdf, positions = files["eam"]
        deck = make_deck(box, spec.md_5fs_replicate, protocol, ForceField.eam(oracle_potential(oracle, out_dir)),
                         outputs=DeckOutputs(rdf_file=str(rdf), positions_dump=(str(positions), POSITIONS_EVERY)))
        (out_dir / "oracle_eam.in").write_text(deck.text)
        subprocess.run([lmp_executable(), "-in", "oracle_eam.in", "-log", "oracle_eam.lammps", "-screen", "none"],
                       cwd=out_dir, env={**venv_environment(), "OMP_NUM_THREADS": "1"}, check=True, capture_output=True)
        summaries["eam"] = _md_summary(out_dir / "oracle_eam.lammps", rdf, closest_approach_series(positions))
    model = summaries["model"]
    md_5fs = {
        "temperature_k": 1111.0, "steps": spec.oracle_steps, "timestep_fs": spec.oracle_timestep_fs,
        "duration_ps": spec.oracle_steps * spec.oracle_timestep_fs / 1000.0,
        "atoms": atoms_from_log(out_dir / "oracle_model.lammps"),
        "closest_approach_a": model["closest_approach_a"], "min_approach_a": MIN_APPROACH_A,
        "mean_temperature_k": model["mean_temperature_k"], "first_below_min_ps": below,
        "ok": model["closest_approach_a"] >= MIN_APPROACH_A
        and abs(model["mean_temperature_k"] - 1111.0) <= TEMPERATURE_TOL_K,
    }
    if not oracle:
        return md_5fs, None
    r = np.array(model.pop("r"))
    g_model, g_eam = np.array(model.pop("g")), np.array(summaries["eam"].pop("g"))
    summaries["eam"].pop("r")
    dr = r[1] - r[0]
    pe_difference = 1e3 * (model["pe_per_atom_ev"] - summaries["eam"]["pe_per_atom_ev"])
    peak_shift = model["rdf_first_peak_a"] - summaries["eam"]["rdf_first_peak_a"]
    comparison = {
        "oracle": oracle, "temperature_k": 1111.0, "steps": spec.oracle_steps, "timestep_fs": spec.oracle_timestep_fs,
        **summaries,
        "pe_difference_mev_per_atom": pe_difference, "rdf_first_peak_shift_a": peak_shift,
        "ok": abs(pe_difference) <= ORACLE_PE_TOL_MEV and abs(peak_shift) <= ORACLE_PEAK_TOL_A,
        "rdf_l1_difference": float(np.sum(np.abs(g_model - g_eam)) * dr),
        "rdf": {"r": r.tolist(), "g_model": g_model.tolist(), "g_eam": g_eam.tolist()},
    }
    return md_5fs, comparison


def _md_summary(log, rdf_file, approach_series):
    rows = thermo_tables(log)["timed"]
    atoms = atoms_from_log(log)
    r, g = read_rdf(rdf_file)
    peak = int(np.argmax(g))
    return {"closest_approach_a": min((d for _, d in approach_series), default=float("inf")),
            "mean_temperature_k": float(np.mean([x["Temp"] for x in rows])),
            "pe_per_atom_ev": float(np.mean([x["PotEng"] for x in rows]) / atoms),
            "rdf_first_peak_a": float(r[peak]), "rdf_first_peak_height": float(g[peak]),
            "r": r.tolist(), "g": g.tolist()}


def closest_approach(dump_file):
    """The smallest distance between two atoms in any snapshot of a `custom id x y z` dump (orthogonal
    periodic box), Angstrom."""
    return min((d for _, d in closest_approach_series(dump_file)), default=float("inf"))


def first_time_below(series, limit, timestep_fs):
    """ps into the run of the first snapshot whose closest approach is below `limit` (None if none is). The
    dump's step count restarts where the g(r) average resets it: each restart continues from the last step."""
    offset, previous = 0, 0
    for step, distance in series:
        if step < previous:
            offset += previous
        previous = step
        if distance < limit:
            return (offset + step) * timestep_fs / 1000.0
    return None


def closest_approach_series(dump_file):
    """[(timestep, smallest distance between two atoms)] for each snapshot of a `custom id x y z` dump
    (orthogonal periodic box), Angstrom."""
    from scipy.spatial import cKDTree

    lines = Path(dump_file).read_text().splitlines()
    series = []
    at = 0
    while at < len(lines):
        if lines[at].startswith("ITEM: TIMESTEP"):
            step = int(lines[at + 1])
            natoms = int(lines[at + 3])
            bounds = np.array([[float(v) for v in lines[at + 5 + d].split()[:2]] for d in range(3)])
            table = np.array([[float(v) for v in line.split()[1:4]] for line in lines[at + 9: at + 9 + natoms]])
            lengths = bounds[:, 1] - bounds[:, 0]
            wrapped = np.mod(table - bounds[:, 0], lengths)
            distances, _ = cKDTree(wrapped, boxsize=lengths).query(wrapped, k=2)
            series.append((step, float(distances[:, 1].min())))
            at += 9 + natoms
        else:
            at += 1
    return series


def read_rdf(path):
    """Last block of a `fix ave/time ... c_rdf[*] mode vector` file -> (r, g)."""
    rows, block = [], []
    for line in Path(path).read_text().splitlines():
        if line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) == 2:  # block header: timestep, number of rows
            if block:
                rows = block
            block = []
        elif len(fields) >= 3:
            block.append((float(fields[1]), float(fields[2])))
    rows = block or rows
    return np.array([r for r, _ in rows]), np.array([g for _, g in rows])
