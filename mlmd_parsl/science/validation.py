"""Physics validation of an exported model run by the embedded engine.

Checks (each returns a dict with the numbers and, where there is a threshold, `ok`):
- forces: engine vs an independent evaluation of the same model (ASE periodic neighbour list, no
  LAMMPS) on small, strained, non-cubic and vacancy-holding boxes, <= 1e-5 relative;
- energy and pressure: thermo `pe` equals the model's energy; the virial pressure (pxx, pyy, pzz at
  T = 0) equals a central finite difference of that energy under small box strains;
- rank invariance: 1, 2, (3) ranks follow the same trajectory (float64: <= 1e-6 A after N steps at
  1 fs); the float32 deviation is measured and reported;
- NVE at 1 fs conserves energy: linear drift <= 1 meV/atom/ps over >= 1 ps;
- oracle (synthetic data only): the model and its EAM oracle in a short 1111 K NVT run, side by side:
  mean temperature, potential energy per atom, radial distribution function.
"""
import json
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .deck import Protocol, Stage, make_deck, single_stage_protocol
from .logs import thermo_tables
from .reference_forces import exported_model_prediction, read_force_dump

EV_PER_A3_IN_BAR = 1.602176634e6
FORCE_RTOL = 1e-5
TRAJECTORY_TOL_A = 1e-6
NVE_DRIFT_LIMIT = 1.0  # meV/atom/ps
ORACLE_PE_TOL_MEV = 20.0  # model vs EAM mean potential energy per atom in the same 1111 K run
ORACLE_PEAK_TOL_A = 0.1  # position of the g(r) first peak
ACCURACY_GATE = {"test_epa_mae_mev": 0.7, "test_force_mae_mev_per_a": 25.0}  # the seed's


@dataclass(frozen=True)
class ValidationSpec:
    rank_counts: tuple = (1, 2)
    trajectory_steps: int = 100
    nve_steps: int = 1000
    oracle_equilibration_steps: int = 200
    oracle_steps: int = 300
    replicate: tuple = (2, 2, 1)
    dtype: str = "float32"  # the production precision of MD runs


def _run_standalone(model, box, out_dir, tag, replicate, steps, ranks=1, dtype="float32"):
    """python -m mlmd_parsl.md in a subprocess (under mpiexec for ranks > 1); returns dump and log paths."""
    from .lammps_runtime import mpiexec_executable, venv_environment

    dump, log = out_dir / f"{tag}.dump", out_dir / f"{tag}.lammps"
    cmd = [sys.executable, "-m", "mlmd_parsl.md", "--model", str(model), "--box", str(box),
           "--replicate", *map(str, replicate), "--steps", str(steps), "--dtype", dtype,
           "--dump-forces", str(dump), "--log", str(log)]
    if ranks > 1:
        cmd = [mpiexec_executable(), "-n", str(ranks)] + cmd
    env = {**venv_environment(), "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    env.setdefault("HIPPYNN_USE_CUSTOM_KERNELS", "pytorch")
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}): {result.stderr[-2000:]}")
    return dump, log


def _evaluate_in_process(model, box, out_dir, tag, replicate, dtype):
    """Evaluate a box once (run 0) with the engine in this process; return (dump, log)."""
    from mpi4py import MPI

    from .engine import run_embedded

    dump, log = out_dir / f"{tag}.dump", out_dir / f"{tag}.lammps"
    deck = make_deck(Path(box).resolve(), replicate, single_stage_protocol(0), dump_forces=str(dump))
    run_embedded(deck, model, str(log), dtype=dtype, comm=MPI.COMM_SELF)
    return dump, log


