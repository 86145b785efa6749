"""The contract every check of checks.CHECKS keeps, parametrised over all of them: a run that writes its section
(or a named sibling that does), a unique section and flag, and a summary row, a section of validation.md and its
results.csv numbers rendered from a real report (tests/fixtures/validation/validation.json)."""
import inspect
import json

import pytest

from mlmd_parsl.science.model.training_summary import TrainingSummary
from mlmd_parsl.science.validation.checks import CHECKS, FLAG_COLUMNS, CheckContext
from mlmd_parsl.science.validation.markdown import render_markdown
from mlmd_parsl.science.validation.verdict import validity_flags
from tests.conftest import REPO

RECORDED = json.loads((REPO / "tests" / "fixtures" / "validation" / "validation.json").read_text())
IDS = [check.section for check in CHECKS]


def test_sections_and_flags_are_unique():
    assert len({c.section for c in CHECKS}) == len(CHECKS) and len({c.flag for c in CHECKS}) == len(CHECKS)
    assert len(set(FLAG_COLUMNS)) == len(FLAG_COLUMNS)


@pytest.mark.parametrize("check", CHECKS, ids=IDS)
def test_each_check_runs_itself_or_names_the_check_that_writes_it(check):
    if check.run is None:
        writers = [c.section for c in CHECKS if check.section in c.also_writes]
        assert len(writers) == 1, f"{check.section}: no run and written by {writers}"
    else:
        assert len(inspect.signature(check.run).parameters) == 1, check.run  # run(context)


@pytest.mark.parametrize("check", CHECKS, ids=IDS)
def test_each_check_renders_its_recorded_section(check):
    assert check.section in RECORDED, f"the fixture lacks {check.section}: remake it (its README says how)"
    section = RECORDED[check.section]
    assert check.flag_of(RECORDED) == ("pass" if section["ok"] else "fail") == RECORDED["flags"][check.flag]
    summary = check.summary(section)
    assert summary is None or (len(summary) == 2 and all(isinstance(s, str) and s for s in summary))
    details = check.details(section, RECORDED)
    assert details[0].startswith("## ") and all(isinstance(line, str) for line in details)
    for column, text in check.numbers.items():
        assert text(section) == RECORDED["flags"][column]
    markdown = render_markdown(RECORDED)
    assert details[0] in markdown.splitlines()
    if summary:
        assert f"| {check.flag} | {RECORDED['flags'][check.flag]} | {summary[0]} | {summary[1]} |" in markdown


@pytest.mark.parametrize("check", CHECKS, ids=IDS)
def test_a_check_missing_from_a_report_is_not_run_not_passed(check):
    flags = validity_flags({k: v for k, v in RECORDED.items() if k != check.section})
    assert flags[check.flag] == "" and all(flags[column] == "" for column in check.numbers)


def test_checks_that_need_an_input_write_nothing_without_it_and_the_gate_runs_on_a_summary(tmp_path):
    bare = CheckContext("model.pt", "box.data", tmp_path)
    by_section = {c.section: c for c in CHECKS}
    assert by_section["accuracy_gate"].run(bare) == {} and by_section["cross_engine"].run(bare) == {}
    summary = TrainingSummary.from_json({"dataset": "ag.xyz", "dataset_label": "real", "epochs": 1,
                                         "epoch_time_s": 1.0,  # the force error exactly at its limit:
                                         "metrics": {"test": {"EpA-MAE": 0.69, "ForceMAE": 25.0}}})
    gate = by_section["accuracy_gate"].run(CheckContext("model.pt", "box.data", tmp_path, training=summary))
    assert gate == {"accuracy_gate": {"test_epa_mae_mev": 0.69, "test_force_mae_mev_per_a": 25.0, "ok": False}}
