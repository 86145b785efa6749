"""The campaign as futures, for a larger Parsl program or an interactive session, and the pieces the CLI's
driver (campaign.py) shares with it.

`submit_campaign` submits the dataset, then for each division of the site (the seed's first: divisions.py) its
training -> export -> every MD case, to a DataFlowKernel the caller owns (its executor labels named by `labels`),
and returns at once with the futures; the seed's cases wait for each other as the seed's scripts run them, and
ours' training waits for the seed's last timed task (sequencing.py). Nothing here calls `parsl.load` or keeps
state between calls. `CampaignFutures.collect` then validates each division's model and writes results.csv, the
plots and report.md (with the baselines) as the CLI does. `run_campaign` (campaign.py) adds what needs a
blocking driver: the site engine's preflight, resuming complete cases, and progress lines.
"""
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..config import SiteConfig
from ..divisions import deviations, division_sites
from ..science.choices import MliapExport
from .apps import Apps, ExecutorLabels, make_apps
from .case_plan import CasePlan, plan_case, training_threads
from .cases import CaseOutcome, DivisionOutcome, mpi_resources
from .md_backends import backend_for
from .rundir import division_dir, find_baselines, runs_root, train_dir, validation_dir
from .sequencing import one_at_a_time, sequence_of, settled
from .sweeps import md_cases


@dataclass(frozen=True)
class Parts:
    """Which parts of the benchmark run (`--only`), as the seed's separate scripts: its training (with the
    export), its MD cases, or both. MD alone runs on an export made elsewhere (`model`, `box`)."""
    training: bool = True
    md: bool = True
    model: str = ""  # hippynn_lammps_model.pt made elsewhere (MD alone)
    box: str = ""  # its unit box (ag_box.data)


@dataclass
class DivisionFutures:
    """One division's futures: `site` is the division's own site (divisions.division_site), `dir` its folder."""
    site: SiteConfig
    dir: Path
    training: object  # None where the training did not run here (MD alone)
    export: object
    md: dict = field(default_factory=dict)  # task name -> future of the MD case's exit code
    plans: list = field(default_factory=list)  # CasePlan of each MD case, in order

    @property
    def cases(self) -> list:
        return [plan.case for plan in self.plans]

    def outcomes(self) -> list:
        return [CaseOutcome(plan.case, command=plan.command, threads=plan.threads,
                            error=str(self.md[plan.case.task].exception() or "")) for plan in self.plans]


@dataclass
class CampaignFutures:
    apps: Apps
    site: SiteConfig
    run_dir: Path
    dataset: object
    divisions: list  # DivisionFutures, the seed's first

    def division(self, name) -> DivisionFutures:
        """One division's futures by its name: campaign.division("ours").md, .cases, .training, .export."""
        for division in self.divisions:
            if division.site.division == name:
                return division
        raise KeyError(f"this campaign runs {', '.join(str(d.site.division) for d in self.divisions)}, not {name!r}")

    def collect(self):
        """Once every MD case has finished (failed ones are rows): each division's validation (when enabled; a
        failed validation leaves its rows unverified), then the future of results.csv + plots + report.md, next to
        the site's baselines."""
        from concurrent.futures import wait

        wait([f for division in self.divisions for f in division.md.values()])
        finished = []
        for division in self.divisions:
            validation = None
            if division.site.validation.enabled and division.export.exception() is None:
                validation_f = submit_validation(self.apps, division.site, division.dir, division.export,
                                                 division.training, division.cases)
                validation = validation_f.result() if validation_f.exception() is None else None
            finished.append(division_outcome(division, self.dataset, division.outcomes(), validation))
        return self.apps.collect_results(*collection_args(self.site, self.run_dir, finished))


def submit_dataset(apps: Apps, site: SiteConfig):
    return apps.prepare_dataset(asdict(site.dataset), str(runs_root(site) / "cache"))


def submit_model(apps: Apps, site: SiteConfig, folder: Path, dataset_f, parts: Parts = Parts(), after=None):
    """Futures of the division's trained model (None for MD alone) and its LAMMPS export (an Export), in its
    folder; `after`: a future the training waits for (the seed division's last timed task)."""
    trained = str(train_dir(folder))
    lean = site.md.mliap_model is MliapExport.LEAN
    if not parts.training:
        return None, apps.adopt_export(parts.model, parts.box, trained, site.md.model_device, lean, after=after)
    train_f = apps.train_model(dataset_f, trained, asdict(site.training.spec), site.training.custom_kernels,
                               training_threads(site), after=after)
    return train_f, apps.export_for_lammps(train_f, trained, site.md.model_device, lean)


