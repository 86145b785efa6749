"""Live progress of a campaign: a line per finished task, and while nothing finishes a status line every
`heartbeat_s` seconds: done/failed, launched (running or queued on an executor), waiting, and the FOMs so far."""
import concurrent.futures

LAUNCHED_STATES = ("launched", "running", "running_ended")


def describe_failure(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())[:500]


def tail(path, lines=5) -> str:
    try:
        text = [line.strip() for line in open(path, errors="replace").read().splitlines() if line.strip()]
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def describe_md_failure(case, command: str, future) -> str:
    """Task, sweep point, why (classified), attempts, command, run directory and the log's last lines of an
    MDCase whose future failed."""
    from .retry import classify

    exc = future.exception()
    record = getattr(future, "task_record", None) or {}
    attempts = record.get("fail_count", 1) or 1
    log_tail = tail(case.log) or tail(case.stderr)
    return (f"{case.task} (replicate {' '.join(map(str, case.replicate))}, {case.ranks} rank(s)) failed "
            f"[{classify(exc, record)}] after {attempts} attempt(s): {describe_failure(exc)}; "
            f"command: {command}; run directory: {case.dir}; log tail: {log_tail or '(empty)'}")


def task_state(future) -> str:
    """Parsl's state of an AppFuture's task (pending, launched, running, ...); 'pending' for other futures."""
    record = getattr(future, "task_record", None)
    return record["status"].name if record else "pending"


class Progress:
    def __init__(self, total: int, log=print, heartbeat_s: float = 60.0, watch=None):
        """`watch`: called at every heartbeat without a finished task (worker_watch.WorkerWatch.check); what it
        raises ends the wait."""
        self.total, self.log, self.heartbeat_s, self.watch = total, log, heartbeat_s, watch
        self.done = self.failed = 0
        self.unfinished = {}  # future -> task name
        self.epoch_time_s = None
        self.throughput = {}  # task name -> Katom-step/s

    def report(self, name, exc, brief="", failure=""):
        """`failure` replaces the exception's own text when the caller knows more (see describe_md_failure)."""
        self.done += 1
        self.failed += exc is not None
        status = "failed: " + (failure or describe_failure(exc)) if exc is not None else "done"
        self.log(f"[{self.done}/{self.total}, {self.failed} failed] {name}: {status}{brief}")

    def as_completed(self, named_futures: dict):
        """Yield (future, name) as each finishes; log a status line whenever heartbeat_s passes without one."""
        self.unfinished.update(named_futures)
        waiting = set(named_futures)
        while waiting:
            finished, waiting = concurrent.futures.wait(
                waiting, timeout=self.heartbeat_s, return_when=concurrent.futures.FIRST_COMPLETED)
            if not finished:
                self.log(self.status_line())
                if self.watch is not None:
                    self.watch()
            for future in finished:
                self.unfinished.pop(future, None)
                yield future, named_futures[future]

    def wait(self, future):
        """Until `future` is done, calling the watch at every heartbeat (a task waited on outside as_completed,
        such as the site engine's preflight)."""
        while not future.done():
            concurrent.futures.wait([future], timeout=self.heartbeat_s)
            if not future.done() and self.watch is not None:
                self.watch()

    def status_line(self) -> str:
        states = [task_state(f) for f in self.unfinished]
        launched = sum(s in LAUNCHED_STATES for s in states)
        unsubmitted = self.total - self.done - len(states)
        parts = [f"{self.done}/{self.total} done ({self.failed} failed)",
                 f"{launched} running or queued on an executor",
                 f"{len(states) - launched + unsubmitted} waiting for inputs"]
        foms = []
        if self.epoch_time_s is not None:
            foms.append(f"epoch time {self.epoch_time_s:.3f} s")
        if self.throughput:
            best = max(self.throughput, key=self.throughput.get)
            foms.append(f"best {self.throughput[best]:.2f} Katom-step/s ({best})")
        return "... " + ", ".join(parts) + ("; FOMs so far: " + ", ".join(foms) if foms else "")
