"""monitoring: true gives the run Parsl's MonitoringHub: every task of the run lands in <run>/monitoring.db."""
import os
import sqlite3

import pytest

from mlmd_parsl.config import load_site_config
from tests.conftest import BIN

pytestmark = pytest.mark.slow


def test_monitoring_records_the_runs_tasks_in_the_run_folder(tmp_path):
    import platform

    from parsl import python_app
    from parsl.dataflow.dflow import DataFlowKernel

    from mlmd_parsl.orchestration.sites import MONITORING_DB, parsl_config_for

    site = load_site_config("local", [f"runs_dir={tmp_path}", "monitoring=true"])
    os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ['PATH']}"  # the interchange and worker scripts
    dfk = DataFlowKernel(parsl_config_for(site, tmp_path))
    try:
        app = python_app(platform.node, data_flow_kernel=dfk, executors=["cpu"])  # importable on the worker
        assert app().result(timeout=300)
    finally:
        dfk.cleanup()
    with sqlite3.connect(tmp_path / MONITORING_DB) as db:
        workflows = db.execute("select workflow_name from workflow").fetchall()
        tasks = db.execute("select task_func_name, task_time_returned from task").fetchall()
    assert workflows == [("mlmd_parsl-local",)]
    assert [name for name, _ in tasks] == ["node"] and tasks[0][1] is not None


def test_monitoring_is_off_unless_the_site_asks():
    from mlmd_parsl.orchestration.sites import monitoring_hub

    assert monitoring_hub(load_site_config("local"), "/r") is None
    assert load_site_config("chicoma").monitoring is False
