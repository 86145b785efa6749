"""Plain functions that become Parsl apps in apps.py. Only paths, small dicts, exports and MD cases go in and out.
Each is tagged with its task kind: the retry budget of the site's `retries:` section that it draws on."""
import dataclasses
from pathlib import Path

from ..science.model.export import Export
from ..science.validation.cross_engine import SiteEngine
from .cases import DivisionOutcome
from .retry import task_kind


@task_kind("dataset")
def prepare_dataset(dataset_config: dict, cache_dir: str) -> dict:
    """Validate the real dataset if a path is set, else make (or reuse) the synthetic default."""
    from mlmd_parsl.orchestration.code_digest import source_digest
    from mlmd_parsl.science.model.dataset import SyntheticSpec, synthetic_dataset, validate_dataset

    from mlmd_parsl.science.model.dataset import expected_md5

    if dataset_config.get("path"):
        path = dataset_config["path"]
        return dataclasses.asdict(validate_dataset(path, expected_md5(path, dataset_config["md5"])))
    synthetic = dataset_config["synthetic"]
    spec = SyntheticSpec(**{**synthetic, "temperatures_k": tuple(synthetic["temperatures_k"])})
    # one cache per version of the code that makes the frames: a changed generator makes new ones
    return dataclasses.asdict(synthetic_dataset(spec, Path(cache_dir) / f"code-{source_digest('dataset')[:12]}"))


@task_kind("training")
def train_model(dataset: dict, train_dir: str, training_spec: dict, custom_kernels: str, threads: int = 0,
                after=None):
    """Train, unless this folder already holds a complete training of the same data and settings. `threads`:
    torch's threads (FOM 1 depends on them; training.py says why they are always set). `after`: a future Parsl
    waits for before it starts (the seed division's last timed task), its value unused."""
    from mlmd_parsl.orchestration.code_digest import source_digest
    from mlmd_parsl.orchestration.resume import content_key, reuse_or_run
    from mlmd_parsl.science.model.training_summary import read_training_summary

    key = content_key(source_digest("training"), what="training",
                      dataset=dataset["sha256"], spec=training_spec, kernels=custom_kernels,
                      threads=threads)
    folder = Path(train_dir)
    outputs = [folder / n for n in ("training_summary.json", "network_state.pt", "model_results.txt")]

    def run():
        import hippynn.custom_kernels

        from mlmd_parsl.science.model.training import TrainingSpec, train

        previous = hippynn.custom_kernels.CUSTOM_KERNELS_ACTIVE  # a worker runs other tasks after this one
        hippynn.custom_kernels.set_custom_kernels(_kernel_setting(custom_kernels))
        try:
            return train(dataset["path"], train_dir, TrainingSpec(**training_spec), dataset_label=dataset["kind"],
                         threads=threads, oracle=dataset["details"].get("oracle"))
        finally:
            hippynn.custom_kernels.set_custom_kernels(previous)

    return reuse_or_run(folder, "training", key, outputs, run,
                        lambda: read_training_summary(outputs[0]).as_reused())


@task_kind("export")
def export_for_lammps(training_summary, train_dir: str, model_device: str, lean: bool = False) -> Export:
    """hippynn_lammps_model.pt and ag_box.data; with `lean`, also lean_lammps_model.pt (md.mliap_model: lean)."""
    from mlmd_parsl.orchestration.code_digest import source_digest
    from mlmd_parsl.orchestration.resume import content_key, reuse_or_run
    from mlmd_parsl.science.model.dataset import file_sha256
    from mlmd_parsl.science.model.export import BOX_FILE, LEAN_MODEL_FILE, MODEL_FILE, export_model

    folder = Path(train_dir)
    state = folder / "network_state.pt"
    key = content_key(source_digest("export"), what="export",
                      state=file_sha256(state), device=model_device, dataset=training_summary.dataset,
                      lean=lean)
    paths = {"model": str(folder / MODEL_FILE), "box": str(folder / BOX_FILE)}
    if lean:
        paths["lean_model"] = str(folder / LEAN_MODEL_FILE)
    paths, reused = reuse_or_run(
        folder, "export", key, paths.values(),
        lambda: (export_model(state, training_summary.dataset, train_dir, model_device, lean=lean), False),
        lambda: (paths, True))
    return Export(**paths, dataset_label=training_summary.dataset_label, oracle=training_oracle(training_summary),
                  reused=reused)


