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
    md_lines = [line.strip() for line in out.splitlines() if "-m mlmd_parsl.md" in line]
    assert len(md_lines) == 6  # 3 sizes x {1, 2} ranks
    assert any("mpiexec -n 2 -ppn 2 -hosts localhost" in line and "--replicate 2 2 8" in line for line in md_lines)
    assert any("mpiexec -n 1 -ppn 1 -hosts localhost" in line and "OMP_NUM_THREADS=2" in line for line in md_lines)
    assert "$PARSL_MPI_PREFIX" not in out and "#SBATCH" not in out
    # each case's size next to its name: the 71-atom synthetic box replicated 2 x 2 x zrep
    assert "[ours/md_z2_r1] 568 atoms on mpi" in out and "[ours/md_z8_r2] 2,272 atoms on mpi" in out
    for task in ("prepare_dataset", "ours/train_model", "ours/export_for_lammps", "ours/validate_exported_model",
                 "collect_results"):
        assert f"[{task}] on cpu (HighThroughputExecutor)" in out
    assert "# division ours: ours, as the site's training and md sections say" in out
    assert "#   MD differs from the seed's in: engine embedded" in out and "seed/" not in out


def test_crossroads_dry_run_prints_srun_commands_deck_and_sbatch_scripts(tmp_path):
    out = dry_run(tmp_path, "--site", "crossroads", "--set", "provider.account=xyz123")
    srun = [line.strip() for line in out.splitlines() if line.strip().startswith("cd ") and " srun " in line]
    assert len(srun) == 11  # 2 sizes x 5 rank counts, and the site engine's preflight (run 0, one rank)
    preflight = [line for line in srun if "site_engine_preflight" in line]
    assert len(preflight) == 1 and "srun --ntasks 1 " in preflight[0]
    # every launch of the site's lmp gets the model-load override and the venv on the embedded Python's path
    assert all("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1" in line and "-m mlmd_parsl.science.lammps.site_lammps)" in line
               for line in srun)
    assert any("srun --ntasks 112 --ntasks-per-node 112 --nodelist <node1> --nodes 1 --hint=nomultithread "
               "--cpus-per-task 1 --kill-on-bad-exit=1 lmp -in in.lammps" in line for line in srun)
    assert all("OMP_NUM_THREADS=1" in line for line in srun)
    assert "pair_style mliap unified" in out and "replicate 2 2 16" in out and "run 10000" in out
    # the seed division, as Run_Strong_CPU.bash: its export, one case after another; training on the whole node
    assert "#   training differs from the seed's in: nothing" in out
    # on 8 to 112 ranks, the one deviation today's LAMMPS forces: ML-IAP's pair arrays presized (issue 36)
    assert ("#   MD differs from the seed's in: forced by today's software: the deck first evaluates the box once "
            "compressed 0.93x") in out
    assert "change_box all x scale 0.93 y scale 0.93 z scale 0.93 remap\nrun 0 post no\n" in out
    assert "[seed/train_model] on cpu (HighThroughputExecutor); resources: 1 worker, whole node" in out
    assert "(torch threads: 112)" in out
    cases = [line for line in out.splitlines() if line.startswith("[seed/md_z")]
    assert len(cases) == 10 and "after" not in cases[0]
    assert all("; after seed/md_z" in line and "(one at a time, as the seed's script)" in line for line in cases[1:])
    assert "fix 3 all nve\nfix 4 all temp/rescale 100 1111 1111 1.0 1.0\nrun 10000\nunfix 4" in out
    assert out.count("#!/bin/bash") == 2  # one batch script per executor
    for line in ("#SBATCH --exclusive", "#SBATCH --partition=standard", "#SBATCH --account=xyz123",
                 "#SBATCH --time=480"):
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


