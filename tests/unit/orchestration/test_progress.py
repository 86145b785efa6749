"""Live progress: a status line while nothing finishes, with counts and the FOMs so far."""
import concurrent.futures
import threading

from mlmd_parsl.orchestration.progress import Progress


def test_status_lines_appear_while_waiting_and_count_tasks():
    lines = []
    progress = Progress(total=4, log=lines.append, heartbeat_s=0.05)
    progress.epoch_time_s = 1.5
    progress.throughput = {"md_z1_r1": 12.0, "md_z2_r1": 20.0}
    slow, fast = concurrent.futures.Future(), concurrent.futures.Future()
    fast.set_result(1)
    threading.Timer(0.3, slow.set_result, [2]).start()
    finished = []
    for future, name in progress.as_completed({slow: "slow", fast: "fast"}):
        progress.report(name, None)
        finished.append(name)
    assert finished == ["fast", "slow"]
    status = [line for line in lines if line.startswith("... ")]
    assert status, lines  # the slow task left heartbeat_s without a finish
    # 1 done, 1 still tracked (a plain Future counts as waiting), 2 of 4 never submitted yet
    assert status[0] == ("... 1/4 done (0 failed), 0 running or queued on an executor, 3 waiting for inputs; "
                         "FOMs so far: epoch time 1.500 s, best 20.00 Katom-step/s (md_z2_r1)")
    assert lines[-1] == "[2/4, 0 failed] slow: done"
