"""A campaign whose workers never start stops, saying so, instead of waiting for ever.

Parsl keeps a task queued while no worker connects: a worker_init that fails, a run folder its scripts cannot
start from, a node that cannot reach the interchange. Its executors then hold tasks, no worker pool has
connected, and no block is queued at the scheduler (a block PENDING is the scheduler's wait, never counted).
After `deadline_s` in that state the watch raises WorkersNeverStarted naming the executor, its blocks' states and
where their logs are.
"""
import time

from ..errors import MlmdError

COMMAND_TIMEOUT_S = 10  # an interchange that does not answer counts as one with no worker


class WorkersNeverStarted(MlmdError):
    """No worker of an executor connected while its tasks waited and no block was queued."""


class WorkerWatch:
    def __init__(self, dfk, deadline_s: float, clock=time.monotonic):
        self.executors = [e for e in dfk.executors.values() if hasattr(e, "connected_managers")]
        self.deadline_s, self.clock = deadline_s, clock
        self.idle_since = {}  # executor label -> when it was first seen holding tasks with no worker

    def check(self):
        """Raise WorkersNeverStarted once an executor has held tasks with no worker and no queued block for
        longer than the deadline; otherwise nothing."""
        from parsl.jobs.states import JobState

        now = self.clock()
        for executor in self.executors:
            waiting = _outstanding(executor)
            if not waiting or _managers(executor):
                self.idle_since.pop(executor.label, None)
                continue
            blocks = executor.status()
            if any(job.state == JobState.PENDING for job in blocks.values()):
                self.idle_since.pop(executor.label, None)
                continue
            since = self.idle_since.setdefault(executor.label, now)
            if now - since > self.deadline_s:
                states = "; ".join(f"block {block}: {job.state.name}" + (f" ({job.message})" if job.message else "")
                                   for block, job in blocks.items()) or "no block was started"
                raise WorkersNeverStarted(
                    f"executor {executor.label}: no worker connected in {self.deadline_s:g} s while "
                    f"{waiting} task(s) waited and no block was queued ({states}); the blocks' "
                    f"scripts and their output: {executor.provider.script_dir} (provider.worker_start_timeout_s)")


def _outstanding(executor) -> int:
    """Tasks the executor holds (a method of HTEX, a property of other executors)."""
    outstanding = executor.outstanding
    return outstanding() if callable(outstanding) else outstanding


def _managers(executor) -> list:
    try:
        return executor.command_client.run("MANAGERS", timeout_s=COMMAND_TIMEOUT_S)
    except Exception:  # no answer, or a client already closed: no worker we can count on
        return []
