"""Collection turns every task into a row: finished, killed and crashed MD cases alike."""
import shutil
from dataclasses import replace

from mlmd_parsl.orchestration.cases import CaseOutcome, DivisionOutcome, MDCase
from mlmd_parsl.orchestration.tasks import collect_results
from mlmd_parsl.science.choices import Division
from mlmd_parsl.science.model.training_summary import TrainingSummary
from mlmd_parsl.science.reporting.results import COLUMNS, read_results
from tests.conftest import FIXTURES

TRAINING = {
    "dataset_label": "synthetic",
    "log": "train/model_results.txt",
    "summary": TrainingSummary.from_json({"dataset": "ag.xyz", "dataset_label": "synthetic", "epoch_time_s": 0.25,
                                          "epochs": 7, "metrics": {"test": {"EpA-MAE": 0.45, "ForceMAE": 20.9}}}),
}


def case(tmp_path, name, fixture, error="", division=Division.OURS, deviations=("engine embedded",)):
    md_case = MDCase(task=name, sweep="throughput", replicate=(2, 2, 1), ranks=1, packed=False, profile="quick",
                     engine="embedded", model_device="cpu", dtype="float32", run_dir=str(tmp_path / str(division)),
                     division=division, deviations=deviations)
    md_case.dir.mkdir(parents=True)
    shutil.copy(FIXTURES / "logs" / fixture, md_case.log)
    return CaseOutcome(md_case, error=error)


def ours(training, outcomes, validation=None):
    return [DivisionOutcome(Division.OURS, training, ("trainer lean",), outcomes, validation)]


def test_failed_and_killed_cases_are_rows_with_status_and_log(tmp_path):
    cases = [
        case(tmp_path, "ok_case", "eam_quick_284atoms_1rank.log"),
        case(tmp_path, "killed_case", "eam_ats5_killed.log", error="BashExitFailure: exited with 137"),
        case(tmp_path, "crashed_case", "eam_input_error.log", error="BashExitFailure: exited with 1"),
    ]
    collected = collect_results(str(tmp_path), ours(TRAINING, cases), "test")
    rows = read_results(tmp_path / "results.csv")
    assert list(rows[0]) == COLUMNS
    by_task = {r["task"]: r for r in rows}
    assert by_task["train"]["epoch_time_s"] == 0.25 and by_task["train"]["test_epa_mae_mev"] == 0.45
    assert "0.250000" in (tmp_path / "results.csv").read_text()  # formatted only in the file
    assert by_task["ok_case"]["status"] == "ok" and float(by_task["ok_case"]["katom_step_s"]) == 625.759
    for name, message in (("killed_case", "exited with 137"), ("crashed_case", "exited with 1")):
        row = by_task[name]
        assert row["status"] == "failed" and row["katom_step_s"] is None and message in row["error"]
        assert row["log"].endswith(f"md/{name}/log.lammps")
    assert (tmp_path / "throughput.png").stat().st_size > 10_000
    assert collected["results"] == str(tmp_path / "results.csv")


def test_training_failure_is_a_row_too(tmp_path):
    training = {"dataset_label": "synthetic", "log": "train/model_results.txt", "error": "RuntimeError: out of memory"}
    collect_results(str(tmp_path),
                    ours(training, [case(tmp_path, "never_ran", "eam_ats5_killed.log", "DependencyError")]),
                    "t")
    rows = read_results(tmp_path / "results.csv")
    assert rows[0]["status"] == "failed" and "out of memory" in rows[0]["error"]
    assert rows[1]["status"] == "failed" and "DependencyError" in rows[1]["error"]


