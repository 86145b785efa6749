"""The campaign's wiring without a DataFlowKernel: apps that finish at once stand in for Parsl's, so what the
driver submits, reuses, records and passes on is checked in seconds (the integration tests run it all for real)."""
import inspect
import re
import shutil
from concurrent.futures import Future

from mlmd_parsl.config import load_site_config
from mlmd_parsl.orchestration.apps import Apps, _run_md
from mlmd_parsl.orchestration.builder import CampaignFutures, submit_md_case
from mlmd_parsl.orchestration.campaign import run_md_cases
from mlmd_parsl.orchestration.case_plan import plan_case, planned_export
from mlmd_parsl.orchestration.cases import md_cases
from mlmd_parsl.orchestration.progress import Progress
from tests.conftest import FIXTURES

GOOD_LOG = FIXTURES / "logs" / "eam_quick_284atoms_1rank.log"


def done(value=None, error=None) -> Future:
    future = Future()
    future.set_exception(error) if error else future.set_result(value)
    return future


class FakeApps:
    """Apps whose MD task 'runs' by writing a finished LAMMPS log where the case's log goes (or fails)."""

    def __init__(self, fail=()):
        self.calls, self.fail = [], set(fail)

    def run_md(self, *args, **kwargs):
        """The real app function, called as Parsl's bash_app calls it: every parameter's default as a keyword."""
        defaults = {name: p.default for name, p in inspect.signature(_run_md).parameters.items()
                    if p.default is not inspect.Parameter.empty}
        kwargs = {**defaults, **kwargs}
        command = _run_md(*args, **kwargs)
        self.calls.append(("md", command, kwargs["parsl_resource_specification"]))
        task = re.search(r"/md/(md_z\d+_r\d+) ", command).group(1)
        if task in self.fail:
            return done(error=RuntimeError(f"{task} was killed"))
        log = command.split("--log ")[1].split()[0]
        shutil.copy(GOOD_LOG, log)
        return done(0)

    def validate(self, *args):
        self.calls.append(("validate", args))
        return done({"flags": {"force_check": "pass"}, "report": "validation.md"})

    def collect_results(self, *args):
        self.calls.append(("collect", args))
        return done({"args": args})

    def apps(self) -> Apps:
        return Apps(prepare_dataset=None, train_model=None, export_for_lammps=None, run_md=self.run_md,
                    run_md_packed=self.run_md, validate=self.validate, collect_results=self.collect_results,
                    probe_mpi=None, probe_site_engine=None, describe_worker=None)


def campaign_inputs(tmp_path):
    site = load_site_config("local", [f"runs_dir={tmp_path}", "md.zreps=[1, 2]", "md.ranks=[1, 2]"])
    run_dir = tmp_path / "run"
    exported = planned_export(run_dir)
    (run_dir / "train").mkdir(parents=True)
    for path in (exported.model, exported.box):
        open(path, "w").write("trained weights")
    return site, run_dir, exported


def test_cases_run_once_and_a_resumed_run_reuses_the_complete_ones(tmp_path):
    site, run_dir, exported = campaign_inputs(tmp_path)
    cases = md_cases(site, run_dir)
    fake, lines = FakeApps(), []
    outcomes = run_md_cases(fake.apps(), site, cases, done(exported), Progress(len(cases), lines.append))
    assert [c[0] for c in fake.calls] == ["md"] * 4
    assert [o.case.task for o in outcomes] == [c.task for c in cases] and not any(o.error for o in outcomes)
    assert all((o.case.dir / "done-md.json").is_file() and o.key and o.command for o in outcomes)
    assert fake.calls[1][2] == {"num_nodes": 1, "num_ranks": 2, "ranks_per_node": 2}  # md_z1_r2's MPI request

    again, lines = FakeApps(), []
    resumed = run_md_cases(again.apps(), site, cases, done(exported), Progress(len(cases), lines.append))
    assert again.calls == [] and all("(reused)" in line for line in lines)
    assert [o.key for o in resumed] == [o.key for o in outcomes]

    open(exported.model, "w").write("retrained weights")  # other bytes: every case runs again
    retrained = FakeApps()
    run_md_cases(retrained.apps(), site, cases, done(exported), Progress(len(cases), lines.append))
    assert len(retrained.calls) == 4


def test_a_failed_case_is_an_outcome_with_its_reason_and_no_completion_record(tmp_path):
    site, run_dir, exported = campaign_inputs(tmp_path)
    cases = md_cases(site, run_dir)
    lines = []
    outcomes = run_md_cases(FakeApps(fail={"md_z2_r1"}).apps(), site, cases, done(exported),
                            Progress(len(cases), lines.append))
    failed = {o.case.task: o for o in outcomes if o.error}
    assert list(failed) == ["md_z2_r1"] and "md_z2_r1 was killed" in failed["md_z2_r1"].error
    assert "command: " in failed["md_z2_r1"].error and not (failed["md_z2_r1"].case.dir / "done-md.json").exists()
    assert any(line.startswith("[") and ", 1 failed] md_z2_r1: failed: md_z2_r1 (replicate 2 2 2, 1 rank(s))" in line
               for line in lines)


def test_no_case_runs_when_the_export_failed(tmp_path):
    site, run_dir, _ = campaign_inputs(tmp_path)
    cases = md_cases(site, run_dir)
    fake, lines = FakeApps(), []
    outcomes = run_md_cases(fake.apps(), site, cases, done(error=RuntimeError("export broke")),
                            Progress(len(cases), lines.append))
    assert fake.calls == [] and {o.error for o in outcomes} == {"not run: the export failed"}


def test_the_library_campaign_validates_after_the_md_cases_and_reports_like_the_cli(tmp_path):
    site, run_dir, exported = campaign_inputs(tmp_path)
    fake = FakeApps()
    plans = [plan_case(site, case) for case in md_cases(site, run_dir)]
    md = {p.case.task: submit_md_case(fake.apps(), site, p, done(exported)) for p in plans}
    summary = {"dataset_label": "synthetic", "epoch_time_s": 0.5, "epochs": 3, "metrics": {"test": {}}}
    campaign = CampaignFutures(fake.apps(), site, run_dir, done({"sha256": "d", "kind": "synthetic"}), done(summary),
                               done(exported), md, plans)
    args = campaign.collect().result()["args"]
    assert [c[0] for c in fake.calls] == ["md"] * 4 + ["validate", "collect"]
    _, site_engine = fake.calls[4][1][-2:]
    assert site_engine is None  # the embedded engine: no cross-engine check
    run, training, outcomes, site_name, validation = args[:5]
    assert run == str(run_dir) and site_name == "local" and training["summary"] == summary
    assert validation == {"flags": {"force_check": "pass"}, "report": "validation.md"}
    assert [o.command for o in outcomes] == [p.command for p in plans]  # the plan's commands, as the CLI records
