"""Slurm across three "hosts" on this machine (scripts/local_slurm.sh start DIR --nodes 3: each slurmd in a network
and UTS namespace of its own on a private bridge): MPI over TCP between hosts, the chicoma-shaped weak-scaling
sweep through Parsl's MPIExecutor on a 3-node block, and a node lost mid-sweep. Placement and orchestration, not
speed: the nodes share this machine's two cores."""
import csv
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO, child_env, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.mpi, pytest.mark.slurm]
SCRIPT = REPO / "scripts" / "local_slurm.sh"
# MPICH's UCX on TCP over each node's eth0 only: shared memory would join ranks of different "hosts" (one kernel)
UCX_TCP = "export UCX_NET_DEVICES=eth0 UCX_TLS=tcp,self"


@pytest.fixture(scope="module")
def three_nodes(tmp_path_factory):
    if shutil.which("slurmctld", path="/usr/sbin:/usr/bin") is None:
        pytest.skip("Slurm is not installed (scripts/local_slurm.sh install; .ci/run does it)")
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("three Slurm nodes need root and iproute2 (network namespaces and a bridge)")
    state = tmp_path_factory.mktemp("slurm3")
    old = os.environ.get("SLURM_CONF")
    try:
        started = subprocess.run(["bash", str(SCRIPT), "start", str(state), "--nodes", "3"], capture_output=True,
                                 text=True, timeout=120)
        assert started.returncode == 0, started.stderr + "".join(
            p.read_text(errors="replace")[-1500:] for p in state.glob("slurm*.log"))
        os.environ["SLURM_CONF"] = str(state / "slurm.conf")
        yield state
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(state)], timeout=120)
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old


def _srun_hosts(extra_env):
    program = ("import socket; from mpi4py import MPI; c = MPI.COMM_WORLD; "
               "print(socket.gethostname(), c.rank, c.size, len(set(c.allgather(socket.gethostname()))), flush=True)")
    return subprocess.run(["srun", "-N", "3", "--ntasks-per-node", "2", f"--export=ALL,{extra_env}", sys.executable,
                           "-c", program], capture_output=True, text=True, timeout=120, env=child_env())


def test_mpi_ranks_on_three_hosts_talk_over_tcp(three_nodes):
    done = _srun_hosts("UCX_TLS=tcp,self,UCX_NET_DEVICES=eth0")
    assert done.returncode == 0, done.stderr[-2000:]
    rows = sorted(line.split() for line in done.stdout.splitlines() if line.strip())
    assert [int(r[1]) for r in rows] == list(range(6)) and {r[2] for r in rows} == {"6"}  # one world, not singletons
    assert {r[0] for r in rows} == {"mlmdnode1", "mlmdnode2", "mlmdnode3"} and {r[3] for r in rows} == {"3"}
    assert all(sum(r[0] == host for r in rows) == 2 for host in ("mlmdnode1", "mlmdnode2", "mlmdnode3"))
    # the hosts are apart: over each node's loopback alone, TCP cannot reach another node's ranks
    apart = _srun_hosts("UCX_TLS=tcp,self,UCX_NET_DEVICES=lo")
    assert apart.returncode != 0 and "unreachable" in apart.stdout + apart.stderr


def _scaled(bridge, tmp_path):
    """The chicoma site scaled to three nodes of this machine: 4 ranks per node (4 fake GPUs each), weak scaling
    on 1, 2 and 3 nodes of the MPI executor's 3-node block, the embedded engine on CPU models."""
    return ["--set", f"runs_dir={tmp_path}", "--set", "divisions=[ours]", "--set", "provider.partition=debug",
            "--set", f"provider.interface={bridge}", "--set", "provider.walltime=00:20:00",
            "--set", "provider.cores_per_node=4", "--set", "provider.gpus_per_node=4",
            "--set", "provider.nodes_per_block=3", "--set", "provider.exclusive=false",
            "--set", f"provider.worker_init={UCX_TCP}", "--set", 'provider.launcher_options=""',
            "--set", "dataset.path=null", "--set", "dataset.synthetic.frames=40", "--set", "training.max_epochs=3",
            "--set", "training.device=cpu", "--set", "md.engine=embedded", "--set", "md.kokkos=false",
            "--set", "md.mliap_model=hippynn", "--set", "md.profile=quick", "--set", "md.zreps=[1]",
            "--set", "md.model_device=cpu", "--set", "validation.enabled=false",
            "--set", "md.weak_scaling.nodes=[1,2,3]", "--set", "md.weak_scaling.block=[1,1,1]"]


def _rows(run_dir):
    return {r["task"]: r for r in csv.DictReader((run_dir / "results.csv").open())}


def _hosts(run_dir, case):
    ranks = json.loads((run_dir / "ours" / "md" / case / "placement.json").read_text())["ranks"]
    return [rank["host"] for rank in ranks]


