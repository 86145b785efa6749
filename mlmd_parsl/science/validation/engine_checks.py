"""The engine against physics: forces and energy vs hippynn's own periodic graph, the virial vs a finite
difference of the energy, the same trajectory on any rank count, energy conserved in NVE."""
import numpy as np

from ..lammps.logs import thermo_tables
from .reference import HippynnPeriodicReference, read_force_dump
from .engine_runs import atoms_in, evaluate_in_process, run_standalone, validation_boxes
from .spec import ValidationSpec


EV_PER_A3_IN_BAR = 1.602176634e6
FORCE_RTOL = 1e-5
TRAJECTORY_TOL_A = 1e-6
NVE_DRIFT_LIMIT = 1.0  # meV/atom/ps


def check_forces(model, box, out_dir, dtype="float32"):
    periodic_reference = HippynnPeriodicReference.from_export(model)
    cases = []
    for name, data, replicate in validation_boxes(box, out_dir):
        dump, log = evaluate_in_process(model, data, out_dir, f"forces_{name}", replicate, dtype)
        _, positions, forces, lengths = read_force_dump(dump)
        energy, reference = periodic_reference(positions, np.diag(lengths))
        scale = float(np.abs(reference).max())
        error = float(np.abs(forces - reference).max())
        pe = thermo_tables(log)["timed"][0]["PotEng"]
        cases.append({
            "box": name, "atoms": len(positions), "max_force_ev_per_a": scale, "max_abs_error": error,
            "relative_error": error / scale, "ok": error <= FORCE_RTOL * scale + 1e-7,
            "pe_lammps_ev": pe, "energy_model_ev": energy, "pe_ok": abs(pe - energy) <= 1e-5 * abs(energy),
        })
    return {"cases": cases, "ok": all(c["ok"] and c["pe_ok"] for c in cases), "tolerance_relative": FORCE_RTOL}


def check_pressure(model, box, out_dir, strain=1e-4):
    """Virial pressure (engine, float64, T = 0) against -dE/d(strain)/V from the model's energy."""
    dump, log = evaluate_in_process(model, box, out_dir, "pressure", (2, 2, 1), "float64")
    row = thermo_tables(log)["timed"][0]
    _, positions, _, lengths = read_force_dump(dump)
    volume = float(np.prod(lengths))
    periodic_reference = HippynnPeriodicReference.from_export(model)
    components = {}
    for axis, name in enumerate(("Pxx", "Pyy", "Pzz")):
        energies = []
        for sign in (1, -1):
            factors = np.ones(3)
            factors[axis] += sign * strain
            energies.append(periodic_reference(positions * factors, np.diag(lengths * factors))[0])
        finite_difference = -(energies[0] - energies[1]) / (2 * strain * volume) * EV_PER_A3_IN_BAR
        components[name] = {"lammps_bar": row[name], "finite_difference_bar": finite_difference}
    pressure_fd = np.mean([c["finite_difference_bar"] for c in components.values()])
    worst = max(abs(c["lammps_bar"] - c["finite_difference_bar"]) for c in components.values())
    scale = max(abs(c["finite_difference_bar"]) for c in components.values())
    return {
        "components": components, "press_lammps_bar": row["Press"], "press_finite_difference_bar": pressure_fd,
        "max_abs_difference_bar": worst, "ok": worst <= 1e-3 * scale + 1.0,
    }


def check_rank_invariance(model, box, out_dir, spec: ValidationSpec):
    results = {}
    for dtype in ("float64", "float32"):
        runs = {}
        for ranks in spec.rank_counts:
            dump, _ = run_standalone(model, box, out_dir, f"trajectory_{dtype}_{ranks}ranks", spec.replicate,
                                      spec.trajectory_steps, ranks, dtype)
            runs[ranks] = read_force_dump(dump)
        base = runs[spec.rank_counts[0]]
        deviations = {
            str(ranks): {"max_position_difference_a": float(np.abs(run[1] - base[1]).max()),
                         "max_force_difference_ev_per_a": float(np.abs(run[2] - base[2]).max())}
            for ranks, run in runs.items() if ranks != spec.rank_counts[0]
        }
        results[dtype] = deviations
    worst64 = max((d["max_position_difference_a"] for d in results["float64"].values()), default=0.0)
    return {"steps": spec.trajectory_steps, "timestep_fs": 1.0, "ranks": list(spec.rank_counts), "deviations": results,
            "max_position_difference_float64_a": worst64, "ok": worst64 <= TRAJECTORY_TOL_A}


def check_nve_drift(model, box, out_dir, spec: ValidationSpec):
    _, log = run_standalone(model, box, out_dir, "nve", spec.replicate, spec.nve_steps, 1, spec.dtype)
    rows = thermo_tables(log)["timed"]
    atoms = int(np.prod(spec.replicate)) * atoms_in(box)
    time_ps = np.array([r["Step"] for r in rows]) * 1e-3  # 1 fs steps
    energy = np.array([r["TotEng"] for r in rows]) / atoms * 1e3  # meV/atom
    slope = float(np.polyfit(time_ps, energy, 1)[0])
    return {
        "steps": spec.nve_steps, "timestep_fs": 1.0, "duration_ps": float(time_ps[-1] - time_ps[0]), "atoms": atoms,
        "dtype": spec.dtype, "drift_mev_per_atom_ps": slope,
        "fluctuation_mev_per_atom": float(energy.std()),
        "mean_temperature_k": float(np.mean([r["Temp"] for r in rows])),
        "ok": abs(slope) <= NVE_DRIFT_LIMIT,
    }
