"""What the checks add up to: the flags every results row carries, and the verdict physical/unphysical."""

ACCURACY_GATE = {"test_epa_mae_mev": 0.7, "test_force_mae_mev_per_a": 25.0}  # the seed's


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
        "wall_check": flag("wall"),
        "wall_barrier_ev": f"{report['wall']['barrier_ev']:.3f}" if "wall" in report else "",
        "md_5fs_check": flag("md_5fs"),
        "closest_approach_a": f"{report['md_5fs']['closest_approach_a']:.3f}" if "md_5fs" in report else "",
        "oracle_check": flag("oracle"),
        "cross_engine_check": flag("cross_engine"),
    }


def physics_verdict(flags: dict) -> str:
    """'unphysical' when the model failed a check that says its MD is not physics (atoms pass the repulsive
    wall, the oracle's energy or structure is not reproduced, forces/ranks/NVE broken); 'physical' when every
    check that ran passed; '' when none ran. The accuracy gate alone does not decide it: a model short of the
    seed's accuracy can still run physical MD."""
    checks = [flags.get(k, "") for k in PHYSICS_CHECKS]
    if "fail" in checks:
        return "unphysical"
    return "physical" if any(checks) else ""


PHYSICS_CHECKS = ("force_check", "pressure_check", "rank_invariance", "nve_check", "wall_check", "md_5fs_check",
                  "oracle_check", "cross_engine_check")
