"""validation.md: every check's numbers and verdict as a human reads them."""
from pathlib import Path

from .engine_checks import NVE_DRIFT_LIMIT
from .protocol_md import ORACLE_PE_TOL_MEV, ORACLE_PEAK_TOL_A, TEMPERATURE_TOL_K
from .verdict import physics_verdict


def render_markdown(report: dict) -> str:
    lines = [f"# Validation of {report['model']}", ""]
    flags = report["flags"]
    if physics_verdict(flags) == "unphysical":
        lines += ["**UNPHYSICAL: this model failed a physics check below; every MD throughput measured with it is "
                  "measured on a broken simulation.**", ""]
    lines += ["| check | result |", "| --- | --- |"] + [f"| {k} | {v} |" for k, v in flags.items()] + [""]
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
                  "| distance (A) | model energy rise (eV) |" + (" EAM (eV) |" if "eam_rise_ev" in w else ""),
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
        lines += ["", "## Model vs its EAM oracle, the same run side by side", "",
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


def kokkos_clause(cross: dict) -> str:
    package = cross.get("kokkos_package")
    return f" through KOKKOS on a GPU (`-pk kokkos {package}`)" if package else ""
