"""SIGTERM and SIGHUP (a scheduler's or user's kill, a closed terminal or ssh session) handled like Ctrl-C: the
campaign stops, Parsl and its workers are shut down, finished tasks are kept. A second such signal while that
clean-up runs ends the driver at once."""
import os
import signal

from .shutdown import end_descendants


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the driver is, as Ctrl-C raises KeyboardInterrupt."""

    def __init__(self, signum=signal.SIGTERM):
        super().__init__()
        self.signum = signum


def stop_on_signals():
    """From now on SIGTERM and SIGHUP raise Terminated in the driver."""
    for stop in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop, _raise_terminated)


def interruption(exc: KeyboardInterrupt) -> tuple:
    """(what stopped the driver, in words; its exit code 128 + the signal) for Ctrl-C or Terminated."""
    if isinstance(exc, Terminated):
        return f"terminated ({signal.Signals(exc.signum).name})", 128 + exc.signum
    return "interrupted", 128 + signal.SIGINT


def _raise_terminated(signum, frame):
    for again in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(again, _exit_now)
    raise Terminated(signum)


def _exit_now(signum, frame):
    end_descendants()
    os._exit(128 + signum)
