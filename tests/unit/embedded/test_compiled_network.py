"""The lean network compiled by torch.compile gives the lean network's energy, forces and virial (here compiled
for the CPU, with inductor's C++ back-end; tests/gpu runs the Triton one inside the captured GPU step), and a
captured step whose compilation fails goes on with the network uncompiled."""
import math
import shutil
from types import SimpleNamespace

import pytest
import torch

from mlmd_parsl.science.embedded.captured_step import CapturedLeanStep
from mlmd_parsl.science.embedded.compiled_network import CompiledLean, why_not_compiled
from mlmd_parsl.science.embedded.captured_step import CUDA_GRAPH_MAX_ATOMS
from mlmd_parsl.science.embedded.model_steps import ExportedModel
from mlmd_parsl.science.embedded.pairs import VerletPairs
from mlmd_parsl.science.model.export import load_exported_model
from tests.unit.embedded.test_captured_step import assert_same, both_steps
from tests.unit.embedded.test_pairs import cluster


needs_cpp = pytest.mark.skipif(shutil.which("g++") is None and shutil.which("c++") is None,
                               reason="torch.compile's CPU back-end needs a C++ compiler (none on this machine)")


@needs_cpp
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
    step.graph.capturable = True  # as on a GPU: every buffer growth captures
    attempts = []

    def capture():
        attempts.append(step.network)
        if step.network is not lean:
            raise RuntimeError("triton: no kernel for this GPU")
        step.graph.graph = SimpleNamespace(replay=step.graph.body)  # captured: a replay runs the body

    step.graph.capture = capture
    pairs = VerletPairs(4.0, skin=1.0)
    positions, tags, nlocal = cluster(seed=7, nlocal=120, nforeign=60)
    pairs.update(positions * 1.25, tags, nlocal)
    step.prepare(pairs, model.atomic_numbers(torch.ones(pairs.natoms, dtype=torch.int64).numpy()))
    assert step.network is lean and step.name == "lean (CUDA graph)" and len(attempts) == 2
    assert step.max_atoms == CUDA_GRAPH_MAX_ATOMS  # uncompiled, large lists go to the eager step again
    assert "torch.compile of the lean network failed (RuntimeError: triton" in capsys.readouterr().err


def test_without_a_cpp_compiler_the_cpu_network_is_not_compiled(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("CXX", raising=False)
    assert why_not_compiled("cpu") == "no C++ compiler found (torch.compile's CPU kernels need one)"


@needs_cpp
def test_compile_on_gives_the_cpu_eager_step_a_compiled_network_with_the_same_forces(untrained_model):
    model = ExportedModel(load_exported_model(untrained_model["model"]), "cpu", "float64")
    step = model.step("lean", compile_network="on")
    # auto: the fused numba step on a CPU; torch's step uncompiled when torch is asked for
    assert step.name == "lean (compiled)" and model.step("lean", pair_kernels="torch").name == "lean"
    assert "fused CPU step" in model.step("lean").name
    pairs = VerletPairs(4.0, skin=1.0)
    for seed, nlocal in ((7, 120), (8, 100)):  # two pair counts: one dynamic-shape compilation serves both
        positions, tags, nlocal = cluster(seed=seed, nlocal=nlocal, nforeign=60)
        assert_same(*both_steps(model, step, pairs, positions * 1.25, tags, nlocal))
    assert step.name == "lean (compiled)"


def test_a_failed_compilation_leaves_the_eager_step_uncompiled(untrained_model, capsys):
    model = ExportedModel(load_exported_model(untrained_model["model"]), "cpu", "float64")
    step = model.eager_step("lean", compiled=True)

    def cannot_compile(*args):
        raise RuntimeError("InductorError: C++ compile error")

    step.pair_forces.network.energy = cannot_compile
    pairs = VerletPairs(4.0, skin=1.0)
    positions, tags, nlocal = cluster(seed=7, nlocal=120, nforeign=60)
    assert_same(*both_steps(model, step, pairs, positions * 1.25, tags, nlocal))
    assert step.name == "lean" and "it runs uncompiled" in capsys.readouterr().err


def test_an_unknown_compile_choice_is_refused(untrained_model):
    model = ExportedModel(load_exported_model(untrained_model["model"]), "cpu", "float64")
    with pytest.raises(ValueError, match="compile_network 'yes': one of auto, on, off"):
        model.step("lean", compile_network="yes")
