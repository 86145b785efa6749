"""Case planning without Parsl: which cases a site has, their threads and commands, and the content key that
decides whether a resumed run reruns a case."""
from dataclasses import replace

import pytest

from mlmd_parsl.config import load_site_config
from mlmd_parsl.orchestration.case_plan import plan_case, planned_export
from mlmd_parsl.orchestration.cases import md_cases
from mlmd_parsl.orchestration.dry_run import md_case_tasks
from mlmd_parsl.science.choices import MDEngine, MliapExport
from mlmd_parsl.science.model.export import Export
from tests.unit.orchestration.test_dry_run import STAND_IN_DATA


def site(name="local", *overrides):
    return load_site_config(name, list(overrides))


def chicoma(*overrides):
    data = [STAND_IN_DATA[i + 1] for i in range(0, len(STAND_IN_DATA), 2)]
    return site("chicoma", *data, *overrides)


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
    for case in md_cases(local, tmp_path):
        command = plan_case(local, case).command
        assert printed[case.task] == command.replace("$PARSL_MPI_PREFIX", f"mpiexec -n {case.ranks} -ppn {case.ranks} "
                                                                          "-hosts localhost ")


def test_a_gpu_site_packs_single_rank_cases_one_per_gpu_with_the_lean_export(tmp_path):
    cases = md_cases(chicoma(), tmp_path)
    packed = [c for c in cases if c.packed]
    assert packed and all(c.ranks == 1 and c.sweep == "throughput" for c in packed)
    assert all(c.engine is MDEngine.MLIAP and c.mliap_model is MliapExport.LEAN for c in cases)
    assert {c.engine_label for c in cases} == {"mliap-lean"}
    plan = plan_case(chicoma(), packed[0])
    assert plan.threads == 16 and "env -u PMI_FD" in plan.command and "$PARSL_MPI_PREFIX" not in plan.command
    assert plan.case.model_file(planned_export(tmp_path)) == str(tmp_path / "train" / "lean_lammps_model.pt")


def test_an_export_without_the_lean_model_is_named_when_a_case_needs_it(tmp_path):
    case = md_cases(chicoma(), tmp_path)[0]
    hippynn_only = Export(model=str(tmp_path / "train" / "hippynn_lammps_model.pt"), box=str(tmp_path / "b.data"))
    with pytest.raises(ValueError, match="md.mliap_model lean, but the export .* made no lean_lammps_model.pt"):
        case.model_file(hippynn_only)
    assert replace(case, mliap_model="hippynn").model_file(hippynn_only) == hippynn_only.model


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


def test_weak_scaling_cases_grow_with_their_ranks_and_spread_over_nodes(tmp_path):
    weak = [c for c in md_cases(chicoma(), tmp_path) if c.sweep == "weak"]
    assert [(c.ranks, c.zrep, c.kokkos_gpus) for c in weak][:4] == [(1, 300, 1), (2, 600, 2), (4, 1200, 4),
                                                                    (8, 2400, 4)]
    assert not any(c.packed for c in weak)