def submit_md_case(apps: Apps, site: SiteConfig, plan: CasePlan, exported, after=None):
    """One MD case; `exported` may be the export's future (Parsl waits for it) or its result; `after`: a future it
    waits for (the case before it in the seed's order)."""
    case = plan.case
    case.dir.mkdir(parents=True, exist_ok=True)
    backend_for(case.engine).prepare(case)
    run_md = apps.run_md_packed if case.packed else apps.run_md
    return run_md(plan.command, exported, after=after, lammps_log=str(case.log), timeout_s=case.timeout_s,
                  stdout=str(case.stdout),
                  stderr=str(case.stderr),
                  parsl_resource_specification={} if case.packed else mpi_resources(site, case.ranks))


def submit_md_cases(apps: Apps, site: SiteConfig, plans: list, exported) -> dict:
    """{task: future} of `plans`; in the seed division each case waits for the one before it in its sequence."""
    futures, last_of = {}, {}
    for plan in plans:
        after = None
        if one_at_a_time(site):
            sequence = sequence_of(site, plan.case)
            after = settled(last_of[sequence]) if sequence in last_of else None
        future = futures[plan.case.task] = submit_md_case(apps, site, plan, exported, after)
        if one_at_a_time(site):
            last_of[sequence] = future
    return futures


def submit_validation(apps: Apps, site: SiteConfig, folder: Path, export_f, train_f, cases: list):
    """The validation suite's future (submitted after every division's MD cases, so that it never shares the cores
    with a timed run); with the site engine, its cross-engine check runs the cases' LAMMPS and Kokkos line on the
    export they loaded."""
    site_engine = backend_for(site.md.engine).validation_engine(site, export_f.result(), cases)
    return apps.validate(export_f, train_f, str(validation_dir(folder)), asdict(site.validation.spec), site_engine)


def division_outcome(division: DivisionFutures, dataset_f, outcomes: list, validation) -> DivisionOutcome:
    training = (training_outcome(division.training, dataset_f, train_dir(division.dir))
                if division.training is not None else None)
    label = division.export.result().dataset_label if division.export.exception() is None else ""
    return DivisionOutcome(division.site.division, training, deviations(division.site).training, outcomes,
                           validation, dataset_label=label)


def collection_args(site: SiteConfig, run_dir: Path, divisions: list) -> tuple:
    """The arguments of tasks.collect_results for this campaign (`divisions`: a DivisionOutcome each)."""
    return (str(run_dir), divisions, site.name, find_baselines(site, run_dir), site.report.regression_tolerance,
            report_context(run_dir))


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
        training.update(summary=summary, dataset_label=summary.dataset_label)
    else:
        training["error"] = describe_failure(train_f.exception())
        training["dataset_label"] = dataset_f.result()["kind"] if dataset_f.exception() is None else ""
    return training


def submit_campaign(site: SiteConfig, run_dir, dfk, labels: ExecutorLabels = ExecutorLabels(),
                    parts: Parts = Parts()) -> CampaignFutures:
    return submit_with(make_apps(dfk, labels), site, Path(run_dir), parts)


def submit_with(apps: Apps, site: SiteConfig, run_dir: Path, parts: Parts = Parts()) -> CampaignFutures:
    """submit_campaign on `apps` (Parsl's, or stand-ins)."""
    dataset_f = submit_dataset(apps, site) if parts.training else None
    divisions, after = [], None
    for division_site in division_sites(site):
        folder = division_dir(run_dir, division_site.division)
        train_f, export_f = submit_model(apps, division_site, folder, dataset_f, parts, after)
        plans = [plan_case(division_site, case) for case in md_cases(division_site, folder)] if parts.md else []
        md = submit_md_cases(apps, division_site, plans, export_f)
        divisions.append(DivisionFutures(division_site, folder, train_f, export_f, md, plans))
        after = settled(train_f, export_f, *md.values())  # the next division starts when this one's timed work ends
    return CampaignFutures(apps, site, run_dir, dataset_f, divisions)
