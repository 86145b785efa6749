"""The flags and the physical/unphysical verdict every results row carries."""
from mlmd_parsl.science.validation.verdict import physics_verdict


def test_a_failed_physics_check_makes_the_model_unphysical():
    passing = {k: "pass" for k in ("force_check", "pressure_check", "rank_invariance", "nve_check", "wall_check",
                                   "md_5fs_check", "oracle_check")}
    assert physics_verdict({**passing, "accuracy_gate": "fail"}) == "physical"  # accuracy alone is not physics
    for check in passing:
        assert physics_verdict({**passing, check: "fail"}) == "unphysical", check
    assert physics_verdict({"accuracy_gate": "pass"}) == ""


def _rows(flags, training):
    """A division's training row and one MD row, as collect_results writes them (the flags on every row)."""
    train = {"task": "train", "kind": "training", "status": "ok", "division": "ours", "dataset": "synthetic",
             "trainer": "lean", "epochs": 800, "epoch_time_s": 0.3, "device": "cpu", **training, **flags}
    case = {"task": "md_z1_r1", "kind": "md", "status": "ok", "division": "ours", "atoms": 284, "ranks": 1,
            "zrep": 1, "katom_step_s": 100.0, "sweep": "local", **flags}
    return [train, case]


def test_the_console_report_md_and_validation_md_print_the_same_verdict_and_gate_sentences(tmp_path):
    """One sentence each, written once (verdict.py, accuracy.py): the renderers may frame it, never reword it."""
    from mlmd_parsl.science.reporting.console_summary import print_summary
    from mlmd_parsl.science.reporting.report_md import write_report
    from mlmd_parsl.science.validation.accuracy import gate_sentence
    from mlmd_parsl.science.validation.markdown import render_markdown
    from mlmd_parsl.science.validation.verdict import verdict_sentence

    failing = {"force_check": "pass", "wall_check": "fail", "wall_barrier_ev": "1.210", "md_5fs_check": "fail",
               "fused_at_ps": "3.8", "closest_approach_a": "0.031", "accuracy_gate": "fail"}
    passing = {"force_check": "pass", "wall_check": "pass", "wall_barrier_ev": "3.244", "closest_approach_a": "2.301",
               "accuracy_gate": "pass"}
    for flags, training in ((failing, {"test_epa_mae_mev": 2.48, "test_force_mae_mev_per_a": 60.9}),
                            (passing, {"test_epa_mae_mev": 0.45, "test_force_mae_mev_per_a": 20.9})):
        rows = [{**r, "physics": physics_verdict(flags)} for r in _rows(flags, training)]
        verdict = verdict_sentence(rows[0])
        gate = gate_sentence(training["test_epa_mae_mev"], training["test_force_mae_mev_per_a"], "synthetic", 800)
        printed = []
        print_summary({"rows": rows, "results": "r", "plot": "p", "report": "m"}, tmp_path, out=printed.append)
        report = write_report(rows, tmp_path, "T").read_text()
        validation = render_markdown({"model": "m.pt", "flags": flags, "accuracy_gate": {
            "test_epa_mae_mev": training["test_epa_mae_mev"],
            "test_force_mae_mev_per_a": training["test_force_mae_mev_per_a"], "ok": flags["accuracy_gate"] == "pass"}})
        assert any(line.startswith(f"[ours] {verdict}") for line in printed), printed  # + where the details are
        assert f"**{verdict}**" in report.splitlines()
        assert f"**{verdict}**" in validation.splitlines()
        assert f"[ours] {gate}" in printed and f"**{gate}**" in report
        assert gate_sentence(training["test_epa_mae_mev"], training["test_force_mae_mev_per_a"]) in validation
    assert "UNPHYSICAL: the model failed wall_check, md_5fs_check" in verdict_sentence({**failing, "nve_check": ""})
    assert gate_sentence(2.48, 60.9).endswith("not reached: energy 2.48 meV/atom is 3.5x its limit; "
                                              "force 60.9 meV/Å is 2.4x its limit")
    assert gate_sentence(0.45, 20.9).endswith(": pass (test EpA-MAE 0.450 meV/atom, Force MAE 20.90 meV/Å)")
    assert gate_sentence().endswith(": not evaluated (no complete training)")
