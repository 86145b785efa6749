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
    for child in children:
        try:
            child.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(children, timeout=grace_s)
    for child in alive:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    return len(children)


def cleanup_within(cleanup, exit_code: int, deadline_s: float = CLEANUP_DEADLINE_S):
    """cleanup(); if it has not returned within `deadline_s`, end this process's descendants and exit with
    `exit_code` at once (os._exit: the stuck clean-up's threads are abandoned)."""
    def abandon():
        sys.stderr.write(f"Parsl's clean-up did not end within {deadline_s:g} s; ending its processes and exiting\n")
        sys.stderr.flush()
        end_descendants()
        os._exit(exit_code)

    timer = threading.Timer(deadline_s, abandon)
    timer.daemon = True
    timer.start()
    try:
        cleanup()
    finally:
        timer.cancel()
