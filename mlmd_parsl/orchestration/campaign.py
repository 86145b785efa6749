"""The CLI's campaign: dataset -> training -> export -> MD cases -> validation -> results and report.

`run_campaign` takes an already-running DataFlowKernel and executor labels and blocks until the report is
written. It is the library's campaign (builder.py: the same model, case plans, validation and collection) plus
what needs a driver that waits: the site engine's preflight before any MD case, complete cases of a resumed run
reused rather than rerun, and a progress line per task.
"""
from dataclasses import replace
from pathlib import Path

from ..config import SiteConfig
from ..science.choices import MDEngine
from ..science.lammps.logs import parse_log
from .apps import ExecutorLabels, make_apps
from .builder import collection_args, submit_md_case, submit_model, submit_validation
from .case_plan import plan_case
from .cases import CaseOutcome, md_cases, mpi_resources, site_lmp
from .code_digest import source_digest
from .progress import Progress, describe_failure, describe_md_failure
from .provenance import lineage
from .resume import is_done, mark_done
from .rundir import train_dir, update_manifest
from .tasks import collect_results


def run_campaign(site: SiteConfig, run_dir: Path, dfk, labels: ExecutorLabels = ExecutorLabels(), log=print,
                 heartbeat_s: float = 60.0) -> dict:
    run_dir = Path(run_dir)
    apps = make_apps(dfk, labels)
    cases = md_cases(site, run_dir)
    worker_f = apps.describe_worker(site.md.engine, cases[0].lmp if cases else "")
    dataset_f, train_f, export_f = submit_model(apps, site, run_dir)
    progress = Progress(3 + len(cases) + bool(site.validation.enabled), log, heartbeat_s)
    for future, name in progress.as_completed({dataset_f: "dataset", train_f: "training", export_f: "export"}):
        if name == "training" and future.exception() is None:
            progress.epoch_time_s = future.result()["epoch_time_s"]
        progress.report(name, future.exception(), _brief(name, future, future.exception()))

    launch = None  # the site engine's launch as the preflight found it (engine mliap)
    if site.md.engine is MDEngine.MLIAP and export_f.exception() is None and cases:
        launch = preflight_site_engine(site, run_dir, parsl_probe(apps, site), log)
        if launch.get("kokkos"):
            cases = md_cases(site, run_dir, tuple(launch["kokkos"]["package"].split()))
    outcomes = run_md_cases(apps, site, cases, export_f, progress)
    validation = None
    if site.validation.enabled and export_f.exception() is None:
        validation = wait_for_validation(submit_validation(apps, site, run_dir, export_f, train_f, cases), progress)
    # In this process, not as a task: results.csv must be written even when every block is gone
    # (walltime, lost nodes), and collection only parses logs and draws plots.
    collected = collect_results(*collection_args(site, run_dir, train_f, dataset_f, outcomes, validation))
    record_provenance(run_dir, dfk, worker_f, dataset_f, export_f, outcomes)
    if launch:
        collected["site_engine"] = launch
    return collected


def run_md_cases(apps, site: SiteConfig, cases: list, export_f, progress: Progress) -> list:
    """Every MD case once the model exists, as a CaseOutcome: a case whose inputs (model bytes, deck parameters,
    engine, command, code versions) match a complete earlier run of it in this folder is reused, not rerun."""
    outcomes = {}  # task -> CaseOutcome
    md_futures = {}
    md_code = source_digest(f"md_{site.md.engine}")  # the same for every case: hashed once, not per case
    for case in cases:
        case.dir.mkdir(parents=True, exist_ok=True)
        if export_f.exception() is not None:
            outcomes[case.task] = CaseOutcome(case, error="not run: the export failed")
            progress.report(case.task, RuntimeError(outcomes[case.task].error), "")
            continue
        plan = plan_case(site, case)
        key = plan.content_key(export_f.result(), site.md.custom_kernels, md_code)
        outcomes[case.task] = CaseOutcome(case, key=key, command=plan.command, threads=plan.threads)
        if is_done(case.dir, "md", key) and parse_log(case.log).status == "ok":
            _note_throughput(progress, case)
            progress.report(case.task, None, " (reused)" + _md_brief(case))
            continue
        md_futures[submit_md_case(apps, site, plan, export_f.result())] = case
    for future, case in progress.as_completed(md_futures):
        exc = future.exception()
        outcome = outcomes[case.task]
        if exc is None and parse_log(case.log).status == "ok":
            mark_done(case.dir, "md", outcome.key, task=case.task)
            _note_throughput(progress, case)
        if exc is not None:
            outcome = outcomes[case.task] = replace(outcome, error=describe_md_failure(case, outcome.command, future))
        progress.report(case.task, exc, _md_brief(case) if exc is None else "", failure=outcome.error)
    return [outcomes[case.task] for case in cases]


