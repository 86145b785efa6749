"""The benchmark harness runs end to end (tiny sizes); its numbers are not asserted, only that each column came."""
import json
import re
import subprocess
import sys

import pytest

from tests.conftest import FIXTURES, REPO, child_env

pytestmark = [pytest.mark.slow]

BENCHMARKS = REPO / "benchmarks"
ENTRY_POINTS = sorted(p.name for p in BENCHMARKS.glob("*.py") if 'if __name__ == "__main__":' in p.read_text())


def test_the_benchmarks_have_entry_points_and_shell_scripts_parse():
    assert {"harness.py", "cpu_model_step.py", "crossroads_prediction.py", "md_sizes.py"} <= set(ENTRY_POINTS)
    for script in sorted(BENCHMARKS.glob("*.sh")):
        result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, f"{script.name}: {result.stderr}"


@pytest.mark.parametrize("script", ENTRY_POINTS)
def test_every_benchmark_entry_point_parses_its_options(script):
    """Each script's --help: its module loads and its options parse (the real runs are the tests beside it and
    benchmarks/RESULTS.md's commands; test_architecture resolves every name they import from the package)."""
    result = subprocess.run([sys.executable, str(BENCHMARKS / script), "--help"], cwd=REPO, env=child_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("usage: "), result.stderr[-2000:]


@pytest.mark.long(reason=(
    'every MD column of the benchmark harness at two sizes, about 2 minutes; '
    'the profiler test beside it runs the same model steps'
))
def test_harness_runs_every_md_column(untrained_model, tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "harness.py"), "--model", str(untrained_model["model"]),
         "--box", str(FIXTURES / "ag_box.data"), "--state", str(untrained_model["state"]), "--zreps", "1", "2",
         "--ranks", "1", "--timed-steps", "2", "--engine-variant", "--pair-skin 0", "--out", str(tmp_path)],
        cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    result = json.loads((tmp_path / "harness.json").read_text())
    assert [row["atoms"] for row in result["md"]] == [284, 568]
    for row in result["md"]:
        assert all(row[k] > 0 for k in ("engine_1", "model", "stock", "ase_md", "eam_1", "engine_over_model",
                                   "engine_over_stock", "engine_over_ase", "variant_1", "variant_over_engine"))
        for column in ("engine_1", "variant_1"):  # where each one's timed steps went
            profile = row[f"{column}_profile"]
            assert profile["timed_steps"] == 2 and profile["callback_ms_per_step"]["model"] > 0
        assert row["variant_1_profile"]["pair_builds_rank0"] >= 2  # --pair-skin 0 finds pairs every step
    assert set(result["step_cost_fit"]) == {"engine_1", "model", "stock", "eam_1"}  # two sizes: floor + slope fitted
    assert (tmp_path / "step_cost.png").stat().st_size > 5_000
    from mlmd_parsl.science.lammps.logs import parse_log

    for engine in ("embedded", "embedded_variant", "eam"):  # --timed-steps reached every MD column's timed stage
        (log,) = tmp_path.glob(f"harness-*/{engine}_z2_r1.log")
        assert parse_log(log).timed_steps == 2, engine


def test_model_step_profiler_times_each_variant_on_the_engines_own_pairs(untrained_model):
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "profile_model_step.py"), "--model", str(untrained_model["model"]),
         "--box", str(FIXTURES / "ag_box.data"), "--zreps", "1", "--device", "cpu", "--repeats", "1", "--rounds", "1",
         "--variants", "eager", "compacted", "--kernels", "eager", "--compare-finders"],
        cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out = result.stdout
    atoms, ghosts, candidates, within = map(int, re.search(
        r"(\d+) atoms, (\d+) ghosts, (\d+) candidate pairs, (\d+) within the cutoff", out).groups())
    assert atoms == 284 and ghosts > 0 and candidates > within > 10 * atoms  # fcc silver: 12 neighbours within 4 A
    for line in ("step: eager (evaluate, forces on host)", "step: compacted (evaluate, forces on host)",
                 "forces to host (pageable)", "kernels of eager:", "rebuild: k-d tree (host)", "rebuild: cell list"):
        assert line in out


def test_harness_compares_the_trainers_on_a_dataset(trained_model, tmp_path):
    """--dataset alone: the training columns (the comparison RESULTS.md quotes), one epoch each."""
    (dataset,) = trained_model["dir"].parent.glob("cache/*/synthetic_*.xyz")
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "harness.py"), "--dataset", str(dataset), "--epochs", "2",
         "--trainers", "hippynn", "lean", "--out", str(tmp_path)],
        cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    training = json.loads((tmp_path / "harness.json").read_text())["training"]
    assert training["hippynn"]["epochs"] == training["lean"]["epochs"] == 2
    assert training["lean_speedup_vs_hippynn"] > 0 and "lean is" in result.stdout
