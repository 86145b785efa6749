"""The retry policy: per-kind budgets through Parsl's retry handler; deterministic failures never retried."""
import pytest
from parsl.app.errors import BashExitFailure
from parsl.executors.high_throughput.errors import WorkerLost

from mlmd_parsl.config import load_site_config
from mlmd_parsl.errors import ConfigError, DatasetError
from mlmd_parsl.orchestration import apps, tasks
from mlmd_parsl.orchestration.sweeps import md_cases
from mlmd_parsl.orchestration.retry import TASK_KINDS, classify, kind_of, make_retry_handler, max_retries, task_kind
from mlmd_parsl.orchestration.sites import parsl_config_for


def md_case(run_dir="/nonexistent"):
    return md_cases(load_site_config("local"), run_dir)[0]


def record(func, case=None):
    """A task record as Parsl's retry handler receives it: the app's function, and its keyword arguments (the MD
    app's case log, as submit_md_case passes it)."""
    return {"func": func, "func_name": "renamed_" + getattr(func, "__name__", ""), "args": ("command", None),
            "kwargs": {"lammps_log": str(case.log)} if case else {}}


def retried_times(handler, ceiling, exc, task_record):
    """How many retries Parsl grants: it retries while the summed cost stays <= Config.retries."""
    cost, retries = 0.0, 0
    while True:
        cost += handler(exc, task_record)
        if cost > ceiling:
            return retries
        retries += 1


def test_each_kind_gets_its_own_budget():
    site = load_site_config("local", ["retries.md=3", "retries.training=1", "retries.validation=0"])
    handler, ceiling = make_retry_handler(site.retries), max_retries(site.retries)
    lost = WorkerLost(1, "node7")
    assert retried_times(handler, ceiling, lost, record(apps._run_md, md_case())) == 3
    assert retried_times(handler, ceiling, lost, record(tasks.train_model)) == 1
    assert retried_times(handler, ceiling, lost, record(tasks.validate_exported_model)) == 0
    assert retried_times(handler, ceiling, lost, record(lambda: None)) == 0  # untagged: never retried


def test_lammps_input_error_and_bad_input_are_not_retried(tmp_path):
    case = md_case(tmp_path)
    case.dir.mkdir(parents=True)
    case.log.write_text("LAMMPS (22 Jul 2025)\nERROR: Unrecognized pair style 'mliap' (src/force.cpp:275)\n")
    site = load_site_config("local", ["retries.md=3"])
    handler, ceiling = make_retry_handler(site.retries), max_retries(site.retries)
    failure = BashExitFailure("_run_md", 1)
    assert classify(failure, record(apps._run_md, case)) == "deterministic"
    assert retried_times(handler, ceiling, failure, record(apps._run_md, case)) == 0
    assert classify(BashExitFailure("_run_md", 1), record(apps._run_md, md_case())) == "failed"
    assert classify(BashExitFailure("_run_md", 2), record(apps._run_md, md_case())) == "deterministic"
    assert retried_times(handler, ceiling, DatasetError("bad"), record(tasks.prepare_dataset)) == 0


@pytest.mark.parametrize("exc,kind", [
    (BashExitFailure("_run_md", 137), "killed"),
    (BashExitFailure("_run_md", 139), "crashed"),
    (BashExitFailure("_run_md", 11), "crashed"),  # mpiexec (hydra) of a rank killed by SIGSEGV
    (BashExitFailure("_run_md", 9), "killed"),
    (RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), "out-of-memory"),
    (WorkerLost(3, "nid001"), "node failure or walltime"),
    (BashExitFailure("_run_md", 1), "failed"),
])
def test_failures_are_classified(exc, kind):
    assert classify(exc, record(apps._run_md, md_case())) == kind


