"""The lean network compiled by torch.compile gives the lean network's energy, forces and virial (here compiled
for the CPU, with inductor's C++ back-end; tests/gpu runs the Triton one inside the captured GPU step), and a
captured step whose compilation fails goes on with the network uncompiled."""
import math
import shutil

import pytest
import torch

from mlmd_parsl.science.engine.captured_step import CapturedLeanStep
from mlmd_parsl.science.engine.compiled_network import CompiledLean, why_not_compiled
from mlmd_parsl.science.engine.model_steps import CUDA_GRAPH_MAX_ATOMS, ExportedModel
from mlmd_parsl.science.engine.pairs import VerletPairs
from mlmd_parsl.science.model.export import load_exported_model
from tests.unit.engine.test_captured_step import assert_same, both_steps
from tests.unit.engine.test_pairs import cluster


@pytest.mark.skipif(shutil.which("g++") is None and shutil.which("c++") is None,
                    reason="torch.compile's CPU back-end needs a C++ compiler (none on this machine)")
def test_the_compiled_network_in_the_fixed_shape_step_matches_the_eager_step(untrained_model):
    model = ExportedModel(load_exported_model(untrained_model["model"]), "cpu", "float64")
    lean = model.eager_step("lean").pair_forces.lean
    step = CapturedLeanStep(lean, "cpu", torch.float64, compact_min_atoms=0, compile_network=True)
    assert isinstance(step.network, CompiledLean) and step.name == "lean (CUDA graph, compiled)"
    assert step.max_atoms == math.inf
    pairs = VerletPairs(4.0, skin=1.0)
    positions, tags, nlocal = cluster(seed=7, nlocal=120, nforeign=60)
    assert_same(*both_steps(model, step, pairs, positions * 1.25, tags, nlocal))


def test_a_failed_compilation_leaves_the_captured_step_uncompiled(untrained_model, capsys):
    model = ExportedModel(load_exported_model(untrained_model["model"]), "cpu", "float64")
    lean = model.eager_step("lean").pair_forces.lean
    step = CapturedLeanStep(lean, "cpu", torch.float64, compact_min_atoms=0, compile_network=True)
    step.capturable = True  # as on a GPU: every buffer growth captures
    attempts = []

    def capture_graph():
        attempts.append(step.network)
        if step.network is not lean:
            raise RuntimeError("triton: no kernel for this GPU")

    step._capture_graph = capture_graph
    pairs = VerletPairs(4.0, skin=1.0)
    positions, tags, nlocal = cluster(seed=7, nlocal=120, nforeign=60)
    pairs.update(positions * 1.25, tags, nlocal)
    step.prepare(pairs, model.atomic_numbers(torch.ones(pairs.natoms, dtype=torch.int64).numpy()))
    assert step.network is lean and step.name == "lean (CUDA graph)" and len(attempts) == 2
    assert step.max_atoms == CUDA_GRAPH_MAX_ATOMS  # uncompiled, large lists go to the eager step again
    assert "torch.compile of the lean network failed (RuntimeError: triton" in capsys.readouterr().err


def test_the_compiled_network_is_for_gpus():
    assert why_not_compiled("cpu") == "torch.compile is used on a GPU only"
