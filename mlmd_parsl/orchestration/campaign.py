"""The campaign: dataset -> training -> export -> MD cases -> results.csv, as Parsl futures.

`run_campaign` takes an already-running DataFlowKernel and executor labels, so a larger Parsl
program can call it with its own; the CLI makes one from the site config.
"""
import os
import re
import sys
from dataclasses import asdict
from pathlib import Path

from ..config import SiteConfig
from ..science.logs import parse_log
from .apps import ExecutorLabels, make_apps
from .resume import is_done, mark_done, md_case_key
from .progress import Progress, describe_failure
from .provenance import lineage
from .rundir import find_baseline, runs_root, update_manifest


def md_cases(site: SiteConfig, run_dir: Path) -> list:
    """Every MD case of the site: the throughput sweep (zreps x ranks), then the weak-scaling sweep."""
    points = [("throughput", f"md_z{z}_r{r}", z, r) for z in site.md.zreps for r in site.md.ranks]
    weak = site.md.weak_scaling
    if weak.zrep_per_rank:
        points += [("weak", f"weak_r{r}", weak.zrep_per_rank * r, r) for r in weak.ranks]
    # As configured, not resolved here: MD runs where the workers are, whose PATH may differ from the driver's.
    lmp = (site.md.lmp or os.environ.get("LMP", "") or "lmp") if site.md.engine == "mliap" else ""
    cases = []
    for sweep, name, zrep, ranks in points:
        case_dir = run_dir / "md" / name
        cases.append({
            "task": name,
            "sweep": sweep,
            "zrep": zrep,
            "replicate": [2, 2, zrep],
            "ranks": ranks,
            # one GPU each, packed one per GPU by the python executor's workers (HTEX available_accelerators)
            "packed": sweep == "throughput" and ranks == 1 and site.provider.gpus_per_node > 0,
            "profile": site.md.profile,
            "engine": site.md.engine,
            "model_device": site.md.model_device,
            "dtype": site.md.dtype,
            "lmp": lmp,
            "kokkos": site.md.kokkos,
            "kokkos_gpus": min(ranks, ranks_per_node(site)),  # -k on g N: GPUs each node's ranks share
            "dir": str(case_dir),
            "log": str(case_dir / "log.lammps"),
        })
    return cases


def write_site_engine_deck(case: dict, train_dir: Path) -> Path:
    """in.lammps for the site's LAMMPS: the MD-HO deck with `pair_style mliap unified` (the seed's deck)."""
    from ..science.deck import make_deck, protocol_by_name
    from ..science.export import BOX_FILE, MODEL_FILE

    deck = make_deck(
        train_dir / BOX_FILE, case["replicate"], protocol_by_name(case["profile"]), engine="mliap",
        model_file=train_dir / MODEL_FILE, kokkos=case["kokkos"],
    )
    path = Path(case["dir"]) / "in.lammps"
    path.write_text(deck.text)
    return path


def ranks_per_node(site: SiteConfig) -> int:
    """How many MD ranks fit a node: one per GPU when the model runs on GPUs, else one per core."""
    if site.provider.gpus_per_node and site.md.model_device.startswith("cuda"):
        return site.provider.gpus_per_node
    return site.provider.cores_per_node


def mpi_resources(site: SiteConfig, ranks: int) -> dict:
    """Parsl's MPI resource request for `ranks` ranks: whole nodes, ranks spread evenly (validated)."""
    nodes = -(-ranks // ranks_per_node(site))
    spec = {"num_nodes": nodes, "num_ranks": ranks, "ranks_per_node": ranks // nodes}
    if site.provider.launcher_options:
        spec["launcher_options"] = site.provider.launcher_options
    return spec


def threads_per_rank(site: SiteConfig, ranks: int, packed: bool = False) -> int:
    """OpenMP/torch threads per rank: what the launcher binds (--cpus-per-task N), else the node's cores shared out.
    A packed single-GPU case shares its node with one case per GPU."""
    if packed:
        return max(1, site.provider.cores_per_node // site.provider.gpus_per_node)
    pinned = re.search(r"--cpus-per-task[= ](\d+)", site.provider.launcher_options)
    if pinned:
        return int(pinned.group(1))
    return max(1, site.provider.cores_per_node // min(ranks, site.provider.cores_per_node))


def run_campaign(site: SiteConfig, run_dir: Path, dfk, labels: ExecutorLabels = ExecutorLabels(), log=print,
                 heartbeat_s: float = 60.0) -> dict:
    run_dir = Path(run_dir)
    apps = make_apps(dfk, labels)
    train_dir = run_dir / "train"
    cache_dir = runs_root(site) / "cache"
    python = site.provider.python or sys.executable

    cases = md_cases(site, run_dir)
    worker_f = apps.describe_worker(site.md.engine, cases[0]["lmp"] if cases else "")
    dataset_f = apps.prepare_dataset(asdict(site.dataset), str(cache_dir))
    train_f = apps.train_model(dataset_f, str(train_dir), asdict(site.training.spec), site.training.custom_kernels)
    export_f = apps.export_for_lammps(train_f, str(train_dir), site.md.model_device)
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
        if case["engine"] == "mliap":
            write_site_engine_deck(case, train_dir)
        run_md = apps.run_md_packed if case["packed"] else apps.run_md
        future = run_md(
            case, exported, python, site.md.custom_kernels, threads,
            stdout=str(Path(case["dir"]) / "stdout.txt"),
            stderr=str(Path(case["dir"]) / "stderr.txt"),
            parsl_resource_specification={} if case["packed"] else mpi_resources(site, case["ranks"]),
        )
        md_futures[future] = case
    for future, case in progress.as_completed(md_futures):
        exc = future.exception()
        if exc is None and parse_log(case["log"]).status == "ok":
            mark_done(case["dir"], "md", case["key"], task=case["task"])
            _note_throughput(progress, case)
        progress.report(case["task"], exc, _md_brief(case) if exc is None else "")

    training = {"log": str(train_dir / "model_results.txt")}
    if train_f.exception() is None:
        summary = train_f.result()
        training.update(summary=summary, dataset_label=summary["dataset_label"])
    else:
        training["error"] = describe_failure(train_f.exception())
        training["dataset_label"] = dataset_f.result()["kind"] if dataset_f.exception() is None else ""
    for future, case in md_futures.items():
        if future.exception() is not None:
            case["error"] = describe_failure(future.exception())
    validation = None
    if site.validation.enabled and export_f.exception() is None:
        # After the MD cases, so that it never shares the cores with a timed run.
        validation_f = apps.validate(export_f, train_f, str(run_dir / "validation"), asdict(site.validation.spec))
        if validation_f.exception() is None:
            validation = validation_f.result()
            log(f"validation: {_flags_text(validation['flags'])} - report {validation['report']}")
        else:
            log(f"validation: failed: {describe_failure(validation_f.exception())}")
    collected = apps.collect_results(str(run_dir), training, cases, site.name, validation,
                                     find_baseline(site, run_dir)).result()
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
