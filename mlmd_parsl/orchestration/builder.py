"""The campaign as futures, for a larger Parsl program or an interactive session.

`submit_campaign` submits dataset -> training -> export -> every MD case to a DataFlowKernel the caller
owns (its executor labels named by `labels`) and returns at once with the futures; nothing here calls
`parsl.load` or keeps state between calls. `run_campaign` (campaign.py) is the CLI's blocking driver on
top of the same pieces, adding resume, progress, validation and the report.
"""
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..config import SiteConfig
from .apps import Apps, ExecutorLabels, make_apps
from .cases import CaseOutcome, MDCase, md_cases, mpi_resources, threads_per_rank, write_site_engine_deck
from .rundir import runs_root, train_dir


@dataclass
class CampaignFutures:
    """Futures of one campaign; `cases` holds each MD case (parameters, directory and log path)."""
    apps: Apps
    run_dir: Path
    dataset: object
    training: object
    export: object
    md: dict = field(default_factory=dict)  # task name -> future of the MD case's exit code
    cases: list = field(default_factory=list)

    def collect(self, site_name: str):
        """Future of results.csv + plots + report.md once every MD case has finished (failed ones are rows)."""
        from concurrent.futures import wait

        wait(list(self.md.values()))
        training = training_outcome(self.training, self.dataset, train_dir(self.run_dir))
        outcomes = [CaseOutcome(case, error=str(self.md[case.task].exception() or "")) for case in self.cases]
        return self.apps.collect_results(str(self.run_dir), training, outcomes, site_name)


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


def submit_model(apps: Apps, site: SiteConfig, run_dir: Path):
    """Futures of the dataset, the trained model and its LAMMPS export (each a dict of paths and numbers)."""
    trained = str(train_dir(run_dir))
    dataset_f = apps.prepare_dataset(asdict(site.dataset), str(runs_root(site) / "cache"))
    train_f = apps.train_model(dataset_f, trained, asdict(site.training.spec), site.training.custom_kernels,
                               training_threads(site))
    lean = site.md.engine == "mliap" and site.md.mliap_model == "lean"
    export_f = apps.export_for_lammps(train_f, trained, site.md.model_device, lean)
    return dataset_f, train_f, export_f


def training_threads(site: SiteConfig) -> int:
    """The cores of the worker that trains: the node's on a CPU site, one GPU's share on a GPU site."""
    return threads_per_rank(site, 1, packed=site.provider.gpus_per_node > 0)


def submit_md_case(apps: Apps, site: SiteConfig, case: MDCase, exported):
    """One MD case; `exported` may be the export's future (Parsl waits for it) or its result."""
    case.dir.mkdir(parents=True, exist_ok=True)
    if case.engine == "mliap":
        write_site_engine_deck(case)
    python, threads = site.provider.python or sys.executable, threads_per_rank(site, case.ranks, case.packed)
    run_md = apps.run_md_packed if case.packed else apps.run_md
    return run_md(
        case, exported, python, site.md.custom_kernels, threads, stdout=str(case.stdout), stderr=str(case.stderr),
        parsl_resource_specification={} if case.packed else mpi_resources(site, case.ranks),
    )


def submit_campaign(site: SiteConfig, run_dir, dfk, labels: ExecutorLabels = ExecutorLabels()) -> CampaignFutures:
    run_dir = Path(run_dir)
    apps = make_apps(dfk, labels)
    dataset_f, train_f, export_f = submit_model(apps, site, run_dir)
    cases = md_cases(site, run_dir)
    md = {case.task: submit_md_case(apps, site, case, export_f) for case in cases}
    return CampaignFutures(apps, run_dir, dataset_f, train_f, export_f, md, cases)
