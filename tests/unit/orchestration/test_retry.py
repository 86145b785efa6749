"""The retry policy: per-kind budgets through Parsl's retry handler; deterministic failures never retried."""
import pytest
from parsl.app.errors import BashExitFailure
from parsl.executors.high_throughput.errors import WorkerLost

from mlmd_parsl.config import load_site_config
from mlmd_parsl.errors import ConfigError, DatasetError
from mlmd_parsl.orchestration.retry import classify, make_retry_handler, max_retries
from mlmd_parsl.orchestration.sites import parsl_config_for


def record(func_name, case=None):
    return {"func_name": func_name, "args": (case,) if case else ()}


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
    assert retried_times(handler, ceiling, lost, record("_run_md", {"log": "/nonexistent"})) == 3
    assert retried_times(handler, ceiling, lost, record("train_model")) == 1
    assert retried_times(handler, ceiling, lost, record("validate_exported_model")) == 0


def test_lammps_input_error_and_bad_input_are_not_retried(tmp_path):
    log = tmp_path / "log.lammps"
    log.write_text("LAMMPS (22 Jul 2025)\nERROR: Unrecognized pair style 'mliap' (src/force.cpp:275)\n")
    site = load_site_config("local", ["retries.md=3"])
    handler, ceiling = make_retry_handler(site.retries), max_retries(site.retries)
    failure = BashExitFailure("_run_md", 1)
    assert classify(failure, record("_run_md", {"log": str(log)})) == "deterministic"
    assert retried_times(handler, ceiling, failure, record("_run_md", {"log": str(log)})) == 0
    assert classify(BashExitFailure("_run_md", 2), record("_run_md", {"log": "/nonexistent"})) == "deterministic"
    assert retried_times(handler, ceiling, DatasetError("bad"), record("prepare_dataset")) == 0


@pytest.mark.parametrize("exc,kind", [
    (BashExitFailure("_run_md", 137), "killed"),
    (BashExitFailure("_run_md", 139), "crashed"),
    (RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), "out-of-memory"),
    (WorkerLost(3, "nid001"), "node failure or walltime"),
    (BashExitFailure("_run_md", 1), "failed"),
])
def test_failures_are_classified(exc, kind):
    assert classify(exc, record("_run_md", {"log": "/nonexistent"})) == kind


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
    with pytest.raises(ConfigError, match=r"retries.gpu: unknown key; allowed keys: dataset, training, export, md, validation"):
        load_site_config("local", ["retries.gpu=1"])
