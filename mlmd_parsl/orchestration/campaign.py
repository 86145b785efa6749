"""The CLI's campaign: dataset -> training -> export -> MD cases -> validation -> results and report.

`run_campaign` takes an already-running DataFlowKernel and executor labels and blocks until the
report is written, reusing complete tasks of a resumed run. For futures instead, see builder.py.
"""
from dataclasses import asdict
from pathlib import Path

from ..config import SiteConfig
from ..science.logs import parse_log
from .apps import ExecutorLabels, make_apps
from .builder import submit_md_case, submit_model, training_outcome
from .cases import md_cases, threads_per_rank
from .progress import Progress, describe_failure, describe_md_failure
from .provenance import lineage
from .resume import is_done, mark_done, md_case_key
from .rundir import find_baseline, update_manifest
from .tasks import collect_results


def run_campaign(site: SiteConfig, run_dir: Path, dfk, labels: ExecutorLabels = ExecutorLabels(), log=print,
                 heartbeat_s: float = 60.0) -> dict:
    run_dir = Path(run_dir)
    apps = make_apps(dfk, labels)
    train_dir = run_dir / "train"
    cases = md_cases(site, run_dir)
    worker_f = apps.describe_worker(site.md.engine, cases[0]["lmp"] if cases else "")
    dataset_f, train_f, export_f = submit_model(apps, site, run_dir)
    progress = Progress(3 + len(cases), log, heartbeat_s)
    for future, name in progress.as_completed({dataset_f: "dataset", train_f: "training", export_f: "export"}):
        if name == "training" and future.exception() is None:
            progress.epoch_time_s = future.result()["epoch_time_s"]
        progress.report(name, future.exception(), _brief(name, future, future.exception()))

    # MD cases are submitted once the model exists: a case whose inputs (model bytes, deck parameters,
    # engine, code versions) match a complete earlier run of it in this folder is reused, not rerun.
    md_futures = {}
    for case in cases:
        Path(case["dir"]).mkdir(parents=True, exist_ok=True)
        threads = threads_per_rank(site, case["ranks"], case["packed"])
        if export_f.exception() is not None:
            case["error"] = "not run: the export failed"
            progress.report(case["task"], RuntimeError(case["error"]), "")
            continue
        exported = export_f.result()
        case["key"] = md_case_key(case, exported["model"], site.md.custom_kernels, threads)
        if is_done(case["dir"], "md", case["key"]) and parse_log(case["log"]).status == "ok":
            _note_throughput(progress, case)
            progress.report(case["task"], None, " (reused)" + _md_brief(case))
            continue
        future = submit_md_case(apps, site, case, exported)
        md_futures[future] = case
    for future, case in progress.as_completed(md_futures):
        exc = future.exception()
        if exc is None and parse_log(case["log"]).status == "ok":
            mark_done(case["dir"], "md", case["key"], task=case["task"])
            _note_throughput(progress, case)
        if exc is not None:
            case["error"] = describe_md_failure(case, future)
        progress.report(case["task"], exc, _md_brief(case) if exc is None else "", failure=case.get("error", ""))

    training = training_outcome(train_f, dataset_f, train_dir)
    validation = None
    if site.validation.enabled and export_f.exception() is None:
        # After the MD cases, so that it never shares the cores with a timed run.
        validation_f = apps.validate(export_f, train_f, str(run_dir / "validation"), asdict(site.validation.spec))
        if validation_f.exception() is None:
            validation = validation_f.result()
            log(f"validation: {_flags_text(validation['flags'])} - report {validation['report']}")
        else:
            log(f"validation: failed: {describe_failure(validation_f.exception())}")
    # In this process, not as a task: results.csv must be written even when every block is gone
    # (walltime, lost nodes), and collection only parses logs and draws plots.
    collected = collect_results(str(run_dir), training, cases, site.name, validation, find_baseline(site, run_dir))
    record_provenance(run_dir, dfk, worker_f, dataset_f, export_f, cases)
    return collected


def record_provenance(run_dir: Path, dfk, worker_f, dataset_f, export_f, cases):
    """manifest.json: the worker's hardware/software, each executor's scheduler jobs, and the lineage."""
    def result_or_error(future):
        return future.result() if future.exception() is None else {"error": describe_failure(future.exception())}

    jobs = {label: dict(getattr(executor, "blocks_to_job_id", {}))
            for label, executor in dfk.executors.items() if label != "_parsl_internal"}
    dataset = dataset_f.result() if dataset_f.exception() is None else {}
    exported = export_f.result() if export_f.exception() is None else {}
    update_manifest(run_dir, worker=result_or_error(worker_f), scheduler_jobs=jobs,
                    lineage=lineage(dataset, run_dir / "train", exported, cases))


def _note_throughput(progress, case):
    parsed = parse_log(case["log"])
    if parsed.status == "ok":
        progress.throughput[case["task"]] = parsed.katom_step_s


def _flags_text(flags):
    return ", ".join(f"{k} {v}" for k, v in flags.items() if v != "")


def _md_brief(case):
    parsed = parse_log(case["log"])
    if parsed.status != "ok":
        return f" - log: {case['log']}"
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
        return " (reused)" if result.get("reused") else ""
    if name == "dataset":
        return f" - {result['kind']}, {result['frames']} frames of {result['atoms_per_frame']} atoms"
    return ""
