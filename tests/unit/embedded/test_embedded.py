"""The embedded engine against hippynn's own periodic evaluation, and 1 vs 2 MPI ranks."""
import re
import subprocess
import sys

import numpy as np
import pytest

from mlmd_parsl.science.validation.reference import hippynn_periodic_prediction, read_force_dump
from tests.conftest import FIXTURES, child_env, standalone


@pytest.mark.mpi
def test_forces_match_hippynn_and_do_not_depend_on_rank_count(untrained_model, tmp_path, mpiexec):
    model, box = untrained_model["model"], untrained_model["box"]
    ids1, x1, f1, lengths = standalone(model, box, tmp_path, 1, mpiexec)
    ids2, x2, f2, _ = standalone(model, box, tmp_path, 2, mpiexec)
    assert len(ids1) == 284 and np.array_equal(ids1, ids2)
    assert np.abs(f1).max() > 0.05  # a real force field, not zeros
    assert np.abs(f1 - f2).max() <= 1e-4
    energy, reference = hippynn_periodic_prediction(untrained_model["state"], x1, np.diag(lengths))
    assert np.abs(f1 - reference).max() <= 1e-5 * np.abs(reference).max() + 1e-6
    pe = _thermo_pe(tmp_path / "log_1.lammps")
    assert pe == pytest.approx(energy, rel=1e-5)


def _thermo_pe(log):
    lines = log.read_text().splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:3] == ["Step", "Temp", "PotEng"])
    return float(lines[header + 1].split()[2])


@pytest.mark.mpi
def test_two_rank_trajectory_follows_the_one_rank_trajectory(untrained_model, tmp_path, mpiexec):
    model, box = untrained_model["model"], untrained_model["box"]
    args = dict(replicate=(2, 2, 2), steps=50, extra=("--dtype", "float64"))
    _, x1, f1, _ = standalone(model, box, tmp_path, 1, mpiexec, **args)
    _, x2, f2, _ = standalone(model, box, tmp_path, 2, mpiexec, **args)
    assert np.abs(x1 - x2).max() < 1e-6  # Angstrom, after 50 steps at 1 fs
    assert np.abs(f1 - f2).max() < 1e-6


