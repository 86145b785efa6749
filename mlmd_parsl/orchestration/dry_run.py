"""--dry-run: every task's resource request and exact command, and the sbatch script a Slurm site submits.

Nothing is submitted and no run directory is made: the plan uses the paths the run *would* use, so
each MD command can be pasted into a shell (or a hand-written batch script) to reproduce a case. What a dry
run can check it checks: the dataset (by the CLI, as a real run does), the Slurm settings a cluster needs, and,
where sbatch is on PATH, whether Slurm would take each job (sbatch --test-only). It ends with the node-hours.
"""
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from ..config import SiteConfig
from ..divisions import deviations, division_sites
from ..science.lammps.kokkos_options import AUTO, NEWTON_REFUSAL, SEED_PACKAGE, package_text, planned_package
from ..science.choices import Division
from . import tasks as python_tasks
from .case_plan import plan_case, training_threads
from .cases import mpi_resources
from .md_backends import backend_for
from .rundir import division_dir
from .sweeps import md_cases
from .sequencing import one_at_a_time, sequence_of

# The order the campaign runs them: the dataset; per division (the seed's first) its model, the site engine's
# preflight and its MD cases; then each division's validation, and the collection
MODEL_TASKS = (python_tasks.train_model, python_tasks.export_for_lammps)


def mpi_prefix(site: SiteConfig, resources: dict) -> str:
    """The $PARSL_MPI_PREFIX Parsl's MPIExecutor would set for this request (node names are placeholders)."""
    from parsl.executors.high_throughput.mpi_prefix_composer import compose_all

    if site.provider.kind == "local":
        nodes = ["localhost"]
    else:
        nodes = [f"<node{i + 1}>" for i in range(resources["num_nodes"])]
    spec = {k: str(v) for k, v in resources.items()}
    return compose_all(site.provider.mpi_launcher, spec, nodes)["PARSL_MPI_PREFIX"]


def sbatch_scripts(executors, run_dir: Path) -> dict:
    """{executor label: the batch script its SlurmProvider would submit for one block}."""
    from string import Template

    from parsl.providers.slurm.template import template_string
    from parsl.utils import wtime_to_minutes

    scripts = {}
    for executor in executors:
        provider = executor.provider
        script = Template(template_string).substitute(
            jobname=f"parsl.{executor.label}",
            job_stdout_path=f"{run_dir}/parsl/submit_scripts/{executor.label}.stdout",
            job_stderr_path=f"{run_dir}/parsl/submit_scripts/{executor.label}.stderr", nodes=provider.nodes_per_block,
            tasks_per_node=1, walltime=wtime_to_minutes(provider.walltime),
            scheduler_options=provider.scheduler_options,
            worker_init=provider.worker_init,
            user_script=f"<Parsl {type(executor).__name__} worker pool for '{executor.label}', started by "
                        f"{type(provider.launcher).__name__}>",
        )
        scripts[executor.label] = script
    return scripts


def plan(site: SiteConfig, run_dir: Path) -> list:
    """Every task in the order the campaign runs them: the dataset; per division its model, the site engine's
    preflight and the MD cases; then the validations and the collection."""
    tasks = [python_task(site, python_tasks.prepare_dataset)]
    divisions = division_sites(site)
    for division in divisions:
        folder = division_dir(run_dir, division.division)
        model = [python_task(division, function, division.division) for function in MODEL_TASKS]
        model[0]["command"] += f" (torch threads: {training_threads(division)})"
        tasks += model + preflight_tasks(division, folder) + md_case_tasks(division, folder)
    tasks += [python_task(division, python_tasks.validate_exported_model, division.division) for division in divisions
              if division.validation.enabled]
    return tasks + [python_task(site, python_tasks.collect_results)]


def python_task(site: SiteConfig, function, division: Division = None) -> dict:
    p = site.provider
    worker = (f"1 of {p.gpus_per_node} workers: 1 GPU, {max(1, p.cores_per_node // p.gpus_per_node)} cores"
              if p.gpus_per_node else "1 worker, whole node")
    return {"task": (f"{division}/" if division else "") + function.__name__,
            "executor": "cpu (HighThroughputExecutor)",
            "resources": worker, "command": f"python app {function.__module__}.{function.__name__}"}


def preflight_tasks(site: SiteConfig, folder: Path) -> list:
    probes = backend_for(site.md.engine).probe_commands(site, folder)
    resources = mpi_resources(site, 1)
    tasks = []
    for number, (package, command) in enumerate(probes, start=1):
        tasks.append({"task": f"{site.division}/site_engine_preflight (run 0 of the export, before any MD case"
                              + _preflight_try(number, len(probes), package) + ")",
                      "executor": "mpi (MPIExecutor)", "resources": resources,
                      "command": command.replace("$PARSL_MPI_PREFIX", mpi_prefix(site, resources))})
    return tasks


