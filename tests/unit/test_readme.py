"""The README's quick start is the contract with a newcomer: two commands, and CI runs the second."""
import re

from tests.conftest import REPO


def quick_start_commands():
    text = (REPO / "README.md").read_text()
    section = text.split("## Quick start", 1)[1]
    block = re.search(r"```(?:bash)?\n(.*?)```", section, re.S).group(1)
    return [line.strip() for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_quick_start_has_exactly_two_commands_run_then_test():
    run, test = quick_start_commands()
    assert "python -m mlmd_parsl --site local" in run and "scripts/bootstrap.sh" in run
    assert "pytest" in test and "scripts/bootstrap.sh" in test


def test_ci_runs_the_readme_test_command():
    _, test = quick_start_commands()
    ci = (REPO / ".ci" / "run").read_text()
    assert test in ci.splitlines()


def test_bootstrap_installs_the_cpu_torch_from_disk_before_the_package():
    script = (REPO / "scripts" / "bootstrap.sh").read_text()
    assert "torch==2.13.0" in script
    assert script.index('install --quiet "$TORCH_SPEC"') < script.index('install --quiet -e ".[test]"')
