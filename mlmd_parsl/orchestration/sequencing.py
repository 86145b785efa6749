"""The seed's order: which tasks wait for which, expressed as futures Parsl waits on.

The seed's scripts run one case after another: its throughput sweep on one GPU (Run_Throughput_GPU.bash), its
strong scaling on one node (Run_Strong_CPU.bash), its weak scaling one job per node count. The seed division
does the same: each case waits for the one before it in its sequence. On a Slurm site the cases on the packed
(single-GPU) executor and those on the MPI executor run on different nodes, like the seed's separate jobs, so
each is its own sequence; on a local site everything shares the machine and is one sequence. The ours division
starts only after the seed division's last timed task, so that nothing of ours shares a node with a seed
measurement.

A task waits on a `settled` future, which completes when the awaited task has finished whichever way: a failed
seed case must not fail the next one as a Parsl dependency.
"""
import threading
from concurrent.futures import Future

from ..config import SiteConfig
from ..science.choices import Division
from .cases import MDCase


def settled(*futures) -> Future:
    """A future that completes (with None) once every one of `futures` has finished, succeeded or not."""
    barrier = Future()
    pending = [f for f in futures if f is not None]
    if not pending:
        barrier.set_result(None)
        return barrier
    remaining, lock = [len(pending)], threading.Lock()  # callbacks come from Parsl's threads

    def one_done(_):
        with lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            barrier.set_result(None)

    for future in pending:
        future.add_done_callback(one_done)
    return barrier


def one_at_a_time(site: SiteConfig) -> bool:
    """The seed division runs its cases one after another, as the seed's scripts do."""
    return site.division is Division.SEED


def sequence_of(site: SiteConfig, case: MDCase) -> str:
    """Which of the seed division's sequences a case belongs to (cases of one sequence run one at a time)."""
    if site.provider.kind == "local":
        return "this machine"
    return "packed" if case.packed else "mpi"
