"""Faults injected into real runs: a worker killed mid-MD, LAMMPS crashing, SIGTERM, corrupted outputs.
Each test says what survived and asserts that nothing finished was lost or silently reused."""
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, child_env

HERE = Path(__file__).resolve().parent
TINY = str(REPO / "tests" / "integration" / "tiny_site.yaml")
pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.mpi]


# The case a test kills mid-MD: once its log shows stage 2, 110 steps remain. At 284 atoms the faster engine
# (11-27) ran them in about half a second, a window the 0.2 s polling could miss; 4,544 atoms take seconds.
MID_MD_ZREP = 16
MID_MD_ATOMS = 284 * MID_MD_ZREP


def start(tmp_path, *overrides):
    args = [sys.executable, "-m", "mlmd_parsl", "--site", TINY, "--set", f"runs_dir={tmp_path}",
            "--set", "validation.enabled=false", "--progress-every", "5"]
    for override in overrides:
        args += ["--set", override]
    return args, subprocess.Popen(args, cwd=REPO, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)


def processes():
    """{pid: (ppid, cmdline)} of every process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                table[int(entry.name)] = (ppid, (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except (OSError, IndexError, ValueError):
                continue
    return table


def wait_for_md_process(run_root: Path, case: str, timeout=600):
    """PID of the engine running `case` once its log shows MD under way. The case's command line also appears in
    the processes that wrap the engine (Parsl's shell, `timeout`, `bash -c`): the engine is the one of them with no
    descendant among them (killing a wrapper would orphan the engine, not crash it: CI saw the orphan finish its
    log after the campaign had reported the case crashed)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        table = processes()
        running = {pid for pid, (_, cmd) in table.items()
                   if "mlmd_parsl.md" in cmd and f"/md/{case}/" in cmd and str(run_root) in cmd}
        engines = [pid for pid in running if not running.intersection(descendants(pid, table))]
        logs = list(run_root.glob(f"*/ours/md/{case}/log.lammps"))
        if engines and logs and "MLMD_STAGE nvt_5fs" in logs[0].read_text(errors="replace"):
            return min(engines)  # with several ranks: one of them
        time.sleep(0.2)
    raise AssertionError(f"{case} never started")


def table_cmd(pid):
    return processes().get(pid, (0, ""))[1]


def descendants(pid, table):
    children = [p for p, (ppid, _) in table.items() if ppid == pid]
    return children + [d for c in children for d in descendants(c, table)]


def rows_of(run_dir):
    return {r["task"]: r for r in csv.DictReader((run_dir / "results.csv").open())}


@pytest.fixture(scope="module")
def survived_worker_kill(tmp_path_factory):
    """A campaign whose MPI worker is killed (with the MD it runs) mid-case; Parsl retries the case."""
    root = tmp_path_factory.mktemp("killed")
    args, proc = start(root, f"md.zreps=[{MID_MD_ZREP}]", "md.ranks=[1, 2]", "retries.md=1")
    try:
        md_pid = wait_for_md_process(root, f"md_z{MID_MD_ZREP}_r2")
        table = processes()
        worker = md_pid
        while "spawn_main" not in table[worker][1]:  # up to the Parsl worker that runs the bash app
            worker = table[worker][0]
        for pid in [worker] + descendants(worker, table):  # the worker and everything it started dies
            os.kill(pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=900)
    finally:
        proc.kill()
    return args, proc.returncode, out, err, next(root.glob("tiny-*"))


@pytest.mark.long(reason=(
    "a campaign whose MPI worker is killed mid-MD, then its resume over a truncated log, about 6 minutes; "
    "the SIGTERM and LAMMPS-crash tests cover a lost case and the rerun"
))
def test_killed_worker_is_retried_and_the_campaign_completes(survived_worker_kill):
    _, returncode, out, err, run_dir = survived_worker_kill
    assert returncode == 0, out[-3000:] + err[-3000:]
    rows = rows_of(run_dir)
    assert rows[f"md_z{MID_MD_ZREP}_r2"]["status"] == "ok" and rows[f"md_z{MID_MD_ZREP}_r2"]["ranks"] == "2"
    assert rows[f"md_z{MID_MD_ZREP}_r1"]["status"] == "ok"
    parsl_log = next((run_dir / "parsl").rglob("parsl.log")).read_text()
    assert "WorkerLost" in parsl_log or "ManagerLost" in parsl_log  # the kill was seen, then retried


@pytest.mark.long(reason=(
    "a campaign whose MPI worker is killed mid-MD, then its resume over a truncated log, about 6 minutes; "
    "the SIGTERM and LAMMPS-crash tests cover a lost case and the rerun"
))
def test_truncated_log_and_corrupt_record_are_redone_never_reused(survived_worker_kill):
    args, _, _, _, run_dir = survived_worker_kill
    log = run_dir / "ours" / "md" / f"md_z{MID_MD_ZREP}_r1" / "log.lammps"
    log.write_text(log.read_text()[: len(log.read_text()) // 2])  # a partial log behind a 'done' record
    (run_dir / "ours" / "md" / f"md_z{MID_MD_ZREP}_r2" / "done-md.json").write_text("{not json")
    kept = (run_dir / "ours" / "train" / "network_state.pt").stat().st_mtime_ns
    result = subprocess.run(args + ["--resume", str(run_dir)], cwd=REPO, env=child_env(), capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "training: done (reused)" in result.stdout
    for case in (f"md_z{MID_MD_ZREP}_r1", f"md_z{MID_MD_ZREP}_r2"):
        assert f"{case}: done - {MID_MD_ATOMS} atoms" in result.stdout and f"{case}: done (reused)" not in result.stdout
    assert (run_dir / "ours" / "train" / "network_state.pt").stat().st_mtime_ns == kept
    assert all(r["status"] == "ok" for r in rows_of(run_dir).values())


def test_lammps_crash_is_a_failed_row_with_command_and_log_tail_and_other_cases_finish(tmp_path):
    _, proc = start(tmp_path, f"md.zreps=[{MID_MD_ZREP}, 2]", "md.ranks=[1]", "retries.md=0")
    crashing = f"md_z{MID_MD_ZREP}_r1"
    try:
        md_pid = wait_for_md_process(tmp_path, crashing)
        # while it runs: the Parsl interchanges listen on loopback only (security, issue 5)
        interchanges = [pid for pid, (_, cmd) in processes().items()
                        if "HTEX interchange" in cmd and proc.pid in _ancestors(pid)]
        listening = [address for pid in interchanges for address in _listening_addresses(pid)]
        assert table_cmd(md_pid).split()[1:3] == ["-m", "mlmd_parsl.md"], table_cmd(md_pid)  # the engine itself
        os.kill(md_pid, signal.SIGSEGV)
        out, err = proc.communicate(timeout=900)
    finally:
        proc.kill()
    time.sleep(2)
    alive = [cmd for _, cmd in processes().values() if str(tmp_path) in cmd]
    assert alive == [], f"processes of the crashed run are still alive: {alive}"
    assert len(interchanges) == 2 and listening, (interchanges, listening)
    assert all(address.startswith("127.0.0.1:") for address in listening), listening
    assert len(list(tmp_path.glob("tiny-*/parsl/*/*/certificates/server.key"))) == 2  # both encrypted
    assert proc.returncode == 1, out[-3000:] + err[-3000:]
    rows = rows_of(next(tmp_path.glob("tiny-*")))
    crashed = rows[crashing]
    assert crashed["status"] == "failed"
    for fragment in (f"{crashing} (replicate 2 2 {MID_MD_ZREP}, 1 rank(s)) failed", "after 1 attempt(s)",
                     "command: cd ",
                     "-m mlmd_parsl.md", "run directory: ", "log tail: "):
        assert fragment in crashed["error"], crashed["error"]
    log = (next(tmp_path.glob("tiny-*")) / crashed["log"]).read_text()
    last_line = [line.strip() for line in log.splitlines() if line.strip()][-1]
    assert crashed["error"].endswith(last_line)  # the log's last lines travel with the failure
    assert "[crashed]" in crashed["error"]  # SIGSEGV: classified, so a retry policy could treat it apart
    assert rows["md_z2_r1"]["status"] == "ok" and rows["train"]["status"] == "ok"
    assert f"{crashing}: failed: {crashing} (replicate" in out


def test_sigterm_shuts_down_cleanly_and_the_rerun_resumes(tmp_path):
    args, proc = start(tmp_path, f"md.zreps=[1, {MID_MD_ZREP}]", "md.ranks=[1]")
    wait_for_md_process(tmp_path, f"md_z{MID_MD_ZREP}_r1")  # mid-MD: training done, the engine running
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 143, err[-3000:]
    run_dir = next(tmp_path.glob("tiny-*"))
    assert "terminated (SIGTERM); finished tasks are kept" in err and f"--resume {run_dir}" in err
    assert "Traceback" not in err
    time.sleep(2)
    alive = [pid for pid, (_, cmd) in processes().items() if str(run_dir) in cmd or str(tmp_path) in cmd]
    assert alive == [], "processes of the terminated run are still alive"
    done = {p.parent.name: p.parent.joinpath("log.lammps").stat().st_mtime_ns
            for p in run_dir.glob("ours/md/*/done-md.json")}
    kept = (run_dir / "ours" / "train" / "network_state.pt").stat().st_mtime_ns
    result = subprocess.run(args + ["--resume", str(run_dir)], cwd=REPO, env=child_env(), capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "training: done (reused)" in result.stdout
    assert (run_dir / "ours" / "train" / "network_state.pt").stat().st_mtime_ns == kept
    # the case SIGTERM cut short runs again
    assert f"md_z{MID_MD_ZREP}_r1: done - {MID_MD_ATOMS} atoms" in result.stdout
    for name, mtime in done.items():
        assert f"{name}: done (reused)" in result.stdout
        assert (run_dir / "ours" / "md" / name / "log.lammps").stat().st_mtime_ns == mtime


def _ancestors(pid):
    table, chain = processes(), []
    while pid in table and pid > 1:
        pid = table[pid][0]
        chain.append(pid)
    return chain


def _listening_addresses(pid):
    """'address:port' of the TCP sockets (IPv4 and IPv6) that process `pid` listens on, from /proc/net."""
    import ipaddress

    try:
        inodes = {os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1] for fd in os.listdir(f"/proc/{pid}/fd")
                  if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:[")}
        lines = [line for name in ("tcp", "tcp6")
                 for line in Path(f"/proc/{pid}/net/{name}").read_text().splitlines()[1:]]
    except OSError:
        return []
    out = []
    for line in lines:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "0A" and inode in inodes:  # LISTEN
            ip_hex, port_hex = local.split(":")
            # /proc prints each 32-bit word of the address in host (little-endian) order
            raw = b"".join(bytes.fromhex(ip_hex[i:i + 8])[::-1] for i in range(0, len(ip_hex), 8))
            ip = ipaddress.ip_address(raw)
            ip = getattr(ip, "ipv4_mapped", None) or ip
            out.append(f"{ip}:{int(port_hex, 16)}")
    return out


def test_sighup_during_training_shuts_down_like_sigterm_and_leaves_no_process(tmp_path):
    """A closed terminal or ssh session: the same clean shutdown, exit 129."""
    _, proc = start(tmp_path, "md.ranks=[1]", "md.zreps=[1]")
    deadline = time.time() + 300
    while time.time() < deadline and not list(tmp_path.glob("tiny-*/ours/train/training_log.txt")):
        time.sleep(0.2)  # training under way: Parsl, its interchanges and workers all started
    proc.send_signal(signal.SIGHUP)
    out, err = proc.communicate(timeout=120)
    run_dir = next(tmp_path.glob("tiny-*"))
    assert proc.returncode == 129, err[-3000:]
    assert "terminated (SIGHUP); finished tasks are kept" in err and "Traceback" not in err
    time.sleep(2)
    alive = [pid for pid, (_, cmd) in processes().items() if str(run_dir) in cmd or str(tmp_path) in cmd]
    assert alive == [], "processes of the terminated run are still alive"


def test_a_clean_up_that_hangs_is_abandoned_with_every_process_the_driver_started(tmp_path):
    """cleanup_within: past its deadline the driver cancels the scheduler jobs of its blocks that have not ended
    (else a Slurm block keeps its nodes until its walltime), ends its descendants and exits with the code it was
    given."""
    script = tmp_path / "hang.py"
    marker = tmp_path / "child.pid"
    cancelled = tmp_path / "cancelled.txt"
    script.write_text(
        "import subprocess, time\n"
        "from parsl.jobs.states import JobState, JobStatus\n"
        "from mlmd_parsl.orchestration.shutdown import cleanup_within\n"
        "class Provider:  # what a SlurmProvider keeps of its jobs, and its scancel\n"
        "    resources = {'10': {'status': JobStatus(JobState.COMPLETED)},\n"
        "                 '11': {'status': JobStatus(JobState.RUNNING)},\n"
        "                 '12': {'status': JobStatus(JobState.PENDING)}}\n"
        f"    def cancel(self, jobs): open({str(cancelled)!r}, 'w').write(' '.join(jobs))\n"
        "class Executor:\n"
        "    label, provider = 'mpi', Provider()\n"
        "class DataFlowKernel:\n"
        "    executors = {'mpi': Executor()}\n"
        "child = subprocess.Popen(['sleep', '300'])\n"
        f"open({str(marker)!r}, 'w').write(str(child.pid))\n"
        "cleanup_within(lambda: time.sleep(300), 143, deadline_s=1.0, dfk=DataFlowKernel())\n")
    started = time.time()
    result = subprocess.run([sys.executable, str(script)], cwd=REPO, env=child_env(), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 143 and time.time() - started < 30, result.stderr
    assert "clean-up did not end within 1 s; ending its processes" in result.stderr
    assert int(marker.read_text()) not in processes()  # the child sleep was ended, not orphaned
    assert cancelled.read_text() == "11 12"  # the running and the queued block, not the one that had ended


def test_a_campaign_whose_workers_never_start_stops_naming_the_executor_and_leaves_nothing_behind(tmp_path):
    """worker_init hangs (a worker that cannot start; a failing one Parsl itself reports): no worker pool ever
    connects and no block is queued. Without the watch the campaign printed '0/N done, 1 running or queued' for
    ever."""
    args = [sys.executable, "-m", "mlmd_parsl", "--site", TINY, "--set", f"runs_dir={tmp_path}", "--progress-every",
            "2", "--set", "provider.worker_init=sleep 600", "--set", "provider.worker_start_timeout_s=10"]
    started = time.time()
    result = subprocess.run(args, cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr[-3000:]
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "executor cpu: no worker connected in 10 s while" in error[0], result.stderr[-2000:]
    assert "task(s) waited and no block was queued (block 0: RUNNING)" in error[0]
    assert "submit_scripts" in error[0] and "Traceback" not in result.stderr and time.time() - started < 240
    time.sleep(2)
    alive = [pid for pid, (_, cmd) in processes().items() if str(tmp_path) in cmd]
    assert alive == [], "processes of the stopped run are still alive"