def test_model_file_that_is_not_a_hippynn_export_is_rejected(tmp_path):
    bogus = tmp_path / "model.pt"
    import torch

    torch.save({"weights": [1, 2, 3]}, bogus)
    result = subprocess.run(
        [sys.executable, "-m", "mlmd_parsl.md", "--model", str(bogus), "--box", str(FIXTURES / "ag_box.data"),
         "--log", str(tmp_path / "log.lammps")],
        env=child_env(), capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2
    assert "is a dict, not a hippynn MLIAPInterface export" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_box_file_is_rejected(untrained_model, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mlmd_parsl.md", "--model", str(untrained_model["model"]),
         "--box", str(tmp_path / "none.data"),
         "--log", str(tmp_path / "log.lammps")],
        env=child_env(), capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2 and "box file not found" in result.stderr and "Traceback" not in result.stderr


def test_reused_pair_candidates_give_the_trajectory_of_pairs_found_every_step(untrained_model, tmp_path):
    builds, dumps = {}, {}
    for skin in ("0", "1.0"):
        dumps[skin] = tmp_path / f"forces_{skin}.dump"
        result = subprocess.run(
            [sys.executable, "-m", "mlmd_parsl.md", "--model", str(untrained_model["model"]), "--box",
             str(untrained_model["box"]), "--replicate", "2", "2", "2", "--steps", "60", "--dtype", "float64",
             "--pair-skin", skin, "--dump-forces", str(dumps[skin]), "--log", str(tmp_path / f"log_{skin}.lammps")],
            env=child_env(), capture_output=True, text=True, timeout=600,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        builds[skin] = int(re.search(r"pair list built (\d+) times", result.stdout).group(1))
    assert builds["0"] == 61 and 1 < builds["1.0"] < 30  # reused, and rebuilt as atoms moved
    (_, x0, f0, _), (_, x1, f1, _) = (read_force_dump(dumps[skin]) for skin in ("0", "1.0"))
    assert np.abs(x0 - x1).max() < 1e-9 and np.abs(f0 - f1).max() < 1e-9


@pytest.fixture(scope="module")
def long_range_model(tmp_path_factory):
    """The seed's architecture with a 6.5 A cutoff: beyond the 4 A + 2 A skin a 4 A deck keeps ghosts for."""
    import torch

    from mlmd_parsl.science.model.export import export_model
    from mlmd_parsl.science.model.network import SEED_NETWORK_PARAMS, build_seed_graph, graph_state

    out = tmp_path_factory.mktemp("cutoff_6p5")
    params = {**SEED_NETWORK_PARAMS, "dist_soft_max": 6.0, "dist_hard_max": 6.5}
    torch.manual_seed(99)
    graph = build_seed_graph(params)
    with torch.no_grad():
        for p in graph.henergy.torch_module.parameters():
            p.mul_(50.0)
    state = out / "network_state.pt"
    torch.save({"network_params": params, "state": graph_state(graph)}, state)
    return {"state": state, **export_model(state, FIXTURES / "ag_frame.xyz", out)}


def test_the_decks_ghost_reach_follows_the_models_cutoff(long_range_model, tmp_path, mpiexec):
    model, box = long_range_model["model"], long_range_model["box"]
    ids, x, forces, lengths = standalone(model, box, tmp_path, 1, mpiexec, replicate=(2, 2, 2))
    assert "comm_modify cutoff 8.5" in (tmp_path / "log_1.lammps").read_text()
    energy, reference = hippynn_periodic_prediction(long_range_model["state"], x, np.diag(lengths))
    assert np.abs(forces - reference).max() <= 1e-5 * np.abs(reference).max() + 1e-6


def test_a_deck_whose_ghosts_fall_short_of_the_models_cutoff_is_refused(long_range_model, tmp_path):
    from mpi4py import MPI

    from mlmd_parsl.errors import ModelError
    from mlmd_parsl.science.lammps.deck import make_deck, single_stage_protocol
    from mlmd_parsl.science.embedded.embedded import run_embedded

    deck = make_deck(long_range_model["box"], (2, 2, 2), single_stage_protocol(0))  # the 4 A default
    with pytest.raises(ModelError, match="keeps ghosts to 6 A, but .* has a 6.5 A cutoff"):
        run_embedded(deck, long_range_model["model"], str(tmp_path / "log.lammps"), comm=MPI.COMM_SELF)


def test_a_run_records_where_its_timed_steps_went_and_keeps_torchs_threads(untrained_model, tmp_path):
    """engine_profile.json: the callback's phases of the timed stage alone, within LAMMPS' loop time; and with
    OMP_NUM_THREADS unset the model keeps the cores LAMMPS' start-up would have cut to one thread."""
    import json
    import os

    env = child_env()
    env.pop("OMP_NUM_THREADS")
    log = tmp_path / "log.lammps"
    result = subprocess.run(
        [sys.executable, "-m", "mlmd_parsl.md", "--model", str(untrained_model["model"]), "--box",
         str(untrained_model["box"]), "--replicate", "2", "2", "1", "--profile", "quick", "--timed-steps", "30",
         "--log", str(log)],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    profile = json.loads((tmp_path / "log.engine_profile.json").read_text())
    assert profile["timed_steps"] == 30 and profile["atoms"] == 284
    assert profile["callback_calls_rank0"] == 30  # the steps, not the run's set-up call
    phases = profile["callback_ms_per_step"]
    assert set(phases) == {"read", "pairs", "prepare", "model", "route", "hand_back"}
    # the fused CPU step made the model phase comparable to the pair upkeep at 284 atoms: both real work
    assert min(phases.values()) >= 0 and phases["model"] > 0 and phases["pairs"] > 0
    assert sum(phases.values()) <= profile["loop_ms_per_step"]
    assert 0 <= profile["outside_callback_ms_per_step"] < profile["loop_ms_per_step"]
    assert 0 <= profile["pair_builds_rank0"] <= 31  # the timed stage's builds, not the warm-up's too
    assert "engine callback" in result.stdout and "LAMMPS outside it" in result.stdout
    placement = json.loads((tmp_path / "placement.json").read_text())
    assert placement["ranks"][0]["model_threads"] == len(os.sched_getaffinity(0))  # numba's, with the fused step
