"""--dry-run prints the plan and submits nothing; Slurm sites map onto SlurmProvider + MPIExecutor."""
import subprocess
import sys
from pathlib import Path

from mlmd_parsl.config import load_site_config
from mlmd_parsl.orchestration.sites import parsl_config_for
from tests.conftest import FIXTURES, REPO, child_env


# The real-data sites' set (Ag_warm_nospin.xyz) is not on this machine: a one-frame 71-atom Ag set stands in.
STAND_IN_DATA = ("--set", f"dataset.path={FIXTURES / 'ag_frame.xyz'}", "--set", "dataset.md5=none")


def run_dry(tmp_path, *args):
    """The dry run with no Slurm to ask: SLURM_CONF unset (the Slurm tests set it while their cluster runs)."""
    env = child_env()
    env.pop("SLURM_CONF", None)
    return subprocess.run([sys.executable, "-m", "mlmd_parsl", "--dry-run", "--set", f"runs_dir={tmp_path}", *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def dry_run(tmp_path, *args):
    if "chicoma" in args or "crossroads" in args:
        args = args + STAND_IN_DATA
    result = run_dry(tmp_path, *args)
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
    # each case's size next to its name: the 71-atom synthetic box replicated 2 x 2 x zrep
    assert "[md_z2_r1] 568 atoms on mpi" in out and "[md_z8_r2] 2,272 atoms on mpi" in out
    for task in ("prepare_dataset", "train_model", "export_for_lammps", "validate_exported_model", "collect_results"):
        assert f"[{task}] on cpu (HighThroughputExecutor)" in out


def test_crossroads_dry_run_prints_srun_commands_deck_and_sbatch_scripts(tmp_path):
    out = dry_run(tmp_path, "--site", "crossroads", "--set", "provider.account=xyz123")
    srun = [l.strip() for l in out.splitlines() if l.strip().startswith("cd ") and " srun " in l]
    assert len(srun) == 11  # 2 sizes x 5 rank counts, and the site engine's preflight (run 0, one rank)
    preflight = [l for l in srun if "site_engine_preflight" in l]
    assert len(preflight) == 1 and "srun --ntasks 1 " in preflight[0]
    # every launch of the site's lmp gets the model-load override and the venv on the embedded Python's path
    assert all("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1" in l and "-m mlmd_parsl.science.lammps.site_lammps)" in l for l in srun)
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
        # the driver's venv need not be on PATH (python -m from .venv/bin/python, a detached driver)
        command = executor.interchange_launch_cmd
        assert Path(command if isinstance(command, str) else command[0]).is_file()


def test_chicoma_dry_run_packs_single_gpu_sizes_and_spreads_weak_scaling_over_nodes(tmp_path):
    out = dry_run(tmp_path, "--site", "chicoma", "--set", "provider.account=abc")
    packed = [l for l in out.splitlines() if l.startswith("[md_z") and "one worker per GPU" in l]
    assert len(packed) == 11  # 568 ... 18,176 atoms, each on its own GPU, no MPI launcher
    commands = [l.strip() for l in out.splitlines() if l.strip().startswith("cd ")]
    assert sum(" srun " not in c and "lmp -k on g 1 " in c for c in commands) == 11
    weak = [c for c in commands if "/md/weak_r" in c]
    assert len(weak) == 5  # 1, 2, 4, 8, 12 GPUs
    assert any("srun --ntasks 12 --ntasks-per-node 4 --nodelist <node1>,<node2>,<node3> --nodes 3 --cpus-per-task 16 "
               "lmp -k on g 4 " in c for c in weak)
    assert "replicate 2 2 2\n" in out  # the first case's deck
    assert "#SBATCH --gpus-per-node=4" in out and "#SBATCH --nodes=3" in out and "#SBATCH --account=abc" in out


def test_chicoma_dry_run_shows_the_kokkos_line_current_lammps_accepts_and_the_preflights_two_tries(tmp_path):
    out = dry_run(tmp_path, "--site", "chicoma", "--set", "provider.account=abc")
    commands = [l.strip() for l in out.splitlines() if l.strip().startswith("cd ")]
    cases = [c for c in commands if "/md/md_z" in c or "/md/weak_r" in c]
    assert len(cases) == 16 and all("-sf kk -pk kokkos newton on neigh half -in in.lammps" in c for c in cases)
    probes = [c for c in commands if "/md/site_engine_preflight" in c]
    assert [p.split("-pk kokkos ")[1].split(" -in")[0] for p in probes] == ["neigh full newton on", "newton on neigh half"]
    assert "try 2 of 2, only if LAMMPS refuses the previous one with \"Must use 'newton off'" in out
    assert "the preflight keeps that and the cases run it" in out

    explicit = dry_run(tmp_path, "--site", "chicoma", "--set", "md.kokkos_package=neigh full newton on")
    commands = [l.strip() for l in explicit.splitlines() if l.strip().startswith("cd ")]
    assert all("-pk kokkos neigh full newton on -in" in c for c in commands if "lmp -k" in c)
    assert sum("/md/site_engine_preflight" in c for c in commands) == 1


def test_weak_scaling_cases_hold_85200_atoms_per_gpu():
    from mlmd_parsl.orchestration.cases import md_cases, mpi_resources

    site = load_site_config("chicoma")
    weak = [c for c in md_cases(site, Path("/r")) if c.sweep == "weak"]
    assert [(c.ranks, c.replicate) for c in weak] == [
        (1, (2, 2, 300)), (2, (2, 2, 600)), (4, (2, 2, 1200)), (8, (2, 2, 2400)), (12, (2, 2, 3600))]
    assert all(71 * 2 * 2 * c.zrep == 85_200 * c.ranks for c in weak)
    assert not any(c.packed for c in weak)
    assert weak[0].log == Path("/r/md/weak_r1/log.lammps")
    assert mpi_resources(site, 8) == {"num_nodes": 2, "num_ranks": 8, "ranks_per_node": 4,
                                      "launcher_options": "--cpus-per-task 16"}


def test_gpu_site_python_executor_has_one_worker_per_gpu(tmp_path):
    site = load_site_config("chicoma")
    cpu = next(e for e in parsl_config_for(site, Path(tmp_path)).executors if e.label == "cpu")
    assert cpu.max_workers_per_node == 4 and list(cpu.available_accelerators) == ["0", "1", "2", "3"]


def test_a_dry_run_with_a_real_dataset_counts_atoms_from_its_first_frame(tmp_path):
    out = dry_run(tmp_path, "--site", "local", "--set", f"dataset.path={FIXTURES / 'ag_frame.xyz'}", "--set", "md.zreps=[3]")
    import ase.io

    atoms = len(ase.io.read(FIXTURES / "ag_frame.xyz", index=0)) * 12
    assert f"[md_z3_r1] {atoms:,} atoms on mpi" in out


def test_help_names_the_fetch_data_command():
    result = subprocess.run([sys.executable, "-m", "mlmd_parsl", "--help"], env=child_env(), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and "python -m mlmd_parsl COMMAND" in result.stdout and "fetch-data:" in result.stdout


def test_a_slurm_dry_run_without_account_warns_and_counts_node_hours_and_atoms(tmp_path):
    result = run_dry(tmp_path, "--site", "chicoma", *STAND_IN_DATA)
    assert result.returncode == 0, result.stderr
    assert "warning: provider.account is empty" in result.stderr and "--set provider.account=YOUR_ACCOUNT" in result.stderr
    assert "provider.partition is empty" not in result.stderr and "walltime is the default" not in result.stderr
    out = result.stdout
    # chicoma: a 1-node python block and a 3-node MPI block, each for 4 h, 4 GPUs per node
    assert "'cpu': 1 node(s) x 4 h = at most 4 node-hours (16 GPU-hours)" in out
    assert "'mpi': 3 node(s) x 4 h = at most 12 node-hours (48 GPU-hours)" in out
    assert "total: at most 16 node-hours at a time (64 GPU-hours)" in out
    assert "Slurm on 'cpu' (sbatch --test-only) could not be asked" in out or "sbatch is not on PATH" in out
    cases = [l for l in out.splitlines() if l.startswith(("[md_z", "[weak_r"))]
    assert len(cases) == 16 and all(" atoms on " in l for l in cases)
    assert "[weak_r12] 1,022,400 atoms on mpi" in out  # 85,200 per GPU on 12 GPUs


def test_a_slurm_site_left_at_the_defaults_warns_about_partition_and_walltime(tmp_path, tmp_path_factory):
    site = tmp_path_factory.mktemp("site") / "bare.yaml"
    site.write_text("name: bare\nprovider:\n  kind: slurm\n  cores_per_node: 8\n")
    result = run_dry(tmp_path, "--site", str(site))
    assert result.returncode == 0, result.stderr
    warnings = [l for l in result.stderr.splitlines() if l.startswith("warning:")]
    assert len(warnings) == 3 and "provider.partition is empty" in result.stderr
    assert "provider.walltime is the default 01:00:00" in result.stderr


def test_a_dry_run_checks_the_dataset_like_the_real_run(tmp_path):
    result = run_dry(tmp_path, "--site", "chicoma", "--set", "provider.account=abc",
                     "--set", f"dataset.path={tmp_path / 'Ag_warm_nospin.xyz'}")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"error: dataset file not found: {tmp_path / 'Ag_warm_nospin.xyz'}" in result.stderr
    assert "fetch-data" in result.stderr and result.stdout == ""
    (tmp_path / "Ag_warm_nospin.xyz").write_text((FIXTURES / "ag_frame.xyz").read_text())  # not the seed's file
    result = run_dry(tmp_path, "--site", "chicoma", "--set", "provider.account=abc",
                     "--set", f"dataset.path={tmp_path / 'Ag_warm_nospin.xyz'}")
    assert result.returncode == 2 and "MD5" in result.stderr and "--set dataset.md5=" in result.stderr
