"""Ending the driver whatever Parsl's clean-up does: a deadline on it, after which every process the driver
started is ended and the driver exits.

Seen (issue 37): after SIGTERM the driver printed its --resume line, then waited in Parsl's clean-up for an
interchange that no longer answered, minutes, until a second SIGTERM. A benchmark on a shared cluster must not
leave a process behind, nor a driver its scheduler has to kill.
"""
import os
import sys
import threading

CLEANUP_DEADLINE_S = 45.0  # then the processes are ended (5 s of SIGTERM grace, then SIGKILL): out within a minute


def end_descendants(grace_s: float = 5.0) -> int:
    """SIGTERM to every process this one started (children's children too), SIGKILL to any left after
    `grace_s`; returns how many there were."""
    import psutil

    children = psutil.Process().children(recursive=True)
    _terminate_then_kill(children, grace_s)
    return len(children)


def end_running_cases(run_dir, grace_s: float = 5.0) -> int:
    """End every MD case of `run_dir` still running on this host, its whole tree; returns how many. Each runs under
    timeout(1), which makes it a process group of its own, out of reach of Parsl's clean-up of a local block (and
    the block's processes are not this driver's descendants: LocalProvider detaches them). On Slurm the scheduler
    ends a cancelled job's processes itself."""
    import psutil

    cases = [p for p in psutil.process_iter() if _is_case(p, str(run_dir))]
    _terminate_then_kill([p for case in cases for p in [case, *_children(case)]], grace_s)
    return len(cases)


def _terminate_then_kill(processes: list, grace_s: float):
    """SIGTERM to each of `processes`, SIGKILL to any still alive after `grace_s`."""
    import psutil

    for process in processes:
        try:
            process.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(processes, timeout=grace_s)
    for process in alive:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass


def _is_case(process, run_dir: str) -> bool:
    import psutil

    try:
        command = process.cmdline()
        return process.name() == "timeout" and "--kill-after=30" in command and run_dir in " ".join(command)
    except psutil.Error:
        return False


def _children(process) -> list:
    import psutil

    try:
        return process.children(recursive=True)
    except psutil.Error:
        return []


def cancel_blocks(dfk) -> int:
    """Cancel every scheduler job (block) Parsl submitted for this run that has not ended; returns how many.
    Seen (issue 40): a clean-up cut at its deadline left the MPI block's Slurm job holding its three nodes until
    the walltime, long after the driver had exited."""
    cancelled = 0
    for executor in dfk.executors.values():
        provider = getattr(executor, "provider", None)
        resources = getattr(provider, "resources", None) or {}
        jobs = [job for job, info in resources.items() if not _ended(info)]
        if jobs:
            try:
                provider.cancel(jobs)
                cancelled += len(jobs)
            except Exception as exc:  # noqa: BLE001 - the driver is ending: say it and go on to the next executor
                sys.stderr.write(f"could not cancel {executor.label}'s jobs {jobs}: {exc}\n")
    return cancelled


def _ended(info) -> bool:
    status = info.get("status") if isinstance(info, dict) else None
    return bool(getattr(status, "terminal", False))


def cleanup_within(cleanup, exit_code: int, deadline_s: float = CLEANUP_DEADLINE_S, run_dir=None, dfk=None):
    """cleanup(); if it has not returned within `deadline_s`, cancel `dfk`'s scheduler jobs, end this process's
    descendants (and `run_dir`'s MD cases) and exit with `exit_code` at once (os._exit: the stuck clean-up's
    threads are abandoned)."""
    def abandon():
        sys.stderr.write(f"Parsl's clean-up did not end within {deadline_s:g} s; ending its processes and exiting\n")
        sys.stderr.flush()
        if dfk is not None:
            cancel_blocks(dfk)
        end_descendants()
        if run_dir is not None:
            end_running_cases(run_dir)
        os._exit(exit_code)

    timer = threading.Timer(deadline_s, abandon)
    timer.daemon = True
    timer.start()
    try:
        cleanup()
    finally:
        timer.cancel()