@pytest.mark.long(reason="the chicoma-shaped weak-scaling sweep on three Slurm nodes, about 8 minutes on 2 cores")
def test_weak_scaling_sweep_runs_across_three_nodes_as_the_dry_run_planned(three_nodes, tmp_path):
    bridge = (three_nodes / "bridge").read_text().strip()
    args = ["mlmd_parsl", "--site", "chicoma", *_scaled(bridge, tmp_path)]
    plan = run_cli(args + ["--dry-run"], timeout=300, SLURM_CONF=os.environ["SLURM_CONF"])
    assert plan.returncode == 0, plan.stderr[-2000:]
    for ranks, nodes in ((4, 1), (8, 2), (12, 3)):
        node_list = ",".join(f"<node{k + 1}>" for k in range(nodes))
        assert f"srun --ntasks {ranks} --ntasks-per-node 4 --nodelist {node_list} --nodes {nodes}" in plan.stdout, \
            plan.stdout[-3000:]
    result = run_cli(args, timeout=1500, SLURM_CONF=os.environ["SLURM_CONF"])
    run_dir = next(tmp_path.glob("chicoma-*"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = _rows(run_dir)
    weak = {t: r for t, r in rows.items() if t.startswith("weak_")}
    assert sorted(weak) == ["weak_r12", "weak_r4", "weak_r8"] and all(r["status"] == "ok" for r in rows.values())
    for case, nodes in (("weak_r4", 1), ("weak_r8", 2), ("weak_r12", 3)):
        hosts = _hosts(run_dir, case)  # as each rank of the engine reported its host
        assert len(hosts) == 4 * nodes and len(set(hosts)) == nodes, (case, hosts)
        assert all(hosts.count(h) == 4 for h in set(hosts)) and set(hosts) <= {"mlmdnode1", "mlmdnode2", "mlmdnode3"}
        assert int(weak[case]["ranks"]) == 4 * nodes and float(weak[case]["katom_step_s"]) > 0
    report = (run_dir / "report.md").read_text()
    assert "weak_r12" in report and (run_dir / "weak_scaling.png").exists()


@pytest.mark.long(reason="a node lost mid-sweep, then the resume, about 10 minutes on 2 cores")
@pytest.mark.reliability
def test_a_node_lost_mid_sweep_fails_its_case_and_the_resume_reruns_only_what_is_missing(three_nodes, tmp_path):
    """Every process of node 3 killed while the 3-node case runs (its slurmd included: a lost host). The case
    fails (retries off), the campaign ends with the rows it has; with the node back, --resume reruns that case
    only."""
    bridge = (three_nodes / "bridge").read_text().strip()
    args = ["mlmd_parsl", "--site", "chicoma", *_scaled(bridge, tmp_path), "--set", "md.weak_scaling.nodes=[3]",
            "--set", "retries.md=0", "--set", "provider.heartbeat_threshold_s=20",
            "--set", "md.min_timesteps_per_s=0.05"]
    env = child_env(SLURM_CONF=os.environ["SLURM_CONF"])
    driver = subprocess.Popen([sys.executable, "-m", *args], cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        started = _wait_for(lambda: driver.poll() is not None or _running(tmp_path, "weak_r12"), 900)
        assert started and driver.poll() is None, "the 3-node case never ran: " + (driver.stdout.read() or "")[-3000:]
        killed = subprocess.run(["bash", str(SCRIPT), "kill-node", str(three_nodes), "3"], capture_output=True,
                                text=True, timeout=60)
        assert killed.returncode == 0, killed.stderr
        out, _ = driver.communicate(timeout=900)
    finally:
        if driver.poll() is None:
            driver.kill()
    run_dir = next(tmp_path.glob("chicoma-*"))
    rows = _rows(run_dir)
    assert driver.returncode == 1, out[-3000:]
    assert rows["train"]["status"] == "ok" and rows["weak_r12"]["status"] == "failed", rows
    assert not (run_dir / "ours" / "md" / "weak_r12" / "done-md.json").exists()

    subprocess.run(["bash", str(SCRIPT), "start-node", str(three_nodes), "3"], check=True, timeout=60)
    assert _wait_for(lambda: _all_idle(3), 120), "node 3 did not come back"
    again = run_cli(args + ["--resume", str(run_dir)], timeout=1500, SLURM_CONF=os.environ["SLURM_CONF"])
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "training: done (reused)" in again.stdout and "ours/weak_r12: done - " in again.stdout
    assert len(set(_hosts(run_dir, "weak_r12"))) == 3


def _wait_for(probe, timeout_s):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(2)
    return None


def _running(tmp_path, case):
    """The case's LAMMPS is past MPI_Init on every rank: its log has the first thermo header."""
    log = next(tmp_path.glob(f"chicoma-*/ours/md/{case}/log.lammps"), None)
    return log is not None and "Step" in log.read_text(errors="replace")


def _all_idle(nodes):
    states = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True).stdout.split()
    return states.count("idle") == nodes
