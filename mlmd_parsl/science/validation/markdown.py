"""validation.md: the verdict, a table of every check that ran, then each check's section (checks.py)."""
from pathlib import Path

from .checks import CHECKS, PHYSICS_CHECKS
from .verdict import physics_verdict, what_the_model_does


def render_markdown(report: dict) -> str:
    flags = report["flags"]
    lines = [f"# Validation of {Path(report['model']).name}", "", verdict_line(flags), ""]
    lines += ["| check | result | measured | allowed |", "| --- | --- | --- | --- |"]
    for check in CHECKS:
        summary = check.summary(report[check.section]) if check.section in report else None
        if summary:
            lines.append(f"| {check.flag} | {flags.get(check.flag) or 'not run'} | {summary[0]} | {summary[1]} |")
    for check in CHECKS:
        if check.section in report:
            lines += ["", *check.details(report[check.section], report)]
    return "\n".join(lines) + "\n"


def verdict_line(flags: dict) -> str:
    verdict = physics_verdict(flags)
    if verdict == "unphysical":
        return ("**Verdict: UNPHYSICAL: this model failed a physics check below; every MD throughput measured "
                "with it is measured on a broken simulation.**" + what_the_model_does(flags))
    if verdict == "physical":
        not_run = [k for k in PHYSICS_CHECKS if not flags.get(k)]
        return (f"**Verdict: physical: every physics check that ran passed** "
                f"({len(PHYSICS_CHECKS) - len(not_run)} passed"
                + (f", not run: {', '.join(not_run)}" if not_run else "")
                + f"; the accuracy gate, not a physics check: {flags.get('accuracy_gate') or 'not run'}).")
    return "**Verdict: no physics check ran.**"
