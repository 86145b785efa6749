"""The worker watch: tasks waiting with no worker and no queued block stop the run after the deadline; a block
queued at the scheduler, or a connected worker, never counts."""
from types import SimpleNamespace

import pytest
from parsl.jobs.states import JobState, JobStatus

from mlmd_parsl.orchestration.worker_watch import WorkersNeverStarted, WorkerWatch


class FakeExecutor:
    def __init__(self, state, managers=()):
        self.label, self.outstanding, self.state = "mpi", 3, state
        self.command_client = SimpleNamespace(run=lambda *_, **__: list(managers))
        self.provider = SimpleNamespace(script_dir="/run/parsl/000/submit_scripts")

    def connected_managers(self):
        return self.command_client.run("MANAGERS")

    def status(self):
        return {"0": JobStatus(self.state)}


def watch(executor, now):
    return WorkerWatch(SimpleNamespace(executors={"mpi": executor}), 600, clock=lambda: now[0])


def test_tasks_with_no_worker_and_no_queued_block_stop_the_run_after_the_deadline():
    now = [0.0]
    running = watch(FakeExecutor(JobState.RUNNING), now)
    running.check()
    now[0] = 599.0
    running.check()  # within the deadline
    now[0] = 601.0
    expected = (r"executor mpi: no worker connected in 600 s while 3 task\(s\) waited and no block was queued "
                r"\(block 0: RUNNING\); .*submit_scripts")
    with pytest.raises(WorkersNeverStarted, match=expected):
        running.check()


@pytest.mark.parametrize("executor", [FakeExecutor(JobState.PENDING),
                                      FakeExecutor(JobState.RUNNING, managers=[{"manager": "m1"}])],
                         ids=["queued at the scheduler", "a worker connected"])
def test_a_queued_block_or_a_connected_worker_never_counts(executor):
    now = [0.0]
    watched = watch(executor, now)
    for now[0] in (0.0, 10_000.0, 100_000.0):
        watched.check()
