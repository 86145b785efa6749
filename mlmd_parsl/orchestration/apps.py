"""Wrap the plain task functions as Parsl apps bound to a DataFlowKernel and executor labels."""
from dataclasses import dataclass

from . import case_plan, provenance, site_engine_preflight, tasks
from .retry import task_kind


@dataclass(frozen=True)
class ExecutorLabels:
    python: str = "cpu"  # dataset, training, export, collection; single-GPU MD cases on GPU sites
    mpi: str = "mpi"  # MD cases (bash_apps on an MPIExecutor)


@dataclass(frozen=True)
class Apps:
    prepare_dataset: object
    train_model: object
    export_for_lammps: object
    adopt_export: object
    run_md: object
    run_md_packed: object
    validate: object
    collect_results: object
    probe_mpi: object
    probe_site_engine: object
    describe_worker: object


@task_kind("md")
def _run_md(command, exported, after=None, lammps_log=None, timeout_s=0, stdout=None, stderr=None,
            parsl_resource_specification=None):
    """`command`, a case's plan (case_plan.py); `exported`, the export's future, and `after`, the case before it in
    the seed's order (sequencing.py), only make Parsl wait for them; `lammps_log`, the case's log, is for the retry
    handler (an ERROR line there is never retried); past `timeout_s` the case's whole process group gets SIGTERM,
    then SIGKILL 30 s later, and the task fails with exit 124 (Parsl's own walltime leaves the process running).
    (No default for `exported`: Parsl passes every parameter's default as a keyword, which a positional one then
    clashes with.)"""
    if not timeout_s:
        return command
    import shlex

    return f"timeout --kill-after=30 {int(timeout_s)} bash -c {shlex.quote(command)}"


@task_kind("md")
def _probe_mpi(expected_ranks, stdout=None, stderr=None, parsl_resource_specification=None):
    return case_plan.mpi_probe_command(expected_ranks)


@task_kind("preflight")
def _probe_site_engine(probe_dir, lmp, kokkos_package, python, stdout=None, stderr=None,
                       parsl_resource_specification=None):
    return site_engine_preflight.site_engine_probe_command(probe_dir, lmp, kokkos_package, python)


def make_apps(dfk, labels: ExecutorLabels = ExecutorLabels()) -> Apps:
    from parsl import bash_app, python_app

    def python(func):
        return python_app(func, data_flow_kernel=dfk, executors=[labels.python])

    return Apps(
        prepare_dataset=python(tasks.prepare_dataset),
        train_model=python(tasks.train_model),
        export_for_lammps=python(tasks.export_for_lammps),
        adopt_export=python(tasks.adopt_export),
        run_md=bash_app(_run_md, data_flow_kernel=dfk, executors=[labels.mpi]),
        # one rank, no MPI launcher: a worker of the python executor, which owns one GPU
        run_md_packed=bash_app(_run_md, data_flow_kernel=dfk, executors=[labels.python]),
        validate=python(tasks.validate_exported_model),
        collect_results=python(tasks.collect_results),
        probe_mpi=bash_app(_probe_mpi, data_flow_kernel=dfk, executors=[labels.mpi]),
        probe_site_engine=bash_app(_probe_site_engine, data_flow_kernel=dfk, executors=[labels.mpi]),
        describe_worker=python(provenance.describe_worker),
    )
