"""The CLI's campaign: dataset -> per division (the seed's first) training -> export -> MD cases, then each
division's validation -> results and report.

`run_campaign` takes an already-running DataFlowKernel and executor labels and blocks until the report is
written. It is the library's campaign (builder.py: the same models, case plans, order, validation and collection)
plus what needs a driver that waits: the site engine's preflight before any MD case, complete cases of a resumed
run reused rather than rerun, and a progress line per task. Divisions run one after the other, so that no task
of ours shares a node with a measurement of the seed's.
"""
from dataclasses import dataclass, replace
from pathlib import Path

from ..config import SiteConfig
from ..divisions import division_sites
from ..science.lammps.logs import parse_log
from .apps import ExecutorLabels, make_apps
from .builder import (DivisionFutures, Parts, collection_args, division_outcome, submit_dataset, submit_md_cases,
                      submit_model, submit_validation)
from .case_plan import plan_case
from .cases import CaseOutcome, mpi_resources
from .code_digest import modules_digest
from .md_backends import backend_for
from .progress import Progress, describe_failure, describe_md_failure
from .provenance import lineage
from .resume import mark_done, reusable_or_forgotten
from .rundir import division_dir, train_dir, update_manifest
from .sweeps import md_cases
from .tasks import collect_results


@dataclass
class DivisionRun:
    """One division as the driver ran it: its futures, its cases' outcomes and its site engine's launch."""
    futures: DivisionFutures
    outcomes: list
    launch: dict = None  # the site engine's launch as the preflight found it (engine mliap)


def run_campaign(site: SiteConfig, run_dir: Path, dfk, labels: ExecutorLabels = ExecutorLabels(), log=print,
                 heartbeat_s: float = 60.0, parts: Parts = Parts(), watch=None) -> dict:
    run_dir = Path(run_dir)
    apps = make_apps(dfk, labels)
    divisions = [(division, division_dir(run_dir, division.division)) for division in division_sites(site)]
    cases = {d.division: md_cases(d, folder) if parts.md else [] for d, folder in divisions}
    worker_f = apps.describe_worker(lammps_in_use([d for d, _ in divisions], cases))
    progress = Progress(parts.training + sum((1 + parts.training) + len(cases[d.division]) + d.validation.enabled
                                             for d, _ in divisions), log, heartbeat_s, watch)
    dataset_f = submit_dataset(apps, site) if parts.training else None
    if dataset_f is not None:
        for future, name in progress.as_completed({dataset_f: "dataset"}):
            progress.report(name, future.exception(), _brief("dataset", future))
    runs = [run_division(apps, division, folder, dataset_f, cases[division.division], parts, progress, run_dir, log)
            for division, folder in divisions]
    finished = []
    for run in runs:
        division = run.futures
        validation = None
        if division.site.validation.enabled and division.export.exception() is None:
            validation = wait_for_validation(submit_validation(apps, division.site, division.dir, division.export,
                                                               division.training, [o.case for o in run.outcomes]),
                                             progress, f"{division.site.division}/validation")
        finished.append(division_outcome(division, dataset_f, run.outcomes, validation))
    # In this process, not as a task: results.csv must be written even when every block is gone
    # (walltime, lost nodes), and collection only parses logs and draws plots.
    collected = collect_results(*collection_args(site, run_dir, finished))
    record_provenance(run_dir, dfk, worker_f, dataset_f, runs)
    collected["site_engine"] = {str(run.futures.site.division): run.launch for run in runs if run.launch}
    return collected


def lammps_in_use(division_sites_: list, cases: dict) -> list:
    """(engine, lmp) of each division that runs MD cases, once each: the LAMMPS the worker's record describes."""
    used = [(d.md.engine, backend_for(d.md.engine).lmp(d)) for d in division_sites_ if cases[d.division]]
    return list(dict.fromkeys(used))


def run_division(apps, site: SiteConfig, folder: Path, dataset_f, cases: list, parts: Parts, progress: Progress,
                 run_dir: Path, log) -> DivisionRun:
    """One division: its model (trained, or an export adopted), the site engine's preflight, then its MD cases
    (the seed's one at a time); blocks until they have all finished."""
    name = site.division
    train_f, export_f = submit_model(apps, site, folder, dataset_f, parts)
    model = {export_f: "export"} if train_f is None else {train_f: "training", export_f: "export"}
    for future, what in progress.as_completed(model):
        if what == "training" and future.exception() is None:
            progress.epoch_time_s = future.result().epoch_time_s
        progress.report(f"{name}/{what}", future.exception(), _brief(what, future))
    launch = None
    if export_f.exception() is None and cases:
        launch = backend_for(site.md.engine).launch_preflight(site, folder, parsl_probe(apps, site, progress), log,
                                                              run_dir)
        if launch and launch.get("kokkos"):
            cases = md_cases(site, folder, tuple(launch["kokkos"]["package"].split()))
    outcomes = run_md_cases(apps, site, cases, export_f, progress)
    return DivisionRun(DivisionFutures(site, folder, train_f, export_f), outcomes, launch)


