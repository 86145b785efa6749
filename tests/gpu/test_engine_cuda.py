"""The embedded engine with the model on CUDA (lean step replayed as a CUDA graph) gives the CPU engine's
forces, and the same trajectory as the eager lean step and hippynn's own graph on the GPU."""
import subprocess
import sys

import numpy as np
import pytest

from mlmd_parsl.science.validation.reference import read_force_dump
from tests.conftest import child_env

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (none on this machine)"),
]


def forces(model, box, device, out_dir, replicate=(2, 2, 4), steps=0, extra=(), name=None):
    name = name or device.replace(":", "")
    dump = out_dir / f"forces_{name}.dump"
    result = subprocess.run(
        [sys.executable, "-m", "mlmd_parsl.md", "--model", str(model), "--box", str(box), "--replicate",
         *map(str, replicate), "--steps", str(steps), "--device", device, "--dump-forces", str(dump),
         "--log", str(out_dir / f"log_{name}.lammps"), *extra],
        env=child_env(), capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return read_force_dump(dump), result.stdout


@pytest.mark.parametrize("kernels, step", [("triton", "lean (CUDA graph, fused pair kernels)"),
                                           ("auto", "lean (CUDA graph, compiled)")])
@pytest.mark.parametrize("compact", ["0", "1000000"], ids=["pairs within the cutoff", "every candidate"])
def test_cuda_forces_equal_cpu_forces(untrained_model, tmp_path, compact, kernels, step):
    """float32: the captured GPU step (by default compiled; with the fused pair kernels) against the CPU's eager
    lean step."""
    (ids_cpu, _, f_cpu, _), _ = forces(untrained_model["model"], untrained_model["box"], "cpu", tmp_path)
    (ids_gpu, _, f_gpu, _), out = forces(untrained_model["model"], untrained_model["box"], "cuda", tmp_path,
                                         extra=("--compact-min-atoms", compact, "--pair-kernels", kernels))
    assert f"{step} model step" in out
    assert np.array_equal(ids_cpu, ids_gpu) and len(ids_cpu) == 1136
    assert np.abs(f_cpu - f_gpu).max() <= 1e-5 * np.abs(f_cpu).max() + 1e-6


def test_captured_step_follows_the_eager_steps_over_a_trajectory(untrained_model, tmp_path):
    """60 steps in float64 on the GPU: the replayed graph with the fused pair kernels (candidate lists rebuilt and
    refilled on the way), with torch's compiled and uncompiled, the eager step with the fused kernels, and
    hippynn's own graph stay together."""
    runs = {}
    fused = ("--pair-kernels", "triton")
    for name, extra in (("graph", fused), ("compiled", ()), ("uncompiled", ("--compile", "off")),
                        ("eager", ("--no-cuda-graph", *fused)), ("hippynn", ("--model-step", "hippynn"))):
        (ids, x, f, _), out = forces(untrained_model["model"], untrained_model["box"], "cuda", tmp_path,
                                     replicate=(2, 2, 2), steps=60, extra=("--dtype", "float64", *extra), name=name)
        runs[name] = (ids, x, f, out)
    assert "lean (CUDA graph, fused pair kernels) model step" in runs["graph"][3]
    assert "lean (CUDA graph, compiled) model step" in runs["compiled"][3]
    assert "lean (CUDA graph) model step" in runs["uncompiled"][3]
    assert "lean + fused pair kernels model step" in runs["eager"][3] and "hippynn model step" in runs["hippynn"][3]
    for other in ("compiled", "uncompiled", "eager", "hippynn"):
        assert np.array_equal(runs["graph"][0], runs[other][0])
        assert np.abs(runs["graph"][1] - runs[other][1]).max() < 1e-8
        assert np.abs(runs["graph"][2] - runs[other][2]).max() < 1e-8