def test_chicoma_dry_run_is_the_seeds_work_one_gpu_after_another_and_weak_scaling_bound_one_gpu_per_rank(tmp_path):
    out = dry_run(tmp_path, "--site", "chicoma", "--set", "provider.account=abc")
    sizes = [line for line in out.splitlines() if line.startswith("[seed/md_z")]
    assert len(sizes) == 11 and all("one worker per GPU" in line for line in sizes)  # 568 ... 18,176 atoms, one GPU
    assert all("; after seed/md_z" in line for line in sizes[1:])  # one after another, as Run_Throughput_GPU.bash
    commands = [line.strip() for line in out.splitlines() if line.strip().startswith("cd ")]
    assert sum(" srun " not in c and "lmp -k on g 1 " in c for c in commands) == 11
    weak = [c for c in commands if "/md/weak_r" in c]
    assert len(weak) == 3  # 1, 2 and 3 nodes of 4 GPUs, as Run_Weak_Parallel.bash per node count
    assert any("srun --ntasks 12 --ntasks-per-node 4 --nodelist <node1>,<node2>,<node3> --nodes 3 --cpus-per-task 16 "
               "--kill-on-bad-exit=1 bash -c 'export CUDA_VISIBLE_DEVICES=${SLURM_LOCALID:-" in c
               and "; exec lmp -k on g 1 " in c
               for c in weak)
    assert "[seed/weak_r12] 1,022,400 atoms on mpi" in out  # replicate 25 24 24
    assert "replicate 2 2 2\n" in out  # the first case's deck
    assert "#SBATCH --gpus-per-node=4" in out and "#SBATCH --nodes=3" in out and "#SBATCH --account=abc" in out
    assert "#   training differs from the seed's in: nothing" in out
    assert ("#   MD differs from the seed's in: forced by today's software: -pk kokkos newton on neigh half" in out)


def test_a_seed_site_adds_ours_after_the_seeds_work_with_every_difference_named(tmp_path):
    out = dry_run(tmp_path, "--site", "chicoma", "--set", "provider.account=abc", "--set", "divisions=[seed,ours]")
    tasks = [line.split("]")[0][1:] for line in out.splitlines() if line.startswith("[")]
    assert tasks.index("seed/weak_r12") < tasks.index("ours/train_model") < tasks.index("ours/md_z2_r1")
    ours = [line for line in out.splitlines() if line.startswith("[ours/md_z")]
    assert len(ours) == 11 and not any("after" in line for line in ours)  # ours packs them, one per GPU at once
    assert "# division ours: ours" in out and "export lean: our lean step inside pair_style mliap unified" in out
    assert "single-GPU cases run up to 4 at once, one per GPU (the seed: one after another on one GPU)" in out
    assert "pairs found once before training (the seed: by the periodic network every batch)" in out


def test_chicoma_dry_run_shows_the_kokkos_line_current_lammps_accepts_and_the_preflights_two_tries(tmp_path):
    out = dry_run(tmp_path, "--site", "chicoma", "--set", "provider.account=abc")
    commands = [line.strip() for line in out.splitlines() if line.strip().startswith("cd ")]
    cases = [c for c in commands if "/md/md_z" in c or "/md/weak_r" in c]
    assert len(cases) == 14 and all("-sf kk -pk kokkos newton on neigh half -in in.lammps" in c for c in cases)
    probes = [c for c in commands if "/md/site_engine_preflight" in c]
    assert [p.split("-pk kokkos ")[1].split(" -in")[0] for p in probes] == ["neigh full newton on",
                                                                           "newton on neigh half"]
    assert "try 2 of 2, only if LAMMPS refuses the previous one with \"Must use 'newton off'" in out
    assert "the preflight keeps that and the cases run it" in out

    explicit = dry_run(tmp_path, "--site", "chicoma", "--set", "md.kokkos_package=neigh full newton on")
    commands = [line.strip() for line in explicit.splitlines() if line.strip().startswith("cd ")]
    assert all("-pk kokkos neigh full newton on -in" in c for c in commands if "lmp -k" in c)
    assert sum("/md/site_engine_preflight" in c for c in commands) == 1
    assert "#   MD differs from the seed's in: nothing" in explicit  # the seed's own line, given by hand
    current = dry_run(tmp_path, "--site", "chicoma", "--set", "md.kokkos_package=newton on neigh half comm device")
    assert ("-pk kokkos newton on neigh half comm device set by hand (the seed: neigh full newton on)" in current)


def test_weak_scaling_cases_hold_85200_atoms_per_gpu():
    from mlmd_parsl.divisions import division_site
    from mlmd_parsl.orchestration.cases import mpi_resources
    from mlmd_parsl.orchestration.sweeps import md_cases

    site = division_site(load_site_config("chicoma"), "seed")
    weak = [c for c in md_cases(site, Path("/r/seed")) if c.sweep == "weak"]
    assert [(c.ranks, c.replicate) for c in weak] == [(4, (25, 24, 8)), (8, (25, 24, 16)), (12, (25, 24, 24))]
    assert all(71 * 25 * 24 * c.zrep == 85_200 * c.ranks for c in weak)
    assert not any(c.packed for c in weak)
    assert weak[0].log == Path("/r/seed/md/weak_r4/log.lammps")
    assert mpi_resources(site, 8) == {"num_nodes": 2, "num_ranks": 8, "ranks_per_node": 4,
                                      "launcher_options": "--cpus-per-task 16 --kill-on-bad-exit=1"}
