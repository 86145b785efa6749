"""--dry-run: every task's resource request and exact command, and the sbatch script a Slurm site submits.

Nothing is submitted and no run directory is made: the plan uses the paths the run *would* use, so
each MD command can be pasted into a shell (or a hand-written batch script) to reproduce a case.
"""
import sys
from pathlib import Path

from ..config import SiteConfig
from ..science.lammps.kokkos_options import (AUTO, NEWTON_REFUSAL, SEED_PACKAGE, package_text, planned_package,
                                               preflight_candidates)
from ..science.model.export import BOX_FILE, MODEL_FILE
from .builder import training_threads
from .cases import md_cases, mpi_resources, site_engine_deck, site_lmp, threads_per_rank
from .rundir import site_engine_preflight_dir, train_dir
from .tasks import md_command, site_engine_probe_command

PYTHON_TASKS = ("prepare_dataset", "train_model", "export_for_lammps", "validate_exported_model", "collect_results")


def mpi_prefix(site: SiteConfig, resources: dict) -> str:
    """The $PARSL_MPI_PREFIX Parsl's MPIExecutor would set for this request (node names are placeholders)."""
    from parsl.executors.high_throughput.mpi_prefix_composer import compose_all

    if site.provider.kind == "local":
        nodes = ["localhost"]
    else:
        nodes = [f"<node{i + 1}>" for i in range(resources["num_nodes"])]
    spec = {k: str(v) for k, v in resources.items()}
    return compose_all(site.provider.mpi_launcher, spec, nodes)["PARSL_MPI_PREFIX"]


def sbatch_scripts(site: SiteConfig, run_dir: Path) -> dict:
    """{executor label: the batch script its SlurmProvider would submit for one block}."""
    from string import Template

    from parsl.providers.slurm.template import template_string
    from parsl.utils import wtime_to_minutes

    from .sites import parsl_config_for

    scripts = {}
    for executor in parsl_config_for(site, run_dir).executors:
        provider = executor.provider
        script = Template(template_string).substitute(
            jobname=f"parsl.{executor.label}", job_stdout_path=f"{run_dir}/parsl/submit_scripts/{executor.label}.stdout",
            job_stderr_path=f"{run_dir}/parsl/submit_scripts/{executor.label}.stderr", nodes=provider.nodes_per_block,
            tasks_per_node=1, walltime=wtime_to_minutes(provider.walltime), scheduler_options=provider.scheduler_options,
            worker_init=provider.worker_init,
            user_script=f"<Parsl {type(executor).__name__} worker pool for '{executor.label}', started by "
                        f"{type(provider.launcher).__name__}>",
        )
        scripts[executor.label] = script
    return scripts


def plan(site: SiteConfig, run_dir: Path) -> list:
    python = site.provider.python or sys.executable
    trained = train_dir(run_dir)
    exported = {"model": str(trained / MODEL_FILE), "box": str(trained / BOX_FILE)}
    p = site.provider
    worker = (f"1 of {p.gpus_per_node} workers: 1 GPU, {max(1, p.cores_per_node // p.gpus_per_node)} cores"
              if p.gpus_per_node else "1 worker, whole node")
    tasks = [{"task": name, "executor": "cpu (HighThroughputExecutor)", "resources": worker,
              "command": f"python app mlmd_parsl.orchestration.tasks.{name}"} for name in PYTHON_TASKS]
    tasks[1]["command"] += f" (torch threads: {training_threads(site)})"
    if site.md.engine == "mliap":
        resources = mpi_resources(site, 1)
        tries = preflight_candidates(site.md.kokkos_package) if site.md.kokkos else [()]
        for number, package in enumerate(tries, start=1):
            command = site_engine_probe_command(str(site_engine_preflight_dir(run_dir)), site_lmp(site), package,
                                                python)
            tasks.insert(-2, {"task": "site_engine_preflight (run 0 of the export, before any MD case"
                                      + _preflight_try(number, len(tries), package) + ")",
                              "executor": "mpi (MPIExecutor)", "resources": resources,
                              "command": command.replace("$PARSL_MPI_PREFIX", mpi_prefix(site, resources))})
    unit_atoms = _unit_box_atoms(site)
    for case in md_cases(site, run_dir):
        threads = threads_per_rank(site, case.ranks, case.packed)
        command = md_command(case, exported, python, site.md.custom_kernels, threads)
        if case.packed:
            task = {"executor": "cpu (HighThroughputExecutor, one worker per GPU)",
                    "resources": "1 GPU: the worker's CUDA_VISIBLE_DEVICES (available_accelerators)"}
        else:
            resources = mpi_resources(site, case.ranks)
            task = {"executor": "mpi (MPIExecutor)", "resources": resources}
            command = command.replace("$PARSL_MPI_PREFIX", mpi_prefix(site, resources))
        atoms = unit_atoms * case.replicate[0] * case.replicate[1] * case.replicate[2] if unit_atoms else None
        tasks.insert(-2, {"task": case.task, "atoms": atoms, **task, "command": command})
    return tasks


def _preflight_try(number: int, tries: int, package: tuple) -> str:
    if tries == 1:
        return ""
    if package == SEED_PACKAGE:
        return f"; try {number} of {tries}: the seed's Kokkos line"
    return (f"; try {number} of {tries}, only if LAMMPS refuses the previous one with \"{NEWTON_REFUSAL}\", as "
            "every release since 2024 does")


def _unit_box_atoms(site: SiteConfig):
    """Atoms of the unit box; None when dataset.path is set but not readable here (a dry run checks nothing)."""
    from ..science.model.dataset import unit_box_atoms

    try:
        return unit_box_atoms(site.dataset.path)
    except Exception:  # a missing or malformed set: the real run's preflight says what is wrong with it
        return None


def print_plan(site: SiteConfig, run_dir: Path, out=print):
    out(f"# dry run of site {site.name} ({site.source}); nothing is submitted")
    out("# not checked in a dry run: that dataset.path exists and that the site's lmp has what md.engine needs")
    out(f"# run directory would be {run_dir}")
    for task in plan(site, run_dir):
        atoms = f" {task['atoms']:,} atoms" if task.get("atoms") else ""
        out(f"\n[{task['task']}]{atoms} on {task['executor']}; resources: {task['resources']}")
        out(f"  {task['command']}")
    if site.md.kokkos:
        out(f"\n# Kokkos: the MD cases above show -pk kokkos {package_text(planned_package(site.md.kokkos_package))}"
            + (" (md.kokkos_package)" if site.md.kokkos_package != AUTO else
               f", the line LAMMPS since 2024 accepts; where the site's LAMMPS takes the seed's "
               f"'{package_text(SEED_PACKAGE)}', the preflight keeps that and the cases run it")
            + ". The run's manifest (site_engine) and summary say which line ran.")
    if site.md.engine == "mliap":
        case = md_cases(site, run_dir)[0]
        deck = site_engine_deck(case)
        out(f"\n# in.lammps of {case.task} (each case's differs only in its replicate line):\n{deck.text}")
    if site.provider.kind == "slurm":
        for label, script in sbatch_scripts(site, run_dir).items():
            out(f"\n# sbatch script for executor '{label}':\n{script}")
    return 0
