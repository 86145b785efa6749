"""validation.md: the verdict, a table of every check that ran, then each check's section (checks.py)."""
from pathlib import Path

from .accuracy import gate_sentence
from .checks import CHECKS
from .verdict import verdict_sentence


def render_markdown(report: dict) -> str:
    flags = report["flags"]
    lines = [f"# Validation of {Path(report['model']).name}", "", *verdict_lines(report), ""]
    lines += ["| check | result | measured | allowed |", "| --- | --- | --- | --- |"]
    for check in CHECKS:
        summary = check.summary(report[check.section]) if check.section in report else None
        if summary:
            lines.append(f"| {check.flag} | {flags.get(check.flag) or 'not run'} | {summary[0]} | {summary[1]} |")
    for check in CHECKS:
        if check.section in report:
            lines += ["", *check.details(report[check.section], report)]
    return "\n".join(lines) + "\n"


def verdict_lines(report: dict) -> list:
    """The physics verdict, then the seed's accuracy gate (not a physics check), each the sentence every renderer
    prints."""
    gate = report.get("accuracy_gate")
    return [f"**{verdict_sentence(report['flags'])}**", "",
            gate_sentence(gate["test_epa_mae_mev"], gate["test_force_mae_mev_per_a"]) if gate
            else gate_sentence(missing="no --training-summary given")]
