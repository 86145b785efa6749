"""validation.md: every check's numbers and verdict as a human reads them."""
from pathlib import Path

from .cross_engine import CROSS_FORCE_RTOL
from .engine_checks import FORCE_RTOL, NVE_DRIFT_LIMIT, TRAJECTORY_TOL_A
from .protocol_md import MIN_APPROACH_A, ORACLE_PE_TOL_MEV, ORACLE_PEAK_TOL_A, TEMPERATURE_TOL_K
from .verdict import ACCURACY_GATE, PHYSICS_CHECKS, physics_verdict
from .wall import WALL_MIN_EV


def render_markdown(report: dict) -> str:
    lines = [f"# Validation of {Path(report['model']).name}", ""]
    flags = report["flags"]
    verdict = physics_verdict(flags)
    if verdict == "unphysical":
        lines += ["**Verdict: UNPHYSICAL: this model failed a physics check below; every MD throughput measured "
                  "with it is measured on a broken simulation.**", ""]
    elif verdict == "physical":
        not_run = [k for k in PHYSICS_CHECKS if not flags.get(k)]
        lines += [f"**Verdict: physical: every physics check that ran passed** "
                  f"({len(PHYSICS_CHECKS) - len(not_run)} passed" + (f", not run: {', '.join(not_run)}" if not_run else "")
                  + f"; the accuracy gate, not a physics check: {flags.get('accuracy_gate') or 'not run'}).", ""]
    else:
        lines += ["**Verdict: no physics check ran.**", ""]
    lines += ["| check | result | measured | allowed |", "| --- | --- | --- | --- |"]
    lines += [f"| {name} | {flags.get(name) or 'not run'} | {measured} | {allowed} |"
              for name, measured, allowed in summary_rows(report)] + [""]
    lines += ["## Forces: engine vs hippynn's own periodic graph (same weights)", "",
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
    if "cross_engine" in report:
        c = report["cross_engine"]
        t = c["tolerances"]
        lines += ["", f"## Site engine (`pair_style mliap unified`, {Path(c['model']).name}) vs embedded engine", "",
                  f"`{c['lmp']}`{kokkos_clause(c)} against this package's engine on {c.get('embedded_device', 'cpu')}, "
                  f"on the same boxes, run 0, float32 (tolerances: force "
                  f"{t['force_relative']:g} of the largest, energy {t['energy_relative']:g} relative, virial "
                  f"{t['virial_relative']:g} of the largest component).", ""]
        if "error" in c:
            lines += [f"**FAILED: the site's LAMMPS did not run: {c['error']}**", ""]
        lines += ["| box | ranks | atoms | max force (eV/A) | max force difference (eV/A) | PE site (eV) | PE embedded (eV) "
                  "| max virial difference (bar) | ok |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
        for x in c["cases"]:
            lines.append(f"| {x['box']} | {x['ranks']} | {x['atoms']} | {x['max_force_ev_per_a']:.3f} | "
                         f"{x['max_force_difference']:.2e} | {x['pe_site_ev']:.4f} | {x['pe_embedded_ev']:.4f} | "
                         f"{x['max_virial_difference_bar']:.3f} | {x['ok']} |")
    n = report["nve"]
    lines += ["", "## NVE energy conservation", "",
              f"{n['steps']} steps at 1 fs ({n['duration_ps']:.2f} ps), {n['atoms']} atoms, {n['dtype']}: drift "
              f"{n['drift_mev_per_atom_ps']:.4f} meV/atom/ps (limit {NVE_DRIFT_LIMIT}), fluctuation "
              f"{n['fluctuation_mev_per_atom']:.4f} meV/atom, mean T {n['mean_temperature_k']:.0f} K"]
    if "wall" in report:
        w = report["wall"]
        lines += ["", "## Repulsive wall: one atom moved straight towards its nearest neighbour", "",
                  "| distance (A) | model energy rise (eV) |" + (f" EAM {w.get('oracle', '')} (eV) |" if "eam_rise_ev" in w else ""),
                  "| ---: | ---: |" + (" ---: |" if "eam_rise_ev" in w else "")]
        for i, d in enumerate(w["distances_a"]):
            lines.append(f"| {d:.2f} | {w['model_rise_ev'][i]:.3f} |"
                         + (f" {w['eam_rise_ev'][i]:.3f} |" if "eam_rise_ev" in w else ""))
        lines.append(f"\nBarrier {w['barrier_ev']:.2f} eV at {w['barrier_at_a']} A (at least {w['min_barrier_ev']} eV): "
                     + ("pass" if w["ok"] else "FAIL: a pair that gets over this wall fuses (the seed's sensitivities "
                        "do not see pairs closer than about 2.05 A)"))
    if "md_5fs" in report:
        m = report["md_5fs"]
        lines += ["", f"## MD at the protocol's step: NVT 1111 K, {m['atoms']} atoms, {m['steps']} steps at "
                      f"{m['timestep_fs']:g} fs ({m['duration_ps']:g} ps)", "",
                  f"Closest approach of two atoms over the run {m['closest_approach_a']:.3f} A (physical minimum "
                  f"{m['min_approach_a']} A), mean temperature {m['mean_temperature_k']:.0f} K (1111 +- "
                  f"{TEMPERATURE_TOL_K:g} K): {'pass' if m['ok'] else 'FAIL: this model does not run physical MD'}"]
    if "oracle" in report:
        o = report["oracle"]
        lines += ["", f"## Model vs its EAM oracle ({o.get('oracle', 'ag_u3')}), the same run side by side", "",
                  "| quantity | model | EAM |", "| --- | --- | --- |"]
        for key, label in (("mean_temperature_k", "mean T (K)"), ("pe_per_atom_ev", "PE/atom (eV)"),
                           ("rdf_first_peak_a", "g(r) first peak (A)"), ("rdf_first_peak_height", "g(r) first peak height"),
                           ("closest_approach_a", "closest approach (A)")):
            lines.append(f"| {label} | {o['model'][key]:.4f} | {o['eam'][key]:.4f} |")
        lines.append(f"| integral abs g(r) difference | {o['rdf_l1_difference']:.4f} | |")
        lines.append(f"\nAgreement (|dPE| <= {ORACLE_PE_TOL_MEV} meV/atom, g(r) peak within {ORACLE_PEAK_TOL_A} A): "
                     f"{'pass' if o['ok'] else 'fail'}")
    if "accuracy_gate" in report:
        a = report["accuracy_gate"]
        lines += ["", f"## Accuracy gate (seed): test EpA-MAE {a['test_epa_mae_mev']:.3f} meV/atom (< 0.7), "
                      f"Force MAE {a['test_force_mae_mev_per_a']:.2f} meV/A (< 25): {'pass' if a['ok'] else 'fail'}"]
    return "\n".join(lines) + "\n"


def summary_rows(report: dict) -> list:
    """(flag, what was measured with its unit, the threshold) per check that ran."""
    rows = []
    if "accuracy_gate" in report:
        a = report["accuracy_gate"]
        rows.append(("accuracy_gate", f"test EpA-MAE {a['test_epa_mae_mev']:.3f} meV/atom, Force MAE "
                     f"{a['test_force_mae_mev_per_a']:.2f} meV/Å",
                     f"< {ACCURACY_GATE['test_epa_mae_mev']} meV/atom and < {ACCURACY_GATE['test_force_mae_mev_per_a']:g} "
                     "meV/Å (the seed's)"))
    if report.get("forces", {}).get("cases"):
        worst = max(c["relative_error"] for c in report["forces"]["cases"])
        rows.append(("force_check", f"largest force error {worst:.1e} of the largest force (engine vs hippynn)",
                     f"<= {FORCE_RTOL:g}"))
    if "max_abs_difference_bar" in report.get("pressure", {}):
        rows.append(("pressure_check", f"virial vs energy finite difference: "
                     f"{report['pressure']['max_abs_difference_bar']:.3g} bar", "<= 1e-3 of the largest component + 1 bar"))
    if "max_position_difference_float64_a" in report.get("rank_invariance", {}):
        r = report["rank_invariance"]
        rows.append(("rank_invariance", f"{r['max_position_difference_float64_a']:.1e} Å apart after {r['steps']} steps "
                     "(float64)", f"<= {TRAJECTORY_TOL_A:g} Å"))
    if "nve" in report:
        rows.append(("nve_check", f"drift {report['nve']['drift_mev_per_atom_ps']:.4f} meV/atom/ps",
                     f"drift within ±{NVE_DRIFT_LIMIT:g} meV/atom/ps"))
    if "wall" in report:
        rows.append(("wall_check", f"barrier {report['wall']['barrier_ev']:.3f} eV", f">= {WALL_MIN_EV:g} eV"))
    if "md_5fs" in report:
        m = report["md_5fs"]
        rows.append(("md_5fs_check", f"closest approach {m['closest_approach_a']:.3f} Å, mean T "
                     f"{m['mean_temperature_k']:.0f} K", f">= {MIN_APPROACH_A:g} Å, 1111 ± {TEMPERATURE_TOL_K:g} K"))
    if "oracle" in report:
        o = report["oracle"]
        pe = 1000 * (o["model"]["pe_per_atom_ev"] - o["eam"]["pe_per_atom_ev"])
        peak = o["model"]["rdf_first_peak_a"] - o["eam"]["rdf_first_peak_a"]
        rows.append(("oracle_check", f"PE/atom {pe:+.1f} meV, g(r) peak {peak:+.3f} Å against EAM {o.get('oracle', 'ag_u3')}",
                     f"ΔPE within ±{ORACLE_PE_TOL_MEV:g} meV/atom, Δpeak within ±{ORACLE_PEAK_TOL_A:g} Å"))
    if "cross_engine" in report:
        c = report["cross_engine"]
        worst = max((x["max_force_difference"] / max(x["max_force_ev_per_a"], 1e-12) for x in c.get("cases", [])),
                    default=float("nan"))
        measured = (f"site engine vs embedded: force difference {worst:.1e} of the largest" if c.get("cases")
                    else f"the site's LAMMPS did not run: {c.get('error', '')[:120]}")
        rows.append(("cross_engine_check", measured, f"<= {CROSS_FORCE_RTOL:g}"))
    return rows


def kokkos_clause(cross: dict) -> str:
    package = cross.get("kokkos_package")
    return f" through KOKKOS on a GPU (`-pk kokkos {package}`)" if package else ""