def md_case_tasks(site: SiteConfig, folder: Path) -> list:
    """Each MD case's executor, resources, atoms, what it waits for and its command: the command plan_case gives
    the real run, with the launcher Parsl would put in $PARSL_MPI_PREFIX."""
    unit_atoms = _unit_box_atoms(site)
    tasks, last_of = [], {}
    for case in md_cases(site, folder):
        command = plan_case(site, case).command
        if case.packed:
            task = {"executor": "cpu (HighThroughputExecutor, one worker per GPU)",
                    "resources": "1 GPU: the worker's CUDA_VISIBLE_DEVICES (available_accelerators)"}
        else:
            resources = mpi_resources(site, case.ranks)
            task = {"executor": "mpi (MPIExecutor)", "resources": resources}
            command = command.replace("$PARSL_MPI_PREFIX", mpi_prefix(site, resources))
        if one_at_a_time(site):
            sequence = sequence_of(site, case)
            task["after"] = last_of.get(sequence, "")
            last_of[sequence] = case.task
        atoms = unit_atoms * case.replicate[0] * case.replicate[1] * case.replicate[2] if unit_atoms else None
        tasks.append({"task": f"{case.division}/{case.task}", "atoms": atoms, **task, "command": command})
    return tasks


def division_lines(site: SiteConfig, run_dir: Path) -> list:
    """What each division runs, in words: the seed's work exactly, or ours, and every difference from the seed's
    (the MD cases' own, with the Kokkos line the plan shows)."""
    lines = []
    for division in division_sites(site):
        cases = md_cases(division, division_dir(run_dir, division.division))
        found = deviations(division)
        # the cases' own (the Kokkos line, presizing on several ranks), each named once
        found = replace(found, md=tuple(dict.fromkeys(d for case in cases for d in case.deviations)) if cases
                        else found.md)
        what = ("the seed's work exactly (its training procedure, hippynn's export, its MD-HO deck, boxes, launch, "
                "GPU binding and order; its cases one at a time)" if division.division is Division.SEED
                else "ours, as the site's training and md sections say")
        lines.append(f"# division {division.division}: {what}")
        for part, found_part in (("training", found.training), ("MD", found.md)):
            lines.append(f"#   {part} differs from the seed's in: " + ("; ".join(found_part) if found_part else
                                                                           "nothing"))
    return lines


def _preflight_try(number: int, tries: int, package: tuple) -> str:
    if tries == 1:
        return ""
    if package == SEED_PACKAGE:
        return f"; try {number} of {tries}: the seed's Kokkos line"
    return (f"; try {number} of {tries}, only if LAMMPS refuses the previous one with \"{NEWTON_REFUSAL}\", as "
            "every release since 2024 does")


def _unit_box_atoms(site: SiteConfig):
    """Atoms of the unit box (the CLI has checked the dataset before the plan is made)."""
    from ..science.model.dataset import unit_box_atoms

    return unit_box_atoms(site.dataset.path)


def slurm_warnings(site: SiteConfig) -> list:
    """What a Slurm site leaves to the cluster's defaults, each of which costs a user a rejected or wasted job."""
    from ..config import ProviderConfig

    p = site.provider
    warnings = []
    if not p.account:
        warnings.append("provider.account is empty: the jobs carry no '#SBATCH --account', so Slurm charges your "
                        "default account, or refuses them where the cluster requires one: "
                        "--set provider.account=YOUR_ACCOUNT")
    if not p.partition:
        warnings.append("provider.partition is empty: the jobs go to the cluster's default partition, which may "
                        "have no GPUs or a short time limit: --set provider.partition=NAME")
    if p.walltime == ProviderConfig.walltime:
        warnings.append(f"provider.walltime is the default {p.walltime}: a block that reaches it is killed with "
                        "the tasks it runs (Parsl retries them in a new block); set what the site's sweep needs")
    return warnings


def node_hours_lines(site: SiteConfig, executors) -> list:
    from parsl.utils import wtime_to_minutes

    jobs = [(e.label, e.provider.nodes_per_block, e.provider.max_blocks, wtime_to_minutes(e.provider.walltime) / 60)
            for e in executors]
    lines = ["# Slurm jobs: one block of each executor is submitted when the run starts; a block holds its nodes "
             "until its walltime or until it is idle for 2 minutes (Parsl then cancels it)"]
    total = 0.0
    gpus = site.provider.gpus_per_node
    for label, nodes, blocks, hours in jobs:
        most = nodes * blocks * hours
        total += most
        lines.append(f"#   '{label}': {nodes} node(s) x {hours:g} h" + (f" x {blocks} blocks" if blocks > 1 else "")
                     + f" = at most {most:g} node-hours" + (f" ({most * gpus:g} GPU-hours)" if gpus else ""))
    lines.append(f"#   total: at most {total:g} node-hours at a time"
                 + (f" ({total * gpus:g} GPU-hours)" if gpus else "")
                 + "; a block lost at its walltime is replaced while tasks remain")
    return lines