def run_md_cases(apps, site: SiteConfig, cases: list, export_f, progress: Progress) -> list:
    """Every MD case once the model exists, as a CaseOutcome: a case whose inputs (model bytes, deck parameters,
    engine, command, code versions) match a complete earlier run of it in this folder is reused, not rerun; the
    rest are submitted in the division's order (builder.submit_md_cases)."""
    outcomes = {}  # task -> CaseOutcome
    to_run = []
    md_code = modules_digest(backend_for(site.md.engine).code_modules)  # the same for every case: hashed once
    for case in cases:
        case.dir.mkdir(parents=True, exist_ok=True)
        if export_f.exception() is not None:
            outcomes[case.task] = CaseOutcome(case, error="not run: the export failed")
            progress.report(_name(case), RuntimeError(outcomes[case.task].error), "")
            continue
        plan = plan_case(site, case)
        key = plan.content_key(export_f.result(), site.md.custom_kernels, md_code)
        outcomes[case.task] = CaseOutcome(case, key=key, command=plan.command, threads=plan.threads)
        if reusable_or_forgotten(case.dir, "md", key, whole=lambda: parse_log(case.log).status == "ok"):
            _note_throughput(progress, case)
            progress.report(_name(case), None, " (reused)" + _md_brief(case))
            continue
        to_run.append(plan)
    futures = submit_md_cases(apps, site, to_run, export_f.result() if to_run else None)
    by_future = {futures[plan.case.task]: plan.case for plan in to_run}
    for future, case in progress.as_completed(by_future):
        exc = future.exception()
        outcome = outcomes[case.task]
        if exc is None and parse_log(case.log).status == "ok":
            mark_done(case.dir, "md", outcome.key, task=case.task)
            _note_throughput(progress, case)
        if exc is not None:
            outcome = outcomes[case.task] = replace(outcome, error=describe_md_failure(case, outcome.command, future))
        progress.report(_name(case), exc, _md_brief(case) if exc is None else "", failure=outcome.error)
    return [outcomes[case.task] for case in cases]


def _name(case) -> str:
    """A case's name in progress lines: its division's and its own."""
    return f"{case.division}/{case.task}"


def wait_for_validation(validation_f, progress: Progress, name: str = "validation"):
    """The validation's result (None if it failed), with status lines while the checks run."""
    validation = None
    for _ in progress.as_completed({validation_f: name}):
        exc = validation_f.exception()
        validation = validation_f.result() if exc is None else None
        progress.report(name, exc, f" - {_flags_text(validation['flags'])} - report {validation['report']}"
                        if validation else "")
    return validation


def parsl_probe(apps, site: SiteConfig, progress: Progress = None):
    """run_probe for the site engine's preflight (site_engine_preflight.py): the probe as an MPI task, launched the
    way MD cases are (waited on through `progress`, whose watch stops a campaign whose workers never start)."""
    def run_probe(probe_dir: Path, lmp: str, kokkos_package: tuple):
        future = apps.probe_site_engine(
            str(probe_dir), lmp, kokkos_package, site.provider.task_python,
            stdout=str(probe_dir / "stdout.txt"), stderr=str(probe_dir / "stderr.txt"),
            parsl_resource_specification=mpi_resources(site, 1))
        if progress is not None:
            progress.wait(future)
        return future.exception()

    return run_probe


def record_provenance(run_dir: Path, dfk, worker_f, dataset_f, runs: list):
    """manifest.json: the worker's hardware/software, each executor's scheduler jobs, and the lineage of each
    division (dataset -> model -> export -> every MD log)."""
    def result_or_error(future):
        return future.result() if future.exception() is None else {"error": describe_failure(future.exception())}

    jobs = {label: dict(getattr(executor, "blocks_to_job_id", {}))
            for label, executor in dfk.executors.items() if label != "_parsl_internal"}
    dataset = dataset_f.result() if dataset_f is not None and dataset_f.exception() is None else {}
    divisions = []
    for run in runs:
        export_f = run.futures.export
        exported = export_f.result() if export_f.exception() is None else None
        divisions.append((run.futures.site.division, train_dir(run.futures.dir), exported, run.outcomes))
    update_manifest(run_dir, worker=result_or_error(worker_f), scheduler_jobs=jobs,
                    lineage=lineage(dataset, divisions))


def _note_throughput(progress, case):
    parsed = parse_log(case.log)
    if parsed.status == "ok":
        progress.throughput[_name(case)] = parsed.katom_step_s


def _flags_text(flags):
    return ", ".join(f"{k} {v}" for k, v in flags.items() if v != "")


def _md_brief(case):
    parsed = parse_log(case.log)
    if parsed.status != "ok":
        return f" - log: {case.log}"
    return f" - {parsed.atoms} atoms on {parsed.ranks} rank(s): {parsed.katom_step_s:.2f} Katom-step/s"


def _brief(name, future):
    if future.exception() is not None:
        return ""
    result = future.result()
    if name == "training":
        return (f"{' (reused)' if result.reused else ''} - FOM epoch time {result.epoch_time_s:.3f} s "
                f"over {result.epochs} epochs, test EpA-MAE {result.test_epa_mae_mev:.2f} meV/atom, "
                f"Force MAE {result.test_force_mae_mev_per_a:.1f} meV/Å")
    if name == "export":
        return " (reused)" if result.reused else ""
    if name == "dataset":
        return f" - {result['kind']}, {result['frames']} frames of {result['atoms_per_frame']} atoms"
    return ""