def test_md_rows_of_a_model_that_failed_a_physics_check_say_unphysical_everywhere(tmp_path):
    from mlmd_parsl.science.reporting.console_summary import print_summary

    flags = {"accuracy_gate": "fail", "force_check": "pass", "pressure_check": "pass", "rank_invariance": "pass",
             "nve_check": "pass", "md_5fs_check": "fail", "closest_approach_a": "0.031", "fused_at_ps": "3.8",
             "wall_check": "fail", "wall_barrier_ev": "1.210", "oracle_check": "fail"}
    training = {**TRAINING, "summary": replace(TRAINING["summary"], trainer="lean")}
    collected = collect_results(str(tmp_path),
                                ours(training, [case(tmp_path, "md_z1_r1", "eam_quick_284atoms_1rank.log")],
                                                    {"flags": flags, "report": "validation/validation.md"}), "test")
    rows = {r["task"]: r for r in read_results(tmp_path / "results.csv")}
    assert rows["md_z1_r1"]["status"] == "ok" and rows["md_z1_r1"]["physics"] == "unphysical"
    assert rows["train"]["trainer"] == "lean" and rows["md_z1_r1"]["closest_approach_a"] == "0.031"
    report = (tmp_path / "report.md").read_text()
    assert "UNPHYSICAL: 1 MD case(s)" in report and "| ours | md_z1_r1 |" in report
    assert "UNPHYSICAL" in next(line for line in report.splitlines() if line.startswith("| ours | md_z1_r1 |"))
    assert "Training (FOM 1) by the `lean` trainer" in report
    printed = []
    print_summary(collected, tmp_path, out=printed.append)
    assert any("md_z1_r1" in line and line.endswith("UNPHYSICAL") for line in printed)
    verdict = next(line for line in printed if line.startswith("[ours] Physics: UNPHYSICAL: the model failed "
                                                                "wall_check, md_5fs_check, oracle_check"))
    fused = "two atoms came closer than 2 Å 3.8 ps into the run (closest approach 0.031 Å): the model lets atoms fuse"
    wall = "Its repulsive wall between two atoms is 1.210 eV high"
    assert fused in verdict and wall in verdict and fused in report and wall in report

    flags.update(md_5fs_check="pass", oracle_check="pass", wall_check="pass", closest_approach_a="2.301",
                 fused_at_ps="",
                 wall_barrier_ev="3.244")
    collected = collect_results(str(tmp_path),
                                ours(training, [case(tmp_path, "md_z1_r2", "eam_quick_284atoms_1rank.log")],
                                                    {"flags": flags, "report": "validation/validation.md"}), "test")
    assert {r["physics"] for r in read_results(tmp_path / "results.csv")} == {"physical"}
    assert "UNPHYSICAL" not in (tmp_path / "report.md").read_text()
    printed = []
    print_summary(collected, tmp_path, out=printed.append)
    assert any(line.startswith("[ours] Physics: physical: the model passed every physics check") for line in printed)


def test_the_summary_says_whether_the_seeds_accuracy_gate_is_reached_and_by_how_much():
    from mlmd_parsl.science.validation.accuracy import gate_sentence_of_row as accuracy_gate_line

    row = {"test_epa_mae_mev": 2.48, "test_force_mae_mev_per_a": 60.9, "dataset": "synthetic", "epochs": 800}
    line = accuracy_gate_line(row)
    assert line.startswith("Accuracy gate (the seed's: test EpA-MAE < 0.7 meV/atom and Force MAE < 25 meV/Å): "
                           "not reached")
    assert "energy 2.48 meV/atom is 3.5x its limit; force 60.9 meV/Å is 2.4x its limit" in line and "800 epochs" in line
    line = accuracy_gate_line({**row, "test_epa_mae_mev": 0.45})
    assert "energy" not in line.split("not reached")[1] and "force 60.9" in line
    passed = accuracy_gate_line({**row, "test_epa_mae_mev": 0.45, "test_force_mae_mev_per_a": 20.9})
    assert ": pass (test EpA-MAE 0.450 meV/atom, Force MAE 20.90 meV/Å)" in passed


