"""Case planning without Parsl: which cases a site has, their threads and commands, and the content key that
decides whether a resumed run reruns a case."""
from dataclasses import replace

import pytest

from mlmd_parsl.config import load_site_config
from mlmd_parsl.divisions import division_site
from mlmd_parsl.orchestration.case_plan import plan_case, planned_export, training_threads
from mlmd_parsl.orchestration.launch import LOCAL_RANK
from mlmd_parsl.orchestration.sweeps import md_cases
from mlmd_parsl.orchestration.dry_run import md_case_tasks
from mlmd_parsl.science.choices import Division, MDEngine, MliapExport
from mlmd_parsl.science.model.export import Export
from tests.unit.orchestration.test_dry_run import STAND_IN_DATA


def site(name="local", *overrides):
    return load_site_config(name, list(overrides))


def chicoma(*overrides, division=Division.OURS):
    data = [STAND_IN_DATA[i + 1] for i in range(0, len(STAND_IN_DATA), 2)]
    return division_site(site("chicoma", *data, *overrides), division)


def test_local_cases_are_the_zrep_by_ranks_grid_with_threads_sharing_the_cores(tmp_path):
    plans = [plan_case(site(), case) for case in md_cases(site(), tmp_path)]
    assert [p.case.task for p in plans] == ["md_z2_r1", "md_z2_r2", "md_z4_r1", "md_z4_r2", "md_z8_r1", "md_z8_r2"]
    assert {p.case.ranks: p.threads for p in plans} == {1: 2, 2: 1}  # 2 cores
    for plan in plans:
        assert plan.case.engine is MDEngine.EMBEDDED and not plan.case.packed
        assert f"--replicate 2 2 {plan.case.zrep} --profile quick --log {plan.case.log}" in plan.command
        assert f"OMP_NUM_THREADS={plan.threads} " in plan.command and plan.command.count("$PARSL_MPI_PREFIX") == 1
        assert f"--model {tmp_path}/train/hippynn_lammps_model.pt" in plan.command


def test_the_dry_run_prints_the_command_the_plan_runs(tmp_path):
    local = site()
    printed = {task["task"]: task["command"] for task in md_case_tasks(local, tmp_path)}
    assert list(printed) == [f"ours/{case.task}" for case in md_cases(local, tmp_path)]
    for case in md_cases(local, tmp_path):
        command = plan_case(local, case).command
        launcher = f"mpiexec -n {case.ranks} -ppn {case.ranks} -hosts localhost "
        assert printed[f"ours/{case.task}"] == command.replace("$PARSL_MPI_PREFIX", launcher)


def test_a_gpu_site_packs_single_rank_cases_one_per_gpu_with_the_lean_export(tmp_path):
    cases = md_cases(chicoma(), tmp_path)
    packed = [c for c in cases if c.packed]
    assert packed and all(c.ranks == 1 and c.sweep == "throughput" for c in packed)
    assert all(c.engine is MDEngine.MLIAP and c.export is MliapExport.LEAN for c in cases)
    assert {c.engine_label for c in cases} == {"mliap-lean"}
    plan = plan_case(chicoma(), packed[0])
    assert plan.threads == 16 and "env -u PMI_FD" in plan.command and "$PARSL_MPI_PREFIX" not in plan.command
    assert plan.case.model_file(planned_export(tmp_path)) == str(tmp_path / "train" / "lean_lammps_model.pt")


def test_an_export_without_the_lean_model_is_named_when_a_case_needs_it(tmp_path):
    case = md_cases(chicoma(), tmp_path)[0]
    hippynn_only = Export(model=str(tmp_path / "train" / "hippynn_lammps_model.pt"), box=str(tmp_path / "b.data"))
    with pytest.raises(ValueError, match="md.mliap_model lean, but the export .* made no lean_lammps_model.pt"):
        case.model_file(hippynn_only)
    hippynn_case = replace(case, site_lammps=replace(case.site_lammps, export="hippynn"))
    assert hippynn_case.model_file(hippynn_only) == hippynn_only.model