def test_every_app_reaches_the_retry_handler_with_its_kind(tmp_path):
    """Each app of make_apps fails once (called without arguments) in a real DataFlowKernel; the handler must
    find a kind on every task record, through Parsl's python_app and bash_app wrappers."""
    import parsl
    from parsl.executors.threads import ThreadPoolExecutor

    seen = {}

    def handler(exc, task_record):
        seen[task_record["id"]] = kind_of(task_record["func"])
        return 10  # over the budget: not retried

    config = parsl.Config(executors=[ThreadPoolExecutor(label="cpu"), ThreadPoolExecutor(label="mpi")],
                          retries=1, retry_handler=handler, run_dir=str(tmp_path), initialize_logging=False)
    dfk = parsl.DataFlowKernel(config)
    try:
        made = apps.make_apps(dfk)
        futures = {name: getattr(made, name)() for name in made.__dataclass_fields__}
        kinds = {name: seen.get(future.tid, "no failure reached the handler")
                 for name, future in futures.items() if future.exception() is not None}
    finally:
        dfk.cleanup()
    assert set(kinds) == set(made.__dataclass_fields__)
    assert all(kind in TASK_KINDS for kind in kinds.values()), kinds
    assert kinds["run_md"] == kinds["run_md_packed"] == "md" and kinds["probe_site_engine"] == "preflight"
    assert kinds["train_model"] == "training" and kinds["collect_results"] == "collection"


def test_a_kind_must_be_one_the_retry_policy_knows():
    with pytest.raises(ValueError, match="task kind 'gpu'; allowed: dataset, training"):
        task_kind("gpu")


def test_parsl_config_carries_the_policy_and_encryption(tmp_path):
    site = load_site_config("local", ["retries.md=4"])
    config = parsl_config_for(site, tmp_path)
    assert config.retries == 4 and config.retry_handler is not None
    assert all(e.encrypted for e in config.executors)
    plain = parsl_config_for(load_site_config("local", ["provider.encrypted=false"]), tmp_path)
    assert not any(e.encrypted for e in plain.executors)  # only when the user says so


def test_lost_worker_pools_are_noticed_after_the_configured_heartbeat(tmp_path):
    config = parsl_config_for(load_site_config("local", ["provider.heartbeat_threshold_s=20"]), tmp_path)
    assert {(e.heartbeat_threshold, e.heartbeat_period) for e in config.executors} == {(20, 5)}
    with pytest.raises(ConfigError, match=r"provider.heartbeat_threshold_s: 5; allowed: 10 to 3600 seconds"):
        load_site_config("local", ["provider.heartbeat_threshold_s=5"])


def test_slurm_interchange_listens_on_the_named_interface_only(tmp_path):
    config = parsl_config_for(load_site_config("localslurm"), tmp_path)
    assert {e.address for e in config.executors} == {"127.0.0.1"}  # interface: lo
    with pytest.raises(ConfigError, match="provider.interface: 'nosuch0' has no IPv4 address here"):
        parsl_config_for(load_site_config("localslurm", ["provider.interface=nosuch0"]), tmp_path)


def test_retry_budgets_are_bounded():
    with pytest.raises(ConfigError, match=r"retries.md: 11; allowed: 0 to 10"):
        load_site_config("local", ["retries.md=11"])
    with pytest.raises(ConfigError,
                       match=r"retries.gpu: unknown key; allowed keys: dataset, training, export, md, validation"):
        load_site_config("local", ["retries.gpu=1"])


