"""Ctrl-C mid-campaign: clean shutdown, and the rerun with --resume recomputes nothing that finished."""
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, child_env

HERE = Path(__file__).resolve().parent
pytestmark = [pytest.mark.slow, pytest.mark.mpi]


@pytest.mark.long(reason=(
    'a campaign interrupted and resumed, about 2 minutes; '
    'the SIGTERM fault test covers a signal and the rerun'
))
def test_interrupted_campaign_resumes_without_recomputing(tmp_path):
    # The interrupt lands while the second case (9,088 atoms, ~10 s of MD) runs, so the rerun must redo it.
    args = [sys.executable, "-m", "mlmd_parsl", "--site", str(HERE / "tiny_site.yaml"), "--set", f"runs_dir={tmp_path}",
            "--set", "validation.enabled=false", "--set", "md.zreps=[1, 32]", "--set", "md.ranks=[1]"]
    # A user's Ctrl-C: SIGINT at its default. A test run started in the background of a non-interactive shell
    # inherits SIGINT ignored, and Python keeps an inherited SIG_IGN, so the campaign would never see it.
    proc = subprocess.Popen(args, cwd=REPO, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 600
    done = []
    while time.time() < deadline and not done:
        done = list(tmp_path.glob("tiny-*/ours/md/*/done-md.json"))
        time.sleep(0.5)
    assert done, "no MD case finished in time"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err[-3000:]
    run_dir = done[0].parents[3]
    assert f"--resume {run_dir}" in err
    finished = {p.parent.name: p.parent.joinpath("log.lammps").stat().st_mtime_ns
                for p in run_dir.glob("ours/md/*/done-md.json")}
    leftovers = subprocess.run(["pgrep", "-f", str(run_dir)], capture_output=True, text=True).stdout.split()
    assert leftovers == [], "processes of the interrupted run are still alive"

    result = subprocess.run(args + ["--resume", str(run_dir)], cwd=REPO, env=child_env(), capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "training: done (reused)" in result.stdout
    for name, mtime in finished.items():
        assert f"ours/{name}: done (reused)" in result.stdout
        assert (run_dir / "ours" / "md" / name / "log.lammps").stat().st_mtime_ns == mtime
    assert len(list(run_dir.glob("ours/md/*/done-md.json"))) == 2
