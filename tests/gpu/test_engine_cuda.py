"""The embedded engine with the model on CUDA gives the CPU engine's forces (float32 tolerance)."""
import subprocess
import sys

import numpy as np
import pytest

from mlmd_parsl.science.reference_forces import read_force_dump
from tests.conftest import child_env

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (none on this machine)"),
]


def forces(model, box, device, out_dir, replicate=(2, 2, 4)):
    dump = out_dir / f"forces_{device.replace(':', '')}.dump"
    subprocess.run(
        [sys.executable, "-m", "mlmd_parsl.md", "--model", str(model), "--box", str(box), "--replicate",
         *map(str, replicate), "--steps", "0", "--device", device, "--dump-forces", str(dump),
         "--log", str(out_dir / f"log_{device.replace(':', '')}.lammps")],
        env=child_env(), check=True, capture_output=True, text=True, timeout=600,
    )
    return read_force_dump(dump)


def test_cuda_forces_equal_cpu_forces(untrained_model, tmp_path):
    ids_cpu, _, f_cpu, _ = forces(untrained_model["model"], untrained_model["box"], "cpu", tmp_path)
    ids_gpu, _, f_gpu, _ = forces(untrained_model["model"], untrained_model["box"], "cuda", tmp_path)
    assert np.array_equal(ids_cpu, ids_gpu) and len(ids_cpu) == 1136
    assert np.abs(f_cpu - f_gpu).max() <= 1e-5 * np.abs(f_cpu).max() + 1e-6
