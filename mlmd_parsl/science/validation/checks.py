"""Every check of the validation as one `Check`: how it runs (`run(context) -> {section: result}`), the report
section it writes, the results.csv flag it sets (and the numbers beside it), whether it decides the physics verdict,
and how validation.md shows it (a summary row and a section). suite.py runs CHECKS in order; a new check is its
module and one entry here (docs/extending.md)."""
from dataclasses import dataclass, field
from pathlib import Path

from ..choices import Flag
from .accuracy import UNIT_FORCE, accuracy_gate, gate_limits, gate_sentence
from .cross_engine import CROSS_FORCE_RTOL, check_cross_engine
from .engine_checks import (FORCE_RTOL, NVE_DRIFT_LIMIT, TRAJECTORY_TOL_A, check_forces, check_nve_drift,
                            check_pressure, check_rank_invariance)
from .protocol_md import MIN_APPROACH_A, ORACLE_PE_TOL_MEV, ORACLE_PEAK_TOL_A, TEMPERATURE_TOL_K, check_protocol_md
from .spec import ValidationSpec
from .wall import WALL_MIN_EV, check_repulsive_wall


@dataclass(frozen=True)
class CheckContext:
    """What every check's run gets: the export and its box, the folder for its files, the settings, and the inputs
    some checks need: `oracle` (the EAM that labelled synthetic data), `training` (training_summary.json's dict),
    `site_engine` (the site's LAMMPS, for the cross-engine check)."""
    model: str
    box: str
    out_dir: Path
    spec: ValidationSpec = ValidationSpec()
    oracle: str = None
    training: dict = None
    site_engine: object = None


@dataclass(frozen=True)
class Check:
    section: str  # the report's key (validation.json)
    flag: str  # its results.csv column: pass | fail | '' (not run)
    physics: bool  # a failure makes every MD throughput UNPHYSICAL (the accuracy gate's does not)
    summary: object  # section -> (measured, allowed) for validation.md's table, or None where it has no numbers
    details: object  # (section, report) -> validation.md's lines for it
    numbers: dict = field(default_factory=dict)  # results.csv column -> section -> its text
    # context -> {section: result}: its own section ({} where it does not apply), and any in `also_writes`;
    # None: the section comes from the check whose also_writes names it (one run gives both)
    run: object = None
    also_writes: tuple = ()

    def flag_of(self, report: dict) -> str:
        if self.section not in report:
            return ""
        return Flag.PASS if report[self.section]["ok"] else Flag.FAIL


def _run_gate(c: CheckContext):
    return {"accuracy_gate": accuracy_gate(c.training)} if c.training is not None else {}


def _run_forces(c: CheckContext):
    return {"forces": check_forces(c.model, c.box, c.out_dir, c.spec.dtype)}


def _run_pressure(c: CheckContext):
    return {"pressure": check_pressure(c.model, c.box, c.out_dir)}


def _run_ranks(c: CheckContext):
    return {"rank_invariance": check_rank_invariance(c.model, c.box, c.out_dir, c.spec)}


def _run_nve(c: CheckContext):
    return {"nve": check_nve_drift(c.model, c.box, c.out_dir, c.spec)}


def _run_wall(c: CheckContext):
    return {"wall": check_repulsive_wall(c.model, c.box, c.oracle, c.out_dir)}


def _run_protocol_md(c: CheckContext):
    md_5fs, comparison = check_protocol_md(c.model, c.box, c.out_dir, c.spec, c.oracle)
    return {"md_5fs": md_5fs, **({"oracle": comparison} if comparison is not None else {})}


def _run_cross(c: CheckContext):
    if not c.site_engine:
        return {}
    return {"cross_engine": check_cross_engine(c.site_engine, c.model, c.box, c.out_dir, c.spec)}


def _forces_summary(f):
    if not f.get("cases"):
        return None
    worst = max(c["relative_error"] for c in f["cases"])
    return f"largest force error {worst:.1e} of the largest force (engine vs hippynn)", f"<= {FORCE_RTOL:g}"


