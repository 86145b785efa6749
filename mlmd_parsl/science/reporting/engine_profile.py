"""Where an embedded-engine run's timed steps went, in ms per step: the engine callback's phases
(engine/phase_timer.py, averaged over ranks) and what LAMMPS spent outside the callback (the timed run's loop
time minus the callback; LAMMPS' own breakdown of the timed run is kept beside it)."""
import json
from pathlib import Path


def profile_path(log) -> Path:
    """engine_profile.json beside a run's log: log.lammps -> log.engine_profile.json."""
    log = Path(log)
    return log.with_name(f"{log.stem}.engine_profile.json")


def step_profile(log_summary, ranks: list) -> dict:
    """log_summary: parse_log of the run; ranks: each rank's run_embedded summary (timed_calls,
    timed_pair_builds, timed_ms_per_call). None when the log has no complete timed run."""
    steps = log_summary.timed_steps
    if log_summary.status != "ok" or not steps or not ranks:
        return None
    phases = list(ranks[0]["timed_ms_per_call"])  # one call per step: the run's set-up call is not counted
    callback = {p: sum(r["timed_ms_per_call"][p] for r in ranks) / len(ranks) for p in phases}
    loop_ms = 1e3 * log_summary.loop_time_s / steps
    return {
        "atoms": log_summary.atoms,
        "ranks": log_summary.ranks,
        "timed_steps": steps,
        "loop_ms_per_step": loop_ms,
        "callback_ms_per_step": callback,
        "outside_callback_ms_per_step": loop_ms - sum(callback.values()),
        "lammps_sections_ms_per_step": {k: 1e3 * v / steps for k, v in log_summary.timed_sections_s.items()},
        "pair_builds_rank0": ranks[0]["timed_pair_builds"],
        "callback_calls_rank0": ranks[0]["timed_calls"],
    }


def write_profile(path, profile: dict):
    from ...atomic_files import write_text_atomically

    write_text_atomically(Path(path), json.dumps(profile, indent=1))


def read_profile(path):
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else None


def format_profile(profile: dict) -> str:
    callback = profile["callback_ms_per_step"]
    parts = ", ".join(f"{phase} {ms:.3g}" for phase, ms in callback.items())
    return (f"timed stage {profile['loop_ms_per_step']:.3g} ms/step: engine callback {sum(callback.values()):.3g} "
            f"({parts}), LAMMPS outside it {profile['outside_callback_ms_per_step']:.3g}; "
            f"pair list built {profile['pair_builds_rank0']} times in {profile['timed_steps']} steps")