def test_two_divisions_give_rows_of_each_with_their_labels_verdicts_and_no_ratio_between_them(tmp_path):
    """The seed division's rows beside ours': each row says its division and deviations, each division's rows
    carry its own model's flags, the seed's published numbers are set only beside seed rows of the same kind of
    case, and nothing compares one division with the other."""
    from mlmd_parsl.science.reporting.console_summary import print_summary
    from mlmd_parsl.science.seed_procedure import FORCED

    seed_flags = {"force_check": "pass", "wall_check": "fail", "accuracy_gate": "fail"}
    ours_flags = {"force_check": "pass", "wall_check": "pass", "accuracy_gate": "fail"}
    seed_case = case(tmp_path, "md_z2_r1", "eam_quick_284atoms_1rank.log", division=Division.SEED,
                     deviations=(f"{FORCED}-pk kokkos newton on neigh half",))
    divisions = [
        DivisionOutcome(Division.SEED, {**TRAINING, "summary": replace(TRAINING["summary"], trainer="hippynn")}, (),
                        [seed_case], {"flags": seed_flags}),
        DivisionOutcome(Division.OURS, TRAINING, ("trainer lean: our loop",),
                        [case(tmp_path, "md_z2_r1", "eam_quick_284atoms_1rank.log")], {"flags": ours_flags}),
    ]
    collected = collect_results(str(tmp_path), divisions, "test")
    rows = read_results(tmp_path / "results.csv")
    assert [(r["division"], r["task"]) for r in rows] == [("seed", "train"), ("seed", "md_z2_r1"), ("ours", "train"),
                                                          ("ours", "md_z2_r1")]
    assert [r["physics"] for r in rows] == ["unphysical", "unphysical", "physical", "physical"]
    assert rows[1]["deviations"].startswith(FORCED) and rows[3]["deviations"] == "engine embedded"
    report = (tmp_path / "report.md").read_text()
    assert "## Division seed" in report and "## Division ours" in report
    assert "Differs from the seed's work in: trainer lean: our loop; engine embedded." in report
    ours_row = next(line for line in report.splitlines() if line.startswith("| ours | md_z2_r1 |")).split("|")
    assert ours_row[8].strip() == "" and ours_row[9].strip() == ""  # no seed number, no x seed for ours
    printed = []
    print_summary(collected, tmp_path, out=printed.append)
    assert any(line.startswith("[seed] Training") for line in printed) and any(
        line.startswith("[ours] Training") for line in printed)
    assert any(line.startswith("seed      md_z2_r1") for line in printed)
    assert any(line.startswith("[seed] Physics: UNPHYSICAL") for line in printed)
    assert any(line.startswith("[ours] Physics: physical: the model passed") for line in printed)


def test_an_unreadable_baseline_is_left_out_and_the_run_keeps_its_report(tmp_path, capsys):
    edited = tmp_path / "earlier" / "local-20260101-000000" / "results.csv"
    edited.parent.mkdir(parents=True)
    edited.write_text("task,kind,status,katom_step_s\nmd_z1_r1,md,ok,fast\n")
    run = tmp_path / "run"
    collect_results(str(run), ours(TRAINING, [case(run, "md_z1_r1", "eam_quick_284atoms_1rank.log")]), "test",
                    baselines=[str(edited)])
    assert (run / "report.md").is_file() and read_results(run / "results.csv")[1]["status"] == "ok"
    assert f"note: baseline left out: {edited}:2: not a results table" in capsys.readouterr().out


def test_the_summary_names_each_deviation_once_though_cases_of_a_division_differ(tmp_path):
    """Cases of several ranks carry the presizing deviation, one-rank cases do not: one line, each named once."""
    from mlmd_parsl.science.reporting.console_summary import print_summary
    from mlmd_parsl.orchestration.sweeps import PRESIZE_DEVIATION

    profile = "profile quick: the seed's stages in 180 steps"
    cases = [case(tmp_path, "md_z1_r1", "eam_quick_284atoms_1rank.log", deviations=(profile,)),
             case(tmp_path, "md_z1_r2", "eam_quick_284atoms_1rank.log", deviations=(profile, PRESIZE_DEVIATION))]
    collected = collect_results(str(tmp_path), ours(TRAINING, cases), "test")
    lines = []
    print_summary(collected, tmp_path, out=lines.append)
    (differs,) = [line for line in lines if "differs from the seed's work in" in line]
    assert differs.count(profile) == 1 and differs.count(PRESIZE_DEVIATION) == 1
