"""--dry-run prints the plan and submits nothing; Slurm sites map onto SlurmProvider + MPIExecutor."""
import subprocess
import sys
from pathlib import Path

from mlmd_parsl.config import load_site_config
from mlmd_parsl.orchestration.sites import parsl_config_for
from tests.conftest import REPO, child_env


def dry_run(tmp_path, *args):
    result = subprocess.run(
        [sys.executable, "-m", "mlmd_parsl", "--dry-run", "--set", f"runs_dir={tmp_path}", *args],
        cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.iterdir()) == []  # no run directory, nothing submitted
    return result.stdout


def test_local_dry_run_prints_runnable_mpiexec_commands(tmp_path):
    out = dry_run(tmp_path, "--site", "local")
    md_lines = [l.strip() for l in out.splitlines() if "-m mlmd_parsl.md" in l]
    assert len(md_lines) == 6  # 3 sizes x {1, 2} ranks
    assert any("mpiexec -n 2 -ppn 2 -hosts localhost" in l and "--replicate 2 2 8" in l for l in md_lines)
    assert any("mpiexec -n 1 -ppn 1 -hosts localhost" in l and "OMP_NUM_THREADS=2" in l for l in md_lines)
    assert "$PARSL_MPI_PREFIX" not in out and "#SBATCH" not in out
    for task in ("prepare_dataset", "train_model", "export_for_lammps", "validate_exported_model", "collect_results"):
        assert f"[{task}] on cpu (HighThroughputExecutor)" in out


def test_crossroads_dry_run_prints_srun_commands_deck_and_sbatch_scripts(tmp_path):
    out = dry_run(tmp_path, "--site", "crossroads", "--set", "provider.account=xyz123")
    srun = [l.strip() for l in out.splitlines() if l.strip().startswith("cd ") and " srun " in l]
    assert len(srun) == 10  # 2 sizes x 5 rank counts
    assert any("srun --ntasks 112 --ntasks-per-node 112 --nodelist <node1> --nodes 1 --hint=nomultithread "
               "--cpus-per-task 1 lmp -in in.lammps" in l for l in srun)
    assert all("OMP_NUM_THREADS=1" in l for l in srun)
    assert "pair_style mliap unified" in out and "replicate 2 2 16" in out and "run 10000" in out
    assert out.count("#!/bin/bash") == 2  # one batch script per executor
    for line in ("#SBATCH --exclusive", "#SBATCH --partition=standard", "#SBATCH --account=xyz123", "#SBATCH --time=480"):
        assert line in out


def test_slurm_site_maps_to_slurm_providers_without_submitting(tmp_path):
    site = load_site_config("crossroads", ["provider.account=xyz"])
    config = parsl_config_for(site, Path(tmp_path))
    labels = {e.label: e for e in config.executors}
    assert set(labels) == {"cpu", "mpi"}
    assert type(labels["mpi"]).__name__ == "MPIExecutor" and labels["mpi"].mpi_launcher == "srun"
    for executor in config.executors:
        provider = executor.provider
        assert type(provider).__name__ == "SlurmProvider" and provider.walltime == "08:00:00"
        assert "#SBATCH --account=xyz" in provider.scheduler_options
        assert executor.encrypted
