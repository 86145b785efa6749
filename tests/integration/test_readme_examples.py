"""The library examples of docs/library.md run as written (in a scratch folder: their runs go to ./runs)."""
import csv
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO, child_env

pytestmark = [pytest.mark.slow, pytest.mark.mpi]


def readme_example(name):
    text = (REPO / "docs" / "library.md").read_text()
    match = re.search(rf"<!-- example: {name} -->\n```python\n(.*?)```", text, re.S)
    assert match, f"docs/library.md has no example {name!r}"
    return match.group(1)


def run_example(name, tmp_path):
    script = tmp_path / f"{name}.py"
    script.write_text(readme_example(name))
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=child_env(), capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.mark.long(reason=(
    "a campaign driven from docs/library.md's example, about 1 minute; "
    "the CLI's campaign builds the same futures"
))
def test_embedding_example_runs_its_own_app_on_the_campaigns_futures(tmp_path):
    out = run_example("embed", tmp_path)
    measured = eval(out.strip().splitlines()[-1])  # {'md_z1_r1': 12.3, 'md_z1_r2': 15.6}
    assert set(measured) == {"md_z1_r1", "md_z1_r2"} and all(v > 0 for v in measured.values())
    assert list((tmp_path / "runs").glob("local-*/ours/md/md_z1_r2/log.lammps"))


@pytest.mark.long(reason=(
    'a whole campaign driven from the library, about 2 minutes; '
    'the embedding example runs the same futures'
))
def test_interactive_example_sees_futures_finish_and_collects_a_report(tmp_path):
    out = run_example("interactive", tmp_path)
    lines = out.splitlines()
    assert lines[0] == "{'md_z1_r1': False, 'md_z2_r1': False}"
    assert lines[1].startswith("epoch time ") and float(lines[1].split()[-1]) > 0
    finished = [line.split()[0] for line in lines if " exit code 0 log " in line]
    assert sorted(finished) == ["md_z1_r1", "md_z2_r1"]
    report = tmp_path / lines[-1].strip()
    assert report.name == "report.md" and "| ours | md_z2_r1 | throughput | 568 | 1 |" in report.read_text()
    # collect() validated the model as the CLI does: the flags are on every row, the report says the verdict
    assert (report.parent / "ours" / "validation" / "validation.md").is_file()
    rows = list(csv.DictReader(open(report.parent / "results.csv")))
    assert all(row["force_check"] in ("pass", "fail") and row["physics"] for row in rows)
    assert "Physics: not checked" not in report.read_text()