@task_kind("export")
def adopt_export(model: str, box: str, train_dir: str, model_device: str, lean: bool = False, after=None) -> Export:
    """An export made elsewhere (hippynn's MLIAPInterface and its unit box), copied into this division's train
    folder as if this run had made it, so the run folder holds every input of its MD cases; with `lean`, our lean
    export of the same weights beside it. `after`: as train_model's."""
    import shutil

    from mlmd_parsl.science.model.export import BOX_FILE, MODEL_FILE, load_exported_model_noting, save_converted

    folder = Path(train_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"model": str(folder / MODEL_FILE), "box": str(folder / BOX_FILE)}
    interface, changes = load_exported_model_noting(model, device="cpu")
    if changes:  # an older hippynn's export: the site's LAMMPS loads the converted file with a plain torch.load
        save_converted(interface, paths["model"], model_device)
    copies = ((box, paths["box"]),) if changes else ((model, paths["model"]), (box, paths["box"]))
    for source, target in copies:
        if Path(source).resolve() != Path(target).resolve():
            shutil.copyfile(source, target)
    if lean:
        from mlmd_parsl.science.model.lean_mliap import export_lean_model

        paths["lean_model"] = str(export_lean_model(interface, folder, model_device))
    return Export(**paths, dataset_label="unknown (an export made elsewhere)", oracle=None)


def training_oracle(training_summary):
    """The EAM oracle that labelled the training's synthetic data (trainings from before issue 25 recorded none:
    theirs was Ag_u3); None on real data."""
    if training_summary.dataset_label != "synthetic":
        return None
    return training_summary.oracle or "ag_u3"


@task_kind("validation")
def validate_exported_model(exported: Export, training_summary, out_dir: str, spec: dict,
                            site_engine: SiteEngine = None) -> dict:
    """The physics validation suite on the exported model (the EAM oracle comparison on synthetic data); with
    `site_engine`, the site's LAMMPS against the embedded engine too."""
    import json

    from mlmd_parsl.orchestration.code_digest import source_digest
    from mlmd_parsl.orchestration.resume import content_key, reuse_or_run
    from mlmd_parsl.science.model.dataset import file_sha256
    from mlmd_parsl.science.validation.spec import ValidationSpec
    from mlmd_parsl.science.validation.suite import validate_model

    site_key = ({**dataclasses.asdict(site_engine), "model": file_sha256(site_engine.model)} if site_engine else None)
    key = content_key(source_digest("validation"), what="validation",
                      model=file_sha256(exported.model), spec=spec, oracle=exported.oracle,
                      training=training_summary.metrics if training_summary else None, site_engine=site_key)
    report_json, report_md = Path(out_dir) / "validation.json", str(Path(out_dir) / "validation.md")

    def run():
        settings = ValidationSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in spec.items()})
        report = validate_model(exported.model, exported.box, out_dir, settings,
                                oracle=exported.oracle, training=training_summary, site_engine=site_engine)
        return {"flags": report["flags"], "report": report_md}

    return reuse_or_run(out_dir, "validation", key, [report_json], run,
                        lambda: {"flags": json.loads(report_json.read_text())["flags"], "report": report_md,
                                 "reused": True})