def test_the_content_key_follows_every_input_and_nothing_else(tmp_path):
    local = site()
    model = tmp_path / "train" / "hippynn_lammps_model.pt"
    model.parent.mkdir(parents=True)
    model.write_bytes(b"weights one")
    exported = planned_export(tmp_path)
    plan = plan_case(local, md_cases(local, tmp_path)[0])
    key = plan.content_key(exported, "pytorch", "code-1")
    assert key == plan_case(local, md_cases(local, tmp_path)[0]).content_key(exported, "pytorch", "code-1")
    assert key != plan.content_key(exported, "pytorch", "code-2")  # the engine's source changed
    assert key != plan.content_key(exported, "triton", "code-1")
    assert key != replace(plan, threads=1).content_key(exported, "pytorch", "code-1")
    assert key != replace(plan, command=plan.command + " --pair-skin 0").content_key(exported, "pytorch", "code-1")
    model.write_bytes(b"weights two")  # a retrained model: same path, other bytes
    assert key != plan.content_key(exported, "pytorch", "code-1")


def test_training_runs_on_the_whole_node_of_a_cpu_site_whatever_the_md_ranks_bind():
    assert "--cpus-per-task 1" in site("crossroads").provider.launcher_options
    assert training_threads(site("crossroads")) == 112  # the seed's Crossroads FOM 1: one whole node
    assert training_threads(chicoma()) == 16 and training_threads(site()) == 2  # one GPU's share; the laptop's 2


def test_the_seed_division_on_a_gpu_site_runs_the_seeds_cases_its_way(tmp_path):
    seed = chicoma(division=Division.SEED)
    cases = md_cases(seed, tmp_path)
    throughput = [c for c in cases if c.sweep == "throughput"]
    assert [c.zrep for c in throughput] == [2, 4, 8, 12, 16, 24, 32, 40, 48, 56, 64]
    assert all(c.packed for c in throughput)  # a worker with one GPU: one at a time (sequencing.py), not packed
    assert all(c.engine is MDEngine.MLIAP and c.export is MliapExport.HIPPYNN for c in cases)
    plan = plan_case(seed, throughput[0])
    assert "HIPPYNN_USE_CUSTOM_KERNELS=pytorch HIPPYNN_WARN_LOW_DISTANCES=False" in plan.command
    assert " lmp -k on g 1 -sf kk -pk kokkos " in plan.command and "CUDA_VISIBLE_DEVICES" not in plan.command
    assert plan.case.model_file(planned_export(tmp_path)) == str(tmp_path / "train" / "hippynn_lammps_model.pt")
    assert throughput[0].deviations == ("forced by today's software: -pk kokkos newton on neigh half (LAMMPS since "
                                        "2024 refuses the seed's 'neigh full newton on')",)


def test_weak_scaling_is_the_seeds_block_per_node_count_with_one_gpu_bound_to_each_rank(tmp_path):
    seed = chicoma(division=Division.SEED)
    weak = [c for c in md_cases(seed, tmp_path) if c.sweep == "weak"]
    assert [(c.task, c.ranks, c.replicate) for c in weak] == [
        ("weak_r4", 4, (25, 24, 8)), ("weak_r8", 8, (25, 24, 16)), ("weak_r12", 12, (25, 24, 24))]
    assert [71 * c.replicate[0] * c.replicate[1] * c.replicate[2] for c in weak] == [340_800, 681_600, 1_022_400]
    plan = plan_case(seed, weak[-1])
    assert not weak[-1].packed and weak[-1].binds_one_gpu_per_rank
    assert plan.command.count("$PARSL_MPI_PREFIX bash -c ") == 1
    assert f"export CUDA_VISIBLE_DEVICES={LOCAL_RANK}; exec lmp -k on g 1 -sf kk -pk kokkos" in plan.command


