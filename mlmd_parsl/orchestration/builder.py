"""The campaign as futures, for a larger Parsl program or an interactive session, and the pieces the CLI's
driver (campaign.py) shares with it.

`submit_campaign` submits dataset -> training -> export -> every MD case to a DataFlowKernel the caller
owns (its executor labels named by `labels`) and returns at once with the futures; nothing here calls
`parsl.load` or keeps state between calls. `CampaignFutures.collect` then validates the model and writes
results.csv, the plots and report.md (with the baselines) as the CLI does. `run_campaign` (campaign.py) adds
what needs a blocking driver: the site engine's preflight, resuming complete cases, and progress lines.
"""
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..config import SiteConfig
from ..science.choices import MDEngine, MliapExport
from ..science.validation.cross_engine import SiteEngine
from .apps import Apps, ExecutorLabels, make_apps
from .case_plan import CasePlan, plan_case, training_threads
from .cases import CaseOutcome, md_cases, mpi_resources, site_lmp, write_site_engine_deck
from .rundir import find_baselines, runs_root, train_dir, validation_dir


@dataclass
class CampaignFutures:
    """Futures of one campaign; `cases` holds each MD case (parameters, directory and log path)."""
    apps: Apps
    site: SiteConfig
    run_dir: Path
    dataset: object
    training: object
    export: object
    md: dict = field(default_factory=dict)  # task name -> future of the MD case's exit code
    plans: list = field(default_factory=list)  # CasePlan of each MD case, in order

    @property
    def cases(self) -> list:
        return [plan.case for plan in self.plans]

    def collect(self):
        """Once every MD case has finished (failed ones are rows) and the validation with it (when enabled; a failed
        validation leaves the rows unverified): the future of results.csv + plots + report.md, next to the site's
        baselines."""
        from concurrent.futures import wait

        site = self.site
        wait(list(self.md.values()))
        outcomes = [CaseOutcome(plan.case, command=plan.command, threads=plan.threads,
                                error=str(self.md[plan.case.task].exception() or "")) for plan in self.plans]
        validation = None
        if site.validation.enabled and self.export.exception() is None:
            validation_f = submit_validation(self.apps, site, self.run_dir, self.export, self.training, self.cases)
            validation = validation_f.result() if validation_f.exception() is None else None
        return self.apps.collect_results(*collection_args(site, self.run_dir, self.training, self.dataset, outcomes,
                                                          validation))


def submit_model(apps: Apps, site: SiteConfig, run_dir: Path):
    """Futures of the dataset, the trained model and its LAMMPS export (an Export)."""
    trained = str(train_dir(run_dir))
    dataset_f = apps.prepare_dataset(asdict(site.dataset), str(runs_root(site) / "cache"))
    train_f = apps.train_model(dataset_f, trained, asdict(site.training.spec), site.training.custom_kernels,
                               training_threads(site))
    export_f = apps.export_for_lammps(train_f, trained, site.md.model_device,
                                      site.md.mliap_model is MliapExport.LEAN)
    return dataset_f, train_f, export_f


def submit_md_case(apps: Apps, site: SiteConfig, plan: CasePlan, exported):
    """One MD case; `exported` may be the export's future (Parsl waits for it) or its result."""
    case = plan.case
    case.dir.mkdir(parents=True, exist_ok=True)
    if case.engine is MDEngine.MLIAP:
        write_site_engine_deck(case)
    run_md = apps.run_md_packed if case.packed else apps.run_md
    return run_md(plan.command, exported, stdout=str(case.stdout), stderr=str(case.stderr),
                  parsl_resource_specification={} if case.packed else mpi_resources(site, case.ranks))


def submit_validation(apps: Apps, site: SiteConfig, run_dir: Path, export_f, train_f, cases: list):
    """The validation suite's future (submitted after the MD cases, so that it never shares the cores with a timed
    run); with the site engine, its cross-engine check runs the cases' LAMMPS and Kokkos line on the export they
    loaded."""
    site_engine = None
    if site.md.engine is MDEngine.MLIAP:
        site_engine = SiteEngine(site_lmp(site), export_f.result().mliap_file(site.md.mliap_model),
                                 site.md.model_device, cases[0].kokkos_package if cases else ())
    return apps.validate(export_f, train_f, str(validation_dir(run_dir)), asdict(site.validation.spec), site_engine)


def collection_args(site: SiteConfig, run_dir: Path, train_f, dataset_f, outcomes: list, validation) -> tuple:
    """The arguments of tasks.collect_results for this campaign (validation: its result, or None)."""
    return (str(run_dir), training_outcome(train_f, dataset_f, train_dir(run_dir)), outcomes, site.name, validation,
            find_baselines(site, run_dir), site.report.regression_tolerance, report_context(run_dir))


def report_context(run_dir: Path) -> dict:
    """Run name, host and the checkout's commit for report.md's first line (from manifest.json)."""
    import json

    manifest = json.loads((run_dir / "manifest.json").read_text()) if (run_dir / "manifest.json").is_file() else {}
    code = manifest.get("code") or {}
    return {"run": run_dir.name, "host": (manifest.get("host") or {}).get("hostname", ""),
            "commit": code.get("commit"), "dirty": code.get("dirty")}


def training_outcome(train_f, dataset_f, train_dir: Path) -> dict:
    """What results.csv needs of the training: its summary, or its error and the dataset's label."""
    from .progress import describe_failure

    training = {"log": str(Path(train_dir) / "model_results.txt"),
                "dataset_sha256": dataset_f.result()["sha256"] if dataset_f.exception() is None else ""}
    if train_f.exception() is None:
        summary = train_f.result()
        training.update(summary=summary, dataset_label=summary["dataset_label"])
    else:
        training["error"] = describe_failure(train_f.exception())
        training["dataset_label"] = dataset_f.result()["kind"] if dataset_f.exception() is None else ""
    return training


def submit_campaign(site: SiteConfig, run_dir, dfk, labels: ExecutorLabels = ExecutorLabels()) -> CampaignFutures:
    run_dir = Path(run_dir)
    apps = make_apps(dfk, labels)
    dataset_f, train_f, export_f = submit_model(apps, site, run_dir)
    plans = [plan_case(site, case) for case in md_cases(site, run_dir)]
    md = {plan.case.task: submit_md_case(apps, site, plan, export_f) for plan in plans}
    return CampaignFutures(apps, site, run_dir, dataset_f, train_f, export_f, md, plans)