def ask_slurm(scripts: dict) -> dict:
    """{executor label: (accepted, Slurm's words)} from `sbatch --test-only`, which submits nothing; {} when sbatch
    is not on PATH here (a laptop: the cluster's answer waits for the login node)."""
    sbatch = shutil.which("sbatch")
    if not sbatch:
        return {}
    answers = {}
    for label, script in scripts.items():
        try:
            result = subprocess.run([sbatch, "--test-only"], input=script, capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            answers[label] = (None, "sbatch --test-only did not answer within 60 s")
            continue
        words = " ".join((result.stderr + result.stdout).split())
        refused = result.returncode != 0 and any(mark in words for mark in SLURM_REFUSALS)
        answers[label] = (True if result.returncode == 0 else False if refused else None, words[:240])
    return answers


# How sbatch says it would not run a job; any other failure (no controller, no config) is no answer at all.
SLURM_REFUSALS = ("allocation failure", "Batch job submission failed", "invalid partition", "Invalid account",
                  "Invalid qos")


def print_plan(site: SiteConfig, run_dir: Path, out=print):
    """The plan, then the Slurm checks; returns 2 where Slurm says it would refuse a job, else 0."""
    out(f"# dry run of site {site.name} ({site.source}); nothing is submitted")
    out("# checked: the site config and the dataset; not checked in a dry run: that the site's lmp has what "
        "md.engine needs (the real run's preflight asks it)")
    out(f"# run directory would be {run_dir}")
    for line in division_lines(site, run_dir):
        out(line)
    for task in plan(site, run_dir):
        atoms = f" {task['atoms']:,} atoms" if task.get("atoms") else ""
        after = (f"; after {task['task'].split('/')[0]}/{task['after']} (one at a time, as the seed's script)"
                 if task.get("after") else "")
        out(f"\n[{task['task']}]{atoms} on {task['executor']}; resources: {task['resources']}{after}")
        out(f"  {task['command']}")
    for division in division_sites(site):
        _print_site_engine_notes(division, run_dir, out)
    if site.provider.kind != "slurm":
        return 0
    return _print_slurm(site, run_dir, out)


def _print_site_engine_notes(site: SiteConfig, run_dir: Path, out):
    if site.md.kokkos:
        out(f"\n# {site.division}: Kokkos: the MD cases above show -pk kokkos "
            f"{package_text(planned_package(site.md.kokkos_package))}"
            + (" (md.kokkos_package)" if site.md.kokkos_package != AUTO else
               f", the line LAMMPS since 2024 accepts; where the site's LAMMPS takes the seed's "
               f"'{package_text(SEED_PACKAGE)}', the preflight keeps that and the cases run it")
            + ". The run's manifest (site_engine) and summary say which line ran.")
    for line in backend_for(site.md.engine).dry_run_notes(site, md_cases(site, division_dir(run_dir, site.division))):
        out(line)


def _print_slurm(site: SiteConfig, run_dir: Path, out) -> int:
    from .sites import parsl_config_for

    executors = parsl_config_for(site, run_dir).executors  # once: each SlurmProvider made asks sacct
    scripts = sbatch_scripts(executors, run_dir)
    for label, script in scripts.items():
        out(f"\n# sbatch script for executor '{label}':\n{script}")
    out("")
    for line in node_hours_lines(site, executors):
        out(line)
    answers = ask_slurm(scripts)
    if not answers:
        out("# Slurm not asked: sbatch is not on PATH here (run the dry run on the cluster's login node to ask it)")
    for label, (accepted, words) in answers.items():
        verdict = {True: "would run it", False: "REFUSES it", None: "could not be asked"}[accepted]
        out(f"# Slurm on '{label}' (sbatch --test-only) {verdict}: {words}")
    for warning in slurm_warnings(site):
        print(f"warning: {warning}", file=sys.stderr)
    refused = {label: words for label, (accepted, words) in answers.items() if accepted is False}
    if refused:
        label, words = next(iter(refused.items()))
        print(f"error: Slurm would refuse the '{label}' job of site {site.name} ({site.source}): {words}; "
              "check provider.partition, account, qos, walltime and nodes_per_block", file=sys.stderr)
        return 2
    return 0