def wait_for_validation(validation_f, progress: Progress):
    """The validation's result (None if it failed), with status lines while the checks run."""
    validation = None
    for _ in progress.as_completed({validation_f: "validation"}):
        exc = validation_f.exception()
        validation = validation_f.result() if exc is None else None
        progress.report("validation", exc, f" - {_flags_text(validation['flags'])} - report {validation['report']}"
                        if validation else "")
    return validation


def parsl_probe(apps, site: SiteConfig):
    """run_probe for preflight_site_engine: the probe as an MPI task, launched the way MD cases are."""
    def run_probe(probe_dir: Path, lmp: str, kokkos_package: tuple):
        future = apps.probe_site_engine(
            str(probe_dir), lmp, kokkos_package, site.provider.task_python,
            stdout=str(probe_dir / "stdout.txt"), stderr=str(probe_dir / "stderr.txt"),
            parsl_resource_specification=mpi_resources(site, 1))
        return future.exception()

    return run_probe


def preflight_site_engine(site: SiteConfig, run_dir: Path, run_probe, log=print) -> dict:
    """Preflight by doing: the site's `lmp` evaluates the exported model once (run 0, one rank, launched as MD
    cases are) before any MD case; on GPUs through KOKKOS it finds the options that `lmp` accepts
    (kokkos_options.py says how). run_probe(probe_dir, lmp, kokkos_package) runs case_plan.site_engine_probe_command
    with its output in probe_dir/stdout.txt and stderr.txt and returns its exception or None. Returns {"lmp",
    "kokkos": KokkosChoice record or None}, also written to the manifest; raises EngineError (exit 2) quoting
    why it failed. The trained model is kept."""
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
    if reason is not None:
        update_manifest(run_dir, site_engine={"lmp": lmp, "kokkos": kokkos, "preflight": "failed", "reason": reason})
        raise EngineError(
            f"md.engine mliap: the site's LAMMPS {lmp} cannot run the exported model (preflight, run 0 in "
            f"{probe_dir}): {reason}. No MD case was started; the trained model is kept: fix this, then continue "
            f"with --resume {run_dir}")
    log_file = probe_dir / "log.lammps"
    launch = {"lmp": lmp, "kokkos": kokkos, "preflight": "ok"}
    update_manifest(run_dir, site_engine=launch)
    log(f"site engine preflight: {lmp} evaluated the {site.md.mliap_model} export (run 0, "
        f"{parse_log(log_file).atoms} atoms, PE {probe_energy(log_file):.3f} eV) in {time.monotonic() - start:.0f} s"
        + (f"; MD cases run {choice.describe()}" if kokkos else ""))
    return launch


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


def record_provenance(run_dir: Path, dfk, worker_f, dataset_f, export_f, outcomes):
    """manifest.json: the worker's hardware/software, each executor's scheduler jobs, and the lineage."""
    def result_or_error(future):
        return future.result() if future.exception() is None else {"error": describe_failure(future.exception())}

    jobs = {label: dict(getattr(executor, "blocks_to_job_id", {}))
            for label, executor in dfk.executors.items() if label != "_parsl_internal"}
    dataset = dataset_f.result() if dataset_f.exception() is None else {}
    exported = export_f.result() if export_f.exception() is None else None
    update_manifest(run_dir, worker=result_or_error(worker_f), scheduler_jobs=jobs,
                    lineage=lineage(dataset, train_dir(run_dir), exported, outcomes))


def _note_throughput(progress, case):
    parsed = parse_log(case.log)
    if parsed.status == "ok":
        progress.throughput[case.task] = parsed.katom_step_s


def _flags_text(flags):
    return ", ".join(f"{k} {v}" for k, v in flags.items() if v != "")


def _md_brief(case):
    parsed = parse_log(case.log)
    if parsed.status != "ok":
        return f" - log: {case.log}"
    return f" - {parsed.atoms} atoms on {parsed.ranks} rank(s): {parsed.katom_step_s:.2f} Katom-step/s"


def _brief(name, future, exc):
    if exc is not None:
        return ""
    result = future.result()
    if name == "training":
        test = result["metrics"].get("test", {})
        return (f"{' (reused)' if result.get('reused') else ''} - FOM epoch time {result['epoch_time_s']:.3f} s over {result['epochs']} epochs, "
                f"test EpA-MAE {test.get('EpA-MAE', float('nan')):.2f} meV/atom, "
                f"Force MAE {test.get('ForceMAE', float('nan')):.1f} meV/A")
    if name == "export":
        return " (reused)" if result.reused else ""
    if name == "dataset":
        return f" - {result['kind']}, {result['frames']} frames of {result['atoms_per_frame']} atoms"
    return ""