def validation_boxes(box, out_dir):
    """(name, data file, replicate) of the boxes the force check uses, written from the unit box."""
    import ase.io

    unit = ase.io.read(str(box), format="lammps-data", atom_style="atomic")
    strained = unit.copy()
    strained.set_cell(unit.cell.array @ np.diag([1.03, 0.97, 1.02]), scale_atoms=True)
    holes = unit.copy()
    del holes[[3, 17, 40, 66]]  # four more vacancies, five in all
    files = {}
    for name, atoms in (("strained", strained), ("vacancies", holes)):
        files[name] = out_dir / f"box_{name}.data"
        ase.io.write(str(files[name]), atoms, format="lammps-data", masses=True)
    return [
        ("unit_cell_71", Path(box), (1, 1, 1)),
        ("replica_2x2x1", Path(box), (2, 2, 1)),
        ("noncubic_1x2x3", Path(box), (1, 2, 3)),
        ("strained_3pct", files["strained"], (2, 2, 1)),
        ("five_vacancies", files["vacancies"], (2, 1, 2)),
    ]


def check_forces(model, box, out_dir, dtype="float32"):
    cases = []
    for name, data, replicate in validation_boxes(box, out_dir):
        dump, log = _evaluate_in_process(model, data, out_dir, f"forces_{name}", replicate, dtype)
        _, positions, forces, lengths = read_force_dump(dump)
        energy, reference = exported_model_prediction(model, positions, np.diag(lengths))
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
    dump, log = _evaluate_in_process(model, box, out_dir, "pressure", (2, 2, 1), "float64")
    row = thermo_tables(log)["timed"][0]
    _, positions, _, lengths = read_force_dump(dump)
    volume = float(np.prod(lengths))
    components = {}
    for axis, name in enumerate(("Pxx", "Pyy", "Pzz")):
        energies = []
        for sign in (1, -1):
            factors = np.ones(3)
            factors[axis] += sign * strain
            energies.append(exported_model_prediction(model, positions * factors, np.diag(lengths * factors))[0])
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
            dump, _ = _run_standalone(model, box, out_dir, f"trajectory_{dtype}_{ranks}ranks", spec.replicate,
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
    _, log = _run_standalone(model, box, out_dir, "nve", spec.replicate, spec.nve_steps, 1, spec.dtype)
    rows = thermo_tables(log)["timed"]
    atoms = int(np.prod(spec.replicate)) * _atoms_in(box)
    time_ps = np.array([r["Step"] for r in rows]) * 1e-3  # 1 fs steps
    energy = np.array([r["TotEng"] for r in rows]) / atoms * 1e3  # meV/atom
    slope = float(np.polyfit(time_ps, energy, 1)[0])
    return {
        "steps": spec.nve_steps, "timestep_fs": 1.0, "duration_ps": float(time_ps[-1] - time_ps[0]), "atoms": atoms,
        "dtype": spec.dtype, "drift_mev_per_atom_ps": slope,
        "fluctuation_mev_per_atom": float(energy.std()), "mean_temperature_k": float(np.mean([r["Temp"] for r in rows])),
        "ok": abs(slope) <= NVE_DRIFT_LIMIT,
    }


def _atoms_in(box):
    for line in Path(box).read_text().splitlines():
        if line.strip().endswith("atoms"):
            return int(line.split()[0])
    raise ValueError(f"no atom count in {box}")


def oracle_protocol(spec: ValidationSpec):
    return Protocol("oracle", (Stage("equilibration", spec.oracle_equilibration_steps, 2.0, "nvt"),
                               Stage("timed", spec.oracle_steps, 2.0, "nvt")), 10)


def compare_with_eam_oracle(model, box, out_dir, spec: ValidationSpec):
    """A short 1111 K NVT run with the model and with EAM (its oracle) from the same start, side by side."""
    from mpi4py import MPI

    from .engine import run_embedded
    from .lammps_runtime import eam_potential_path, lmp_executable, venv_environment

    box = Path(box).resolve()
    protocol = oracle_protocol(spec)
    summaries = {}
    model_rdf = out_dir / "rdf_model.txt"
    deck = make_deck(box, spec.replicate, protocol, rdf_file=str(model_rdf))
    run_embedded(deck, model, str(out_dir / "oracle_model.lammps"), dtype=spec.dtype, comm=MPI.COMM_SELF)
    summaries["model"] = _md_summary(out_dir / "oracle_model.lammps", model_rdf)
    eam_rdf = out_dir / "rdf_eam.txt"
    deck = make_deck(box, spec.replicate, protocol, engine="eam", eam_file=eam_potential_path(), rdf_file=str(eam_rdf))
    (out_dir / "oracle_eam.in").write_text(deck.text)
    subprocess.run([lmp_executable(), "-in", "oracle_eam.in", "-log", "oracle_eam.lammps", "-screen", "none"],
                   cwd=out_dir, env={**venv_environment(), "OMP_NUM_THREADS": "1"}, check=True, capture_output=True)
    summaries["eam"] = _md_summary(out_dir / "oracle_eam.lammps", eam_rdf)
    r = np.array(summaries["model"].pop("r"))
    g_model, g_eam = np.array(summaries["model"].pop("g")), np.array(summaries["eam"].pop("g"))
    summaries["eam"].pop("r")
    dr = r[1] - r[0]
    pe_difference = 1e3 * (summaries["model"]["pe_per_atom_ev"] - summaries["eam"]["pe_per_atom_ev"])
    peak_shift = summaries["model"]["rdf_first_peak_a"] - summaries["eam"]["rdf_first_peak_a"]
    return {
        "temperature_k": 1111.0, "steps": spec.oracle_steps, "timestep_fs": 2.0, **summaries,
        "pe_difference_mev_per_atom": pe_difference, "rdf_first_peak_shift_a": peak_shift,
        "ok": abs(pe_difference) <= ORACLE_PE_TOL_MEV and abs(peak_shift) <= ORACLE_PEAK_TOL_A,
        "rdf_l1_difference": float(np.sum(np.abs(g_model - g_eam)) * dr),
        "rdf": {"r": r.tolist(), "g_model": g_model.tolist(), "g_eam": g_eam.tolist()},
    }


def _md_summary(log, rdf_file):
    rows = thermo_tables(log)["timed"]
    atoms = _atoms_from_log(log)
    r, g = read_rdf(rdf_file)
    peak = int(np.argmax(g))
    return {"mean_temperature_k": float(np.mean([x["Temp"] for x in rows])),
            "pe_per_atom_ev": float(np.mean([x["PotEng"] for x in rows]) / atoms),
            "rdf_first_peak_a": float(r[peak]), "rdf_first_peak_height": float(g[peak]), "r": r.tolist(), "g": g.tolist()}


def _atoms_from_log(log):
    from .logs import parse_log

    return parse_log(log).atoms


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


def validate_model(model, box, out_dir, spec: ValidationSpec = ValidationSpec(), with_oracle=False, training=None):
    """Run every check, write validation.json and validation.md in out_dir, return the report."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {"model": str(model), "box": str(box), "spec": asdict(spec)}
    report["forces"] = check_forces(model, box, out_dir, spec.dtype)
    report["pressure"] = check_pressure(model, box, out_dir)
    report["rank_invariance"] = check_rank_invariance(model, box, out_dir, spec)
    report["nve"] = check_nve_drift(model, box, out_dir, spec)
    if with_oracle:
        report["oracle"] = compare_with_eam_oracle(model, box, out_dir, spec)
    if training is not None:
        report["accuracy_gate"] = accuracy_gate(training)
    report["flags"] = validity_flags(report)
    (out_dir / "validation.json").write_text(json.dumps(report, indent=2))
    (out_dir / "validation.md").write_text(render_markdown(report))
    return report


def accuracy_gate(training_summary: dict) -> dict:
    test = training_summary["metrics"].get("test", {})
    epa, force = test.get("EpA-MAE", float("inf")), test.get("ForceMAE", float("inf"))
    return {"test_epa_mae_mev": epa, "test_force_mae_mev_per_a": force,
            "ok": epa < ACCURACY_GATE["test_epa_mae_mev"] and force < ACCURACY_GATE["test_force_mae_mev_per_a"]}


def validity_flags(report: dict) -> dict:
    """The flags each results row carries: 'pass'/'fail' per check, and the NVE drift number."""
    def flag(section):
        return "" if section not in report else ("pass" if report[section]["ok"] else "fail")

    return {
        "accuracy_gate": flag("accuracy_gate"),
        "force_check": flag("forces"),
        "pressure_check": flag("pressure"),
        "rank_invariance": flag("rank_invariance"),
        "nve_drift_mev_atom_ps": f"{report['nve']['drift_mev_per_atom_ps']:.4f}" if "nve" in report else "",
        "nve_check": flag("nve"),
        "oracle_check": flag("oracle"),
    }


def render_markdown(report: dict) -> str:
    lines = [f"# Validation of {report['model']}", ""]
    flags = report["flags"]
    lines += ["| check | result |", "| --- | --- |"] + [f"| {k} | {v} |" for k, v in flags.items()] + [""]
    lines += ["## Forces: engine vs independent evaluation (ASE periodic pairs)", "",
              "| box | atoms | max abs error (eV/A) | relative | pe (LAMMPS) | energy (model) | ok |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for c in report["forces"]["cases"]:
        lines.append(f"| {c['box']} | {c['atoms']} | {c['max_abs_error']:.2e} | {c['relative_error']:.2e} | "
                     f"{c['pe_lammps_ev']:.6f} | {c['energy_model_ev']:.6f} | {c['ok'] and c['pe_ok']} |")
    p = report["pressure"]
    lines += ["", "## Pressure at T = 0: virial vs finite difference of the energy (bar)", "",
              "| component | LAMMPS | finite difference |", "| --- | --- | --- |"]
    lines += [f"| {k} | {v['lammps_bar']:.3f} | {v['finite_difference_bar']:.3f} |" for k, v in p["components"].items()]
    r = report["rank_invariance"]
    lines += ["", f"## Rank invariance after {r['steps']} steps at 1 fs", "",
              "| precision | ranks | max position difference (A) | max force difference (eV/A) |", "| --- | --- | --- | --- |"]
    for dtype, deviations in r["deviations"].items():
        for ranks, d in deviations.items():
            lines.append(f"| {dtype} | {ranks} vs {r['ranks'][0]} | {d['max_position_difference_a']:.2e} | "
                         f"{d['max_force_difference_ev_per_a']:.2e} |")
    n = report["nve"]
    lines += ["", "## NVE energy conservation", "",
              f"{n['steps']} steps at 1 fs ({n['duration_ps']:.2f} ps), {n['atoms']} atoms, {n['dtype']}: drift "
              f"{n['drift_mev_per_atom_ps']:.4f} meV/atom/ps (limit {NVE_DRIFT_LIMIT}), fluctuation "
              f"{n['fluctuation_mev_per_atom']:.4f} meV/atom, mean T {n['mean_temperature_k']:.0f} K"]
    if "oracle" in report:
        o = report["oracle"]
        lines += ["", f"## Model vs its EAM oracle, NVT 1111 K, {o['steps']} steps at 2 fs", "",
                  "| quantity | model | EAM |", "| --- | --- | --- |"]
        for key, label in (("mean_temperature_k", "mean T (K)"), ("pe_per_atom_ev", "PE/atom (eV)"),
                           ("rdf_first_peak_a", "g(r) first peak (A)"), ("rdf_first_peak_height", "g(r) first peak height")):
            lines.append(f"| {label} | {o['model'][key]:.4f} | {o['eam'][key]:.4f} |")
        lines.append(f"| integral abs g(r) difference | {o['rdf_l1_difference']:.4f} | |")
        lines.append(f"\nAgreement (|dPE| <= {ORACLE_PE_TOL_MEV} meV/atom, g(r) peak within {ORACLE_PEAK_TOL_A} A): "
                     f"{'pass' if o['ok'] else 'fail'}")
    if "accuracy_gate" in report:
        a = report["accuracy_gate"]
        lines += ["", f"## Accuracy gate (seed): test EpA-MAE {a['test_epa_mae_mev']:.3f} meV/atom (< 0.7), "
                      f"Force MAE {a['test_force_mae_mev_per_a']:.2f} meV/A (< 25): {'pass' if a['ok'] else 'fail'}"]
    return "\n".join(lines) + "\n"
