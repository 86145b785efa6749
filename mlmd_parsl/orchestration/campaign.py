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
from ..science.choices import MDEngine
from ..science.lammps.logs import parse_log
from .apps import ExecutorLabels, make_apps
from .builder import (DivisionFutures, Parts, collection_args, division_outcome, submit_dataset, submit_md_cases,
                      submit_model, submit_validation)
from .case_plan import plan_case
from .cases import CaseOutcome, md_cases, mpi_resources, site_lmp
from .code_digest import source_digest
from .progress import Progress, describe_failure, describe_md_failure
from .provenance import lineage
from .resume import forget_done, is_done, mark_done
from .rundir import division_dir, train_dir, update_manifest
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
    used = [(d.md.engine, site_lmp(d) if d.md.engine is MDEngine.MLIAP else "") for d in division_sites_
            if cases[d.division]]
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
            progress.epoch_time_s = future.result()["epoch_time_s"]
        progress.report(f"{name}/{what}", future.exception(), _brief(what, future))
    launch = None
    if site.md.engine is MDEngine.MLIAP and export_f.exception() is None and cases:
        launch = preflight_site_engine(site, folder, parsl_probe(apps, site, progress), log, manifest_dir=run_dir)
        if launch.get("kokkos"):
            cases = md_cases(site, folder, tuple(launch["kokkos"]["package"].split()))
    outcomes = run_md_cases(apps, site, cases, export_f, progress)
    return DivisionRun(DivisionFutures(site, folder, train_f, export_f), outcomes, launch)


def run_md_cases(apps, site: SiteConfig, cases: list, export_f, progress: Progress) -> list:
    """Every MD case once the model exists, as a CaseOutcome: a case whose inputs (model bytes, deck parameters,
    engine, command, code versions) match a complete earlier run of it in this folder is reused, not rerun; the
    rest are submitted in the division's order (builder.submit_md_cases)."""
    outcomes = {}  # task -> CaseOutcome
    to_run = []
    md_code = source_digest(f"md_{site.md.engine}")  # the same for every case: hashed once, not per case
    for case in cases:
        case.dir.mkdir(parents=True, exist_ok=True)
        if export_f.exception() is not None:
            outcomes[case.task] = CaseOutcome(case, error="not run: the export failed")
            progress.report(_name(case), RuntimeError(outcomes[case.task].error), "")
            continue
        plan = plan_case(site, case)
        key = plan.content_key(export_f.result(), site.md.custom_kernels, md_code)
        outcomes[case.task] = CaseOutcome(case, key=key, command=plan.command, threads=plan.threads)
        if is_done(case.dir, "md", key) and parse_log(case.log).status == "ok":
            _note_throughput(progress, case)
            progress.report(_name(case), None, " (reused)" + _md_brief(case))
            continue
        forget_done(case.dir, "md")
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
    """run_probe for preflight_site_engine: the probe as an MPI task, launched the way MD cases are (waited on
    through `progress`, whose watch stops a campaign whose workers never start)."""
    def run_probe(probe_dir: Path, lmp: str, kokkos_package: tuple):
        future = apps.probe_site_engine(
            str(probe_dir), lmp, kokkos_package, site.provider.task_python,
            stdout=str(probe_dir / "stdout.txt"), stderr=str(probe_dir / "stderr.txt"),
            parsl_resource_specification=mpi_resources(site, 1))
        if progress is not None:
            progress.wait(future)
        return future.exception()

    return run_probe