def _forces_details(f, report):
    lines = ["## Forces: engine vs hippynn's own periodic graph (same weights)", "",
             "| box | atoms | max abs error (eV/A) | relative | pe (LAMMPS) | energy (model) | ok |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for c in f["cases"]:
        lines.append(f"| {c['box']} | {c['atoms']} | {c['max_abs_error']:.2e} | {c['relative_error']:.2e} | "
                     f"{c['pe_lammps_ev']:.6f} | {c['energy_model_ev']:.6f} | {c['ok'] and c['pe_ok']} |")
    return lines


def _pressure_summary(p):
    if "max_abs_difference_bar" not in p:
        return None
    return (f"virial vs energy finite difference: {p['max_abs_difference_bar']:.3g} bar",
            "<= 1e-3 of the largest component + 1 bar")


def _pressure_details(p, report):
    return (["## Pressure at T = 0: virial vs finite difference of the energy (bar)", "",
             "| component | LAMMPS | finite difference |", "| --- | --- | --- |"]
            + [f"| {k} | {v['lammps_bar']:.3f} | {v['finite_difference_bar']:.3f} |"
               for k, v in p["components"].items()])


def _ranks_summary(r):
    if "max_position_difference_float64_a" not in r:
        return None
    return (f"{r['max_position_difference_float64_a']:.1e} Å apart after {r['steps']} steps (float64)",
            f"<= {TRAJECTORY_TOL_A:g} Å")


def _ranks_details(r, report):
    lines = [f"## Rank invariance after {r['steps']} steps at 1 fs", "",
             "| precision | ranks | max position difference (A) | max force difference (eV/A) |",
             "| --- | --- | --- | --- |"]
    for dtype, deviations in r["deviations"].items():
        for ranks, d in deviations.items():
            lines.append(f"| {dtype} | {ranks} vs {r['ranks'][0]} | {d['max_position_difference_a']:.2e} | "
                         f"{d['max_force_difference_ev_per_a']:.2e} |")
    return lines


def _cross_summary(c):
    worst = max((x["max_force_difference"] / max(x["max_force_ev_per_a"], 1e-12) for x in c.get("cases", [])),
                default=float("nan"))
    measured = (f"site engine vs embedded: force difference {worst:.1e} of the largest" if c.get("cases")
                else f"the site's LAMMPS did not run: {c.get('error', '')[:120]}")
    return measured, f"<= {CROSS_FORCE_RTOL:g}"


def _cross_details(c, report):
    t = c["tolerances"]
    lines = [f"## Site engine (`pair_style mliap unified`, {Path(c['model']).name}) vs embedded engine", "",
             f"`{c['lmp']}`{kokkos_clause(c)} against this package's engine on {c.get('embedded_device', 'cpu')}, "
             f"on the same boxes, run 0, float32 (tolerances: force {t['force_relative']:g} of the largest, energy "
             f"{t['energy_relative']:g} relative, virial {t['virial_relative']:g} of the largest component).", ""]
    if "error" in c:
        lines += [f"**FAILED: the site's LAMMPS did not run: {c['error']}**", ""]
    lines += ["| box | ranks | atoms | max force (eV/A) | max force difference (eV/A) | PE site (eV) "
              "| PE embedded (eV) | max virial difference (bar) | ok |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for x in c["cases"]:
        lines.append(f"| {x['box']} | {x['ranks']} | {x['atoms']} | {x['max_force_ev_per_a']:.3f} | "
                     f"{x['max_force_difference']:.2e} | {x['pe_site_ev']:.4f} | {x['pe_embedded_ev']:.4f} | "
                     f"{x['max_virial_difference_bar']:.3f} | {x['ok']} |")
    return lines


def kokkos_clause(cross: dict) -> str:
    package = cross.get("kokkos_package")
    return f" through KOKKOS on a GPU (`-pk kokkos {package}`)" if package else ""


def _nve_summary(n):
    return f"drift {n['drift_mev_per_atom_ps']:.4f} meV/atom/ps", f"drift within ±{NVE_DRIFT_LIMIT:g} meV/atom/ps"


def _nve_details(n, report):
    return ["## NVE energy conservation", "",
            f"{n['steps']} steps at 1 fs ({n['duration_ps']:.2f} ps), {n['atoms']} atoms, {n['dtype']}: drift "
            f"{n['drift_mev_per_atom_ps']:.4f} meV/atom/ps (limit {NVE_DRIFT_LIMIT}), fluctuation "
            f"{n['fluctuation_mev_per_atom']:.4f} meV/atom, mean T {n['mean_temperature_k']:.0f} K"]


def _wall_summary(w):
    return f"barrier {w['barrier_ev']:.3f} eV", f">= {WALL_MIN_EV:g} eV"


def _wall_details(w, report):
    eam = "eam_rise_ev" in w
    lines = ["## Repulsive wall: one atom moved straight towards its nearest neighbour", "",
             "| distance (A) | model energy rise (eV) |" + (f" EAM {w.get('oracle', '')} (eV) |" if eam else ""),
             "| ---: | ---: |" + (" ---: |" if eam else "")]
    for i, d in enumerate(w["distances_a"]):
        lines.append(f"| {d:.2f} | {w['model_rise_ev'][i]:.3f} |" + (f" {w['eam_rise_ev'][i]:.3f} |" if eam else ""))
    lines.append(f"\nBarrier {w['barrier_ev']:.2f} eV at {w['barrier_at_a']} A (at least {w['min_barrier_ev']} eV): "
                 + ("pass" if w["ok"] else "FAIL: a pair that gets over this wall fuses (the seed's sensitivities "
                    "do not see pairs closer than about 2.05 A)"))
    return lines


def _md_5fs_summary(m):
    return (f"closest approach {m['closest_approach_a']:.3f} Å, mean T {m['mean_temperature_k']:.0f} K",
            f">= {MIN_APPROACH_A:g} Å, 1111 ± {TEMPERATURE_TOL_K:g} K")


def _md_5fs_details(m, report):
    return [f"## MD at the protocol's step: NVT 1111 K, {m['atoms']} atoms, {m['steps']} steps at "
            f"{m['timestep_fs']:g} fs ({m['duration_ps']:g} ps)", "",
            f"Closest approach of two atoms over the run {m['closest_approach_a']:.3f} A (physical minimum "
            f"{m['min_approach_a']} A), mean temperature {m['mean_temperature_k']:.0f} K (1111 +- "
            f"{TEMPERATURE_TOL_K:g} K): {'pass' if m['ok'] else 'FAIL: this model does not run physical MD'}"
            + (f". Two atoms first came closer than {m['min_approach_a']} A {m['first_below_min_ps']:g} ps into the "
               "run: they fused" if m.get("first_below_min_ps") is not None else "")]


def _oracle_summary(o):
    pe = 1000 * (o["model"]["pe_per_atom_ev"] - o["eam"]["pe_per_atom_ev"])
    peak = o["model"]["rdf_first_peak_a"] - o["eam"]["rdf_first_peak_a"]
    return (f"PE/atom {pe:+.1f} meV, g(r) peak {peak:+.3f} Å against EAM {o.get('oracle', 'ag_u3')}",
            f"ΔPE within ±{ORACLE_PE_TOL_MEV:g} meV/atom, Δpeak within ±{ORACLE_PEAK_TOL_A:g} Å")


def _oracle_details(o, report):
    lines = [f"## Model vs its EAM oracle ({o.get('oracle', 'ag_u3')}), the same run side by side", "",
             "| quantity | model | EAM |", "| --- | --- | --- |"]
    for key, label in (("mean_temperature_k", "mean T (K)"), ("pe_per_atom_ev", "PE/atom (eV)"),
                       ("rdf_first_peak_a", "g(r) first peak (A)"), ("rdf_first_peak_height", "g(r) first peak height"),
                       ("closest_approach_a", "closest approach (A)")):
        lines.append(f"| {label} | {o['model'][key]:.4f} | {o['eam'][key]:.4f} |")
    lines.append(f"| integral abs g(r) difference | {o['rdf_l1_difference']:.4f} | |")
    lines.append(f"\nAgreement (|dPE| <= {ORACLE_PE_TOL_MEV} meV/atom, g(r) peak within {ORACLE_PEAK_TOL_A} A): "
                 f"{'pass' if o['ok'] else 'fail'}")
    return lines


def _gate_summary(a):
    return (f"test EpA-MAE {a['test_epa_mae_mev']:.3f} meV/atom, Force MAE {a['test_force_mae_mev_per_a']:.2f} "
            f"{UNIT_FORCE}", f"{gate_limits()} (the seed's)")


def _gate_details(a, report):
    return [f"## {gate_sentence(a['test_epa_mae_mev'], a['test_force_mae_mev_per_a'])}"]


# In validation.md's order (its summary table and its sections alike), which is also the order they run in.
CHECKS = (
    Check("accuracy_gate", "accuracy_gate", False, _gate_summary, _gate_details, run=_run_gate),
    Check("forces", "force_check", True, _forces_summary, _forces_details, run=_run_forces),
    Check("pressure", "pressure_check", True, _pressure_summary, _pressure_details, run=_run_pressure),
    Check("rank_invariance", "rank_invariance", True, _ranks_summary, _ranks_details, run=_run_ranks),
    Check("nve", "nve_check", True, _nve_summary, _nve_details, run=_run_nve,
          numbers={"nve_drift_mev_atom_ps": lambda n: f"{n['drift_mev_per_atom_ps']:.4f}"}),
    Check("wall", "wall_check", True, _wall_summary, _wall_details, run=_run_wall,
          numbers={"wall_barrier_ev": lambda w: f"{w['barrier_ev']:.3f}"}),
    Check("md_5fs", "md_5fs_check", True, _md_5fs_summary, _md_5fs_details, run=_run_protocol_md,
          also_writes=("oracle",),  # the oracle's run beside the model's, on synthetic data
          numbers={"closest_approach_a": lambda m: f"{m['closest_approach_a']:.3f}",
                   "fused_at_ps": lambda m: "" if m.get("first_below_min_ps") is None
                   else f"{m['first_below_min_ps']:g}"}),
    Check("oracle", "oracle_check", True, _oracle_summary, _oracle_details),
    Check("cross_engine", "cross_engine_check", True, _cross_summary, _cross_details, run=_run_cross),
)
PHYSICS_CHECKS = tuple(check.flag for check in CHECKS if check.physics)
# results.csv's validation columns, in CHECKS order: each flag, then the numbers beside it
FLAG_COLUMNS = tuple(column for check in CHECKS for column in (check.flag, *check.numbers))
