"""The seed's accuracy gate: test errors of the trained model, not a physics check (a model short of it can still
run physical MD); its one sentence, which every renderer prints."""

ACCURACY_GATE = {"test_epa_mae_mev": 0.7, "test_force_mae_mev_per_a": 25.0}  # the seed's


def accuracy_gate(training_summary) -> dict:
    """The gate on a TrainingSummary's test errors (NaN where the test split has none: not reached)."""
    epa, force = training_summary.test_epa_mae_mev, training_summary.test_force_mae_mev_per_a
    return {"test_epa_mae_mev": epa, "test_force_mae_mev_per_a": force, "ok": gate_reached(epa, force)}


def gate_reached(epa_mev, force_mev_per_a) -> bool:
    return float(epa_mev) < ACCURACY_GATE["test_epa_mae_mev"] and \
        float(force_mev_per_a) < ACCURACY_GATE["test_force_mae_mev_per_a"]


UNIT_FORCE = "meV/Å"


def gate_limits() -> str:
    return (f"test EpA-MAE < {ACCURACY_GATE['test_epa_mae_mev']:g} meV/atom and "
            f"Force MAE < {ACCURACY_GATE['test_force_mae_mev_per_a']:g} {UNIT_FORCE}")


def gate_sentence(epa_mev=None, force_mev_per_a=None, dataset: str = "", epochs=None,
                  missing: str = "no complete training") -> str:
    """'Accuracy gate (the seed's: LIMITS): pass (...)', '... not reached: <by how much> (...)', or without test
    errors '... not evaluated (<missing>)'."""
    head = f"Accuracy gate (the seed's: {gate_limits()})"
    if epa_mev is None or force_mev_per_a is None:
        return f"{head}: not evaluated ({missing})"
    measured = {"energy": (float(epa_mev), ACCURACY_GATE["test_epa_mae_mev"], "meV/atom"),
                "force": (float(force_mev_per_a), ACCURACY_GATE["test_force_mae_mev_per_a"], UNIT_FORCE)}
    missed = [f"{name} {value:.3g} {unit} is {value / limit:.1f}x its limit"
              for name, (value, limit, unit) in measured.items() if not value < limit]
    where = f" (on {dataset} data, {epochs} epochs)" if dataset else ""
    if gate_reached(epa_mev, force_mev_per_a):
        return (f"{head}: pass (test EpA-MAE {measured['energy'][0]:.3f} meV/atom, "
                f"Force MAE {measured['force'][0]:.2f} {UNIT_FORCE}){where}")
    return f"{head}: not reached: {'; '.join(missed)}{where}"


def gate_sentence_of_row(training_row: dict) -> str:
    """The gate sentence of a results row of kind training (not evaluated unless it finished)."""
    if not training_row or training_row.get("status", "ok") != "ok":
        return gate_sentence()
    return gate_sentence(training_row.get("test_epa_mae_mev"), training_row.get("test_force_mae_mev_per_a"),
                         training_row.get("dataset") or "", training_row.get("epochs"))