@task_kind("collection")
def collect_results(run_dir: str, divisions: list[DivisionOutcome], site_name: str, baselines: list = (),
                    tolerance: float = 0.10, context: dict = None) -> dict:
    """Parse every log into results.csv (each division's rows with its model's validity flags), draw the plots and
    write report.md (each division's rows next to the seed's numbers where like for like, and to `baselines`,
    earlier runs' results.csv, like for like)."""
    from mlmd_parsl.science.reporting.plots import (plot_caption, plot_step_cost, plot_strong_scaling,
                                                    plot_throughput, plot_weak_scaling)
    from mlmd_parsl.science.reporting.report_md import write_report
    from mlmd_parsl.science.reporting.results import (UnreadableResults, read_results, relative_to, write_results,
                                                      write_results_json)

    run_dir = Path(run_dir)
    rows = [row for division in divisions for row in division_rows(division)]
    for row in rows:
        row["log"] = relative_to(row.get("log"), run_dir)
    write_results(rows, run_dir / "results.csv")
    context = context or {}
    write_results_json(rows, run_dir / "results.json", context.get("run", run_dir.name), context.get("commit"),
                       context.get("dirty"))
    caption = plot_caption(rows, site_name, {**context, "date": _run_date(run_dir)})
    plot = plot_throughput(rows, run_dir / "throughput.png", caption)
    plots = {"Throughput vs atoms": plot,
             "Step cost vs atoms": plot_step_cost(rows, run_dir / "step_cost.png", caption),
             "Strong scaling": plot_strong_scaling(rows, run_dir / "strong_scaling.png", caption),
             "Weak scaling": plot_weak_scaling(rows, run_dir / "weak_scaling.png", caption)}
    baseline_runs = {}
    for baseline in baselines:  # an earlier run's table someone edited must not cost this run its report
        try:
            baseline_runs[Path(baseline).parent.name] = read_results(baseline)
        except UnreadableResults as exc:
            print(f"note: baseline left out: {exc}", flush=True)
    labels = sorted({r["dataset"] for r in rows if r.get("dataset")})
    report = write_report(rows, run_dir, f"MLMD benchmark: site {site_name}, {' and '.join(labels) or '?'} dataset",
                          baseline_runs, tolerance, plots=plots, context=context)
    return {"results": str(run_dir / "results.csv"), "plot": plot, "report": str(report), "rows": rows}


def division_rows(division: DivisionOutcome) -> list:
    """The rows of one division: its training (where it ran here) and its MD cases, each with the division, its
    deviations and its model's validity flags."""
    from mlmd_parsl.science.reporting.results import md_row, training_row
    from mlmd_parsl.science.seed_procedure import DEVIATION_SEPARATOR
    from mlmd_parsl.science.validation.verdict import physics_verdict

    training = division.training
    label = training.get("dataset_label", "") if training else division.dataset_label
    rows = []
    if training is not None:
        rows.append({**training_row(training.get("summary"), label, training.get("log", ""), training.get("error"),
                                    training.get("dataset_sha256", "")),
                     "division": str(division.division),
                     "deviations": DEVIATION_SEPARATOR.join(division.training_deviations)})
    rows += [md_row(**outcome.case.result_fields(), dataset_label=label, error=outcome.error, threads=outcome.threads)
             for outcome in division.outcomes]
    flags = (division.validation or {}).get("flags", {})
    if training and training.get("summary") and not flags:
        from mlmd_parsl.science.choices import Flag
        from mlmd_parsl.science.validation.accuracy import accuracy_gate

        flags = {"accuracy_gate": Flag.PASS if accuracy_gate(training["summary"])["ok"] else Flag.FAIL}
    for row in rows:
        row.update(flags)
        row["physics"] = physics_verdict(flags)
    return rows


def _run_date(run_dir: Path) -> str:
    """The day the run started, from its manifest (a resumed run keeps its first day)."""
    import json

    from mlmd_parsl.orchestration.rundir import first_start

    try:
        return first_start(json.loads((run_dir / "manifest.json").read_text()))[:10]
    except (OSError, ValueError, AttributeError):
        return ""


def _kernel_setting(value: str):
    return {"True": True, "False": False}.get(value, value)
