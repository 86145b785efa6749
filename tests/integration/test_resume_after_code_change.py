"""--resume after the source changed: what that source computes is recomputed, nothing else.

Runs the real CLI from a copy of the package (PYTHONPATH), edits the copy between runs."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlmd_parsl.orchestration.code_digest import PACKAGE_DIR
from tests.conftest import child_env

HERE = Path(__file__).resolve().parent
pytestmark = [pytest.mark.slow, pytest.mark.mpi]

REPORT_EDIT = '''

_written_by = write_report


def write_report(*args, **kwargs):
    path = _written_by(*args, **kwargs)
    path.write_text(path.read_text() + "EDITED REPORT CODE\\n")
    return path
'''


@pytest.mark.long(reason=(
    'two campaigns around a source change, about 2 minutes; '
    "the unit tests of content keys cover what each task's key follows"
))
def test_resume_recomputes_what_the_changed_source_produces_and_nothing_else(tmp_path):
    root = tmp_path / "checkout"
    shutil.copytree(PACKAGE_DIR, root / "mlmd_parsl", ignore=shutil.ignore_patterns("__pycache__"))
    env = child_env(PYTHONPATH=str(root))
    args = [sys.executable, "-m", "mlmd_parsl", "--site", str(HERE / "tiny_site.yaml"), "--set",
            f"runs_dir={tmp_path / 'runs'}", "--set", "validation.enabled=false", "--set", "md.zreps=[1]",
            "--set", "md.ranks=[1]"]

    def run(*extra):
        done = subprocess.run(args + list(extra), cwd=root, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        return done.stdout

    run()
    (run_dir,) = (tmp_path / "runs").glob("tiny-*")
    assert f'"package_dir": "{root / "mlmd_parsl"}"' in (run_dir / "manifest.json").read_text()  # ran the copy
    log = run_dir / "ours" / "md" / "md_z1_r1" / "log.lammps"
    state = run_dir / "ours" / "train" / "network_state.pt"
    first_md, first_training = log.stat().st_mtime_ns, state.stat().st_mtime_ns

    # a change to the engine's code: the MD case reruns, the training and export are reused
    engine = root / "mlmd_parsl" / "science" / "embedded" / "pairs.py"
    engine.write_text(engine.read_text() + "\nRESUME_TEST_MARKER = 1\n")
    out = run("--resume", str(run_dir))
    assert "training: done (reused)" in out and "export: done (reused)" in out
    assert "md_z1_r1: done (reused)" not in out and "md_z1_r1: done" in out
    assert log.stat().st_mtime_ns != first_md and state.stat().st_mtime_ns == first_training
    second_md = log.stat().st_mtime_ns

    # a change to the report's code: every task is reused, the report is rewritten by the new code
    report = root / "mlmd_parsl" / "science" / "reporting" / "report_md.py"
    report.write_text(report.read_text() + REPORT_EDIT)
    out = run("--resume", str(run_dir))
    assert "training: done (reused)" in out and "ours/md_z1_r1: done (reused)" in out
    assert log.stat().st_mtime_ns == second_md
    assert (run_dir / "report.md").read_text().endswith("EDITED REPORT CODE\n")