def test_md_cases_submitted_as_the_campaign_does_retry_a_crash_but_never_a_lammps_error(tmp_path):
    """submit_md_case in a real DataFlowKernel with the site's retry policy: a case whose LAMMPS stops on an ERROR
    line (here 'Lost atoms', written as LAMMPS would) runs once; one that dies by a signal runs 1 + retries.md."""
    from dataclasses import replace

    import parsl
    from parsl.executors.threads import ThreadPoolExecutor

    from mlmd_parsl.orchestration.builder import submit_md_case
    from mlmd_parsl.orchestration.case_plan import CasePlan

    site = load_site_config("local", ["retries.md=2"])
    cases = [replace(c, packed=True) for c in md_cases(site, tmp_path)[:2]]  # no MPI resources on a thread pool
    config = parsl.Config(executors=[ThreadPoolExecutor(label="cpu"), ThreadPoolExecutor(label="mpi")],
                          retries=max_retries(site.retries), retry_handler=make_retry_handler(site.retries),
                          run_dir=str(tmp_path / "parsl"), initialize_logging=False)
    commands = {
        "error": f"echo 'ERROR: Lost atoms: original 568 current 567 (src/thermo.cpp:494)' > {cases[0].log}; exit 1",
        "crash": f"echo 'Step Temp' > {cases[1].log}; kill -SEGV $$",
    }
    dfk = parsl.DataFlowKernel(config)
    try:
        made = apps.make_apps(dfk)
        futures = {}
        for (name, command), case in zip(commands.items(), cases):
            attempts = case.dir / "attempts"
            futures[name] = submit_md_case(made, site, CasePlan(case, 1, f"echo x >> {attempts}; {command}"), None)
        for future in futures.values():
            assert future.exception() is not None
    finally:
        dfk.cleanup()
    runs = {name: len((case.dir / "attempts").read_text().split()) for name, case in zip(commands, cases)}
    assert runs == {"error": 1, "crash": 3}


@pytest.mark.parametrize("kind", ["local", "localslurm"])
def test_worker_init_quotes_the_interpreters_folder(kind, tmp_path):
    """A venv under a folder with a space (a checkout in ~/My Projects) reaches bash as one word, not `export
    PATH=.../My` and a stray command."""
    import subprocess

    site = load_site_config(kind, ["provider.python=/opt/My Projects;touch pwned/bin/python"])
    for executor in parsl_config_for(site, tmp_path).executors:
        shell = subprocess.run(["bash", "-c", executor.provider.worker_init + '\nprintf %s "$PATH"'], cwd=tmp_path,
                               capture_output=True, text=True, timeout=30)
        assert shell.stdout.startswith("/opt/My Projects;touch pwned/bin:"), shell.stdout
        assert not (tmp_path / "pwned").exists()


def test_a_hung_md_case_is_ended_with_its_whole_process_group_at_its_timeout_and_not_retried(tmp_path):
    """submit_md_case with the case's timeout: the command and a child it started are gone after it, the task fails
    once, classified 'timed out' (Parsl's own walltime would have left both running)."""
    from dataclasses import replace

    import parsl
    from parsl.executors.threads import ThreadPoolExecutor

    from mlmd_parsl.orchestration.builder import submit_md_case
    from mlmd_parsl.orchestration.case_plan import CasePlan

    site = load_site_config("local", ["retries.md=2"])
    case = replace(md_cases(site, tmp_path)[0], packed=True, timeout_s=2)
    child = tmp_path / "child.pid"
    command = f"echo x >> {case.dir / 'attempts'}; sleep 300 & echo $! > {child}; sleep 300"
    config = parsl.Config(executors=[ThreadPoolExecutor(label="cpu"), ThreadPoolExecutor(label="mpi")],
                          retries=max_retries(site.retries), retry_handler=make_retry_handler(site.retries),
                          run_dir=str(tmp_path / "parsl"), initialize_logging=False)
    seen = {}
    policy = make_retry_handler(site.retries)

    def handler(exc, task_record):
        seen["class"] = classify(exc, task_record)
        return policy(exc, task_record)

    config.retry_handler = handler
    dfk = parsl.DataFlowKernel(config)
    try:
        case.dir.mkdir(parents=True, exist_ok=True)
        future = submit_md_case(apps.make_apps(dfk), site, CasePlan(case, 1, command), None)
        assert isinstance(future.exception(timeout=120), BashExitFailure) and future.exception().exitcode == 124
    finally:
        dfk.cleanup()
    assert seen["class"] == "timed out" and (case.dir / "attempts").read_text().split() == ["x"]
    import os
    import time

    time.sleep(1)
    pid = int(child.read_text())
    assert not os.path.exists(f"/proc/{pid}") or "Z" in open(f"/proc/{pid}/stat").read().split()[2]