def test_ours_may_run_weak_scaling_on_the_rod_and_says_so(tmp_path):
    ours = chicoma("md.weak_scaling.layout=rod")
    weak = [c for c in md_cases(ours, tmp_path) if c.sweep == "weak"]
    assert [(c.ranks, c.replicate) for c in weak] == [(4, (2, 2, 1200)), (8, (2, 2, 2400)), (12, (2, 2, 3600))]
    assert any(d.startswith("weak-scaling box 2 x 2 x (zrep_per_rank x ranks), a rod") for d in weak[0].deviations)
    assert any("up to 4 at once" in d for d in weak[0].deviations)
    seed = chicoma("md.weak_scaling.layout=rod", division=Division.SEED)  # ours' layout is not the seed's
    assert [c.replicate for c in md_cases(seed, tmp_path) if c.sweep == "weak"][0] == (25, 24, 8)


@pytest.mark.parametrize("launcher, options, expected", [
    ("srun", "--cpus-per-task 1", "--cpus-per-task 1 --kill-on-bad-exit=1"),  # one rank dead ends its peers
    ("srun", "--kill-on-bad-exit=0", "--kill-on-bad-exit=0"),  # a site that says otherwise is obeyed
    ("srun", "-K --cpus-per-task 1", "-K --cpus-per-task 1"),
    ("mpiexec", "--bind-to core", "--bind-to core"),  # Hydra ends the other ranks itself
])
def test_an_srun_case_ends_all_its_ranks_when_one_dies(launcher, options, expected):
    from mlmd_parsl.orchestration.cases import mpi_resources

    site = load_site_config("localslurm", [f"provider.mpi_launcher={launcher}", f"provider.launcher_options={options}"])
    assert mpi_resources(site, 2).get("launcher_options") == expected


def test_cases_of_several_cpu_ranks_presize_mliaps_pair_arrays_and_say_so_in_their_deviations(tmp_path):
    from mlmd_parsl.orchestration.site_engine_files import site_engine_deck
    from mlmd_parsl.orchestration.sweeps import PRESIZE_DEVIATION
    from mlmd_parsl.science.lammps.mliap_pair_arrays import PRESIZE_STAGE

    seed = division_site(site("crossroads", "md.ranks=[1, 8]"), Division.SEED)
    cases = {c.ranks: c for c in md_cases(seed, tmp_path) if c.sweep == "throughput"}
    assert not cases[1].site_lammps.presize and PRESIZE_DEVIATION not in cases[1].deviations
    assert cases[8].site_lammps.presize and PRESIZE_DEVIATION in cases[8].deviations
    assert PRESIZE_DEVIATION.startswith("forced by today's software: ")
    assert PRESIZE_STAGE in site_engine_deck(cases[8]).text and PRESIZE_STAGE not in site_engine_deck(cases[1]).text
    off = division_site(site("crossroads", "md.ranks=[8]", "md.mliap_presize=never"), Division.SEED)
    assert not any(c.site_lammps.presize for c in md_cases(off, tmp_path))
    assert not any(c.site_lammps for c in md_cases(site("local"), tmp_path))  # the embedded engine runs no site LAMMPS
    gpu = [c for c in md_cases(chicoma(division=Division.SEED), tmp_path) if c.sweep == "weak"]
    assert not any(c.site_lammps.presize for c in gpu)  # Kokkos keeps its arrays in its own class (auto leaves it)


def test_a_moved_run_keeps_its_md_keys(tmp_path):
    """The command's paths are the run folder's: a run moved (or archived and unpacked elsewhere) keeps its keys,
    so --resume there reruns nothing it finished; another model still changes them."""
    local = site()
    keys = []
    for where in ("first", "moved/elsewhere"):
        division = tmp_path / where / "local-20261205-120000" / "ours"
        model = division / "train" / "hippynn_lammps_model.pt"
        model.parent.mkdir(parents=True)
        model.write_bytes(b"weights one")
        plan = plan_case(local, md_cases(local, division)[0])
        assert str(division) in plan.command  # the command itself runs where the run is
        keys.append(plan.content_key(planned_export(division), "pytorch", "code-1"))
    assert keys[0] == keys[1]
    model.write_bytes(b"weights two")
    assert plan.content_key(planned_export(division), "pytorch", "code-1") != keys[0]
