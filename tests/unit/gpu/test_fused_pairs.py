"""The fused Triton pair kernels (fused_pairs.py) compute LeanHipnn's energy and pair forces: checked here on a
CPU under Triton's interpreter (on the GPU by tests/gpu). Skipped where triton is not installed."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def fused_against_torch(untrained_model):
    pytest.importorskip("triton", reason="triton is not installed (pip install triton: the fused kernels' compiler)")
    env = {**os.environ, "TRITON_INTERPRET": "1", "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-m", "tests.unit.gpu.fused_pairs_check", str(untrained_model["model"])],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("dtype, tolerance", [("float64", 1e-12), ("float32", 2e-5)])
def test_fused_kernels_give_the_torch_energy_and_pair_forces(fused_against_torch, dtype, tolerance):
    result = fused_against_torch[dtype]
    assert result["fused"] and result["dtype"] == f"torch.{dtype}"
    assert result["force_scale"] > 0.01  # real forces, not zeros
    assert result["force_error"] <= tolerance * result["force_scale"]
    assert result["energy"] == pytest.approx(result["ref_energy"], rel=tolerance)
    assert result["sorted_force_error"] <= tolerance * result["force_scale"]
    assert result["sorted_energy"] == pytest.approx(result["ref_energy"], rel=tolerance)


def test_pairs_of_atoms_beyond_natoms_add_nothing_and_get_zero_gradient(fused_against_torch):
    for dtype, tolerance in (("float64", 1e-12), ("float32", 2e-5)):
        result = fused_against_torch[dtype]
        assert result["beyond_pairs"] > 0 and result["beyond_grad_kept"] > 0
        assert result["beyond_grad"] == 0.0
        assert result["beyond_sums_error"] <= tolerance * result["force_scale"]


def test_padding_pairs_far_away_get_exactly_zero_force(fused_against_torch):
    for dtype in ("float64", "float32"):
        assert fused_against_torch[dtype]["padding_force"] == 0.0
        assert fused_against_torch[dtype]["no_pairs_forces"] == 0


def test_the_lean_exports_captured_mliap_step_gives_the_torch_results_as_ml_iap_wants_them(fused_against_torch):
    """Three steps through one set of buffers (the second with fewer pairs and atoms, the third with its pairs out
    of order): energy, per-atom energies and float64 pair forces as the torch arithmetic gives them (float32
    model)."""
    result = fused_against_torch["mliap_step"]
    assert result["forces_dtype"] == "torch.float64"
    assert result["pair_capacity"] >= result["npairs_first"]
    assert result["energy"] < 1e-5 and result["force"] < 2e-5 and result["eatoms"] < 1e-4


def _compile(dtype, coord, arch):
    pytest.importorskip("triton", reason="triton is not installed (pip install triton: the fused kernels' compiler)")
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from mlmd_parsl.science.gpu.fused_pairs import BLOCK_PAIRS, kernel_signatures

    constexprs = {"NDIST": 16, "NF": 8, "BLOCK": BLOCK_PAIRS}
    return [triton.compile(ASTSource(kernel, signature, constexprs=constexprs), target=GPUTarget("cuda", arch, 32))
            for kernel, signature in kernel_signatures(dtype, coord)]


@pytest.mark.parametrize("arch", [90, 80])  # the lent H100/H200 and Chicoma's A100
@pytest.mark.parametrize("dtype, coord", [("fp32", "fp64"), ("fp32", "fp32")])
def test_both_kernels_compile_for_hopper_and_ampere_gpus(dtype, coord, arch):
    """Triton's interpreter runs what its compiler refuses (a plain global read inside a kernel did): compile both
    kernels ahead of time here, no GPU needed, to a cubin."""
    for compiled in _compile(dtype, coord, arch):
        assert len(compiled.asm["cubin"]) > 1000


def test_float64_kernels_do_no_float32_arithmetic():
    """A Python float inside a Triton kernel is a float32: constants written as literals made the float64 kernels
    round pi / hard_max and 1/3 to float32 (a float64 trajectory drifted 4.8e-5 A from torch's). The float64 PTX
    converts nothing from float32 and does no float32 arithmetic (libdevice's range checks compare float32
    words: those are allowed)."""
    import re

    for compiled in _compile("fp64", "fp64", 90):
        ptx = compiled.asm["ptx"]
        assert "cvt.f64.f32" not in ptx
        assert not re.findall(r"\b(?:add|sub|mul|fma|div|sqrt|rcp|ex2|sin|cos)\.[a-z.]*f32\b", ptx)
