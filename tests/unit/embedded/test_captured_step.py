"""The fixed-shape (CUDA-graph) model step: all candidates, padding and buffer reuse give the eager step's
energy, forces and virial. On a CPU it runs the same body uncaptured; tests/gpu checks the captured one."""
import numpy as np
import pytest
import torch

from mlmd_parsl.science.embedded.captured_step import CapturedLeanStep
from mlmd_parsl.science.model.export import load_exported_model
from mlmd_parsl.science.embedded.model_steps import ExportedModel, SizeSwitchedStep
from mlmd_parsl.science.embedded.pairs import VerletPairs
from tests.unit.embedded.test_pairs import cluster


def both_steps(model, step, pairs, positions, tags, nlocal):
    """The same positions through `step` and through the eager lean step, both by the ModelStep protocol."""
    eager = model.eager_step("lean")
    x = pairs.update(positions, tags, nlocal)
    numbers = model.atomic_numbers(np.ones(pairs.natoms, dtype=np.int64))
    step.prepare(pairs, numbers)
    eager.prepare(pairs, numbers)
    return step.evaluate(pairs, x), eager.evaluate(pairs, x)


def assert_same(fixed, eager):
    (e1, f1, v1), (e2, f2, v2) = fixed, eager
    assert e1 == pytest.approx(e2, rel=1e-12) and f1.shape == f2.shape
    assert np.abs(f1 - f2).max() <= 1e-10 * np.abs(f2).max() and np.abs(f2).max() > 1e-3
    assert np.allclose(v1, v2, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("compact_min_atoms", [0, 10**9], ids=["pairs within the cutoff", "every candidate"])
def test_fixed_shape_step_matches_the_eager_step_through_refills_and_growth(untrained_model, compact_min_atoms):
    model = ExportedModel(load_exported_model(untrained_model["model"]), "cpu", "float64")
    step = CapturedLeanStep(model.eager_step("lean").pair_forces.lean, "cpu", torch.float64, compact_min_atoms)
    pairs = VerletPairs(4.0, skin=1.0)
    positions, tags, nlocal = cluster(seed=7, nlocal=120, nforeign=60)
    positions = positions * 1.25  # silver-like spacing, so the far candidates (4-5 A) are many
    assert_same(*both_steps(model, step, pairs, positions, tags, nlocal))
    capacity = step.pair_capacity
    smaller = cluster(seed=8, nlocal=100, nforeign=60)
    assert_same(*both_steps(model, step, pairs, smaller[0] * 1.25, *smaller[1:]))
    assert step.pair_capacity == capacity  # refilled in place, padding the rest
    larger = cluster(seed=9, nlocal=200, nforeign=80)
    assert_same(*both_steps(model, step, pairs, larger[0] * 1.25, *larger[1:]))
    assert step.pair_capacity > capacity  # grown (and, on a GPU, captured again)
    assert step.compact == (compact_min_atoms == 0)


def test_the_size_switched_step_captures_small_lists_runs_large_ones_eagerly_and_survives_a_failed_capture(
        untrained_model):
    model = ExportedModel(load_exported_model(untrained_model["model"]), "cpu", "float64")
    eager = model.eager_step("lean")
    captured = CapturedLeanStep(eager.pair_forces.lean, "cpu", torch.float64)
    step = SizeSwitchedStep(captured, eager, max_atoms=200)
    pairs = VerletPairs(4.0, skin=1.0)
    small, large = cluster(seed=7, nlocal=120, nforeign=60), cluster(seed=9, nlocal=200, nforeign=80)
    assert_same(*both_steps(model, step, pairs, small[0] * 1.25, *small[1:]))
    assert step.current is captured and step.name == "lean (CUDA graph)"
    assert_same(*both_steps(model, step, pairs, large[0] * 1.25, *large[1:]))
    assert step.current is eager and step.name == "lean (CUDA graph) for 1 of 2 steps"

    def cannot_capture(*args):
        raise RuntimeError("operation not permitted when stream is capturing")

    captured.prepare = cannot_capture
    assert_same(*both_steps(model, step, pairs, small[0] * 1.25, *small[1:]))
    assert step.current is eager and step.captured is None  # eager from now on


def test_only_pairs_within_the_cutoff_reach_the_network_and_a_step_with_more_grows_its_buffer(untrained_model):
    """The candidates reach cutoff + skin; the fixed-shape step compacts those within the cutoff each step. When
    atoms close in (here: the cluster shrunk by 15% without a new list) more pairs fall within the cutoff than
    the buffer was sized for: the step must grow it and still give the eager step's forces."""
    model = ExportedModel(load_exported_model(untrained_model["model"]), "cpu", "float64")
    step = CapturedLeanStep(model.eager_step("lean").pair_forces.lean, "cpu", torch.float64, compact_min_atoms=100)
    pairs = VerletPairs(4.0, skin=1.0)
    positions, tags, nlocal = cluster(seed=7, nlocal=120, nforeign=60)
    positions = positions * 1.25
    assert_same(*both_steps(model, step, pairs, positions, tags, nlocal))
    assert step.compact
    within = pairs.count_within_cutoff()
    assert within < 0.8 * len(pairs.candidates()[0])  # the skin's candidates are many: compaction pays
    assert within <= step.kept_capacity <= 1.25 * within + 1
    capacity = step.kept_capacity
    eager = model.eager_step("lean")
    eager.prepare(pairs, model.atomic_numbers(np.ones(pairs.natoms, dtype=np.int64)))
    closer = pairs.update(positions, tags, nlocal) * 0.85  # no rebuild: the same candidates, more within the cutoff
    assert len(pairs.within_cutoff(closer)[0]) > capacity
    assert_same(step.evaluate(pairs, closer), eager.evaluate(pairs, closer))
    assert step.kept_capacity > capacity
