"""The seed's accuracy gate: test errors of the trained model, not a physics check (a model short of it can still
run physical MD)."""

ACCURACY_GATE = {"test_epa_mae_mev": 0.7, "test_force_mae_mev_per_a": 25.0}  # the seed's


def accuracy_gate(training_summary: dict) -> dict:
    test = training_summary["metrics"].get("test", {})
    epa, force = test.get("EpA-MAE", float("inf")), test.get("ForceMAE", float("inf"))
    return {"test_epa_mae_mev": epa, "test_force_mae_mev_per_a": force,
            "ok": epa < ACCURACY_GATE["test_epa_mae_mev"] and force < ACCURACY_GATE["test_force_mae_mev_per_a"]}


def gate_limits_text() -> str:
    return (f"< {ACCURACY_GATE['test_epa_mae_mev']:g} meV/atom and < {ACCURACY_GATE['test_force_mae_mev_per_a']:g} "
            "meV/Å")