def preflight_site_engine(site: SiteConfig, run_dir: Path, run_probe, log=print, manifest_dir: Path = None) -> dict:
    """Preflight by doing: the site's `lmp` evaluates the division's exported model once (run 0, one rank, launched
    as MD cases are) before any MD case; on GPUs through KOKKOS it finds the options that `lmp` accepts
    (kokkos_options.py says how). `run_dir`: the division's folder; `manifest_dir`: the run's (default: run_dir).
    run_probe(probe_dir, lmp, kokkos_package) runs case_plan.site_engine_probe_command with its output in
    probe_dir/stdout.txt and stderr.txt and returns its exception or None. Returns {"lmp", "kokkos": KokkosChoice
    record or None}, also written to the manifest under site_engine.<division>; raises EngineError (exit 2)
    quoting why it failed. The trained model is kept."""
    import time

    from ..errors import EngineError
    from ..science.lammps.kokkos_options import choose_kokkos_package
    from .cases import clear_probe_outputs, write_site_engine_probe

    probe_dir = write_site_engine_probe(site, run_dir)
    lmp = site_lmp(site)
    start = time.monotonic()

    def probe(kokkos_package):
        clear_probe_outputs(probe_dir)
        return probe_failure(probe_dir, run_probe(probe_dir, lmp, kokkos_package))

    if site.md.kokkos:
        choice = choose_kokkos_package(probe, site.md.kokkos_package)
        reason, kokkos = choice.failure or None, choice.as_record()
    else:
        reason, kokkos = probe(()), None
    manifest_dir = Path(manifest_dir or run_dir)
    if reason is not None:
        record_site_engine(manifest_dir, site, {"lmp": lmp, "kokkos": kokkos, "preflight": "failed", "reason": reason})
        raise EngineError(
            f"md.engine mliap: the site's LAMMPS {lmp} cannot run the {site.division} division's exported model "
            f"(preflight, run 0 in {probe_dir}): {reason}. No MD case was started; the trained model is kept: fix "
            f"this, then continue with --resume {manifest_dir}")
    log_file = probe_dir / "log.lammps"
    launch = {"lmp": lmp, "kokkos": kokkos, "preflight": "ok"}
    record_site_engine(manifest_dir, site, launch)
    log(f"{site.division}: site engine preflight: {lmp} evaluated the {site.md.mliap_model} export (run 0, "
        f"{parse_log(log_file).atoms} atoms, PE {probe_energy(log_file):.3f} eV) in {time.monotonic() - start:.0f} s"
        + (f"; MD cases run {choice.describe()}" if kokkos else ""))
    return launch


def record_site_engine(manifest_dir: Path, site: SiteConfig, launch: dict):
    """manifest.json's site_engine.<division>: what the preflight found, kept beside the other division's."""
    import json

    path = Path(manifest_dir) / "manifest.json"
    recorded = (json.loads(path.read_text()).get("site_engine") or {}) if path.is_file() else {}
    update_manifest(manifest_dir, site_engine={**recorded, str(site.division): launch})


def probe_energy(log_file: Path):
    from ..science.lammps.logs import thermo_tables

    return thermo_tables(log_file).get("timed", [{}])[0].get("PotEng") if log_file.exists() else None


def probe_failure(probe_dir: Path, exc):
    """None if the probe evaluated the model (its log has the energy), else the quoted reason it did not."""
    from ..science.lammps.site_lammps import quote_failure

    log_file = probe_dir / "log.lammps"
    if exc is None and probe_energy(log_file) is not None:
        return None
    output = "".join(p.read_text(errors="replace") for p in (probe_dir / "stdout.txt", probe_dir / "stderr.txt")
                     if p.exists())
    return quote_failure(output, log_file.read_text(errors="replace") if log_file.exists() else "")


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
        test = result["metrics"].get("test", {})
        return (f"{' (reused)' if result.get('reused') else ''} - FOM epoch time {result['epoch_time_s']:.3f} s "
                f"over {result['epochs']} epochs, "
                f"test EpA-MAE {test.get('EpA-MAE', float('nan')):.2f} meV/atom, "
                f"Force MAE {test.get('ForceMAE', float('nan')):.1f} meV/Å")
    if name == "export":
        return " (reused)" if result.reused else ""
    if name == "dataset":
        return f" - {result['kind']}, {result['frames']} frames of {result['atoms_per_frame']} atoms"
    return ""
