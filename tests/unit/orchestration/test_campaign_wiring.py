"""The campaign's wiring without a DataFlowKernel: apps that finish at once stand in for Parsl's, so what the
driver submits, reuses, records and passes on is checked in seconds (the integration tests run it all for real)."""
import inspect
import re
import shutil
from concurrent.futures import Future
from pathlib import Path

import pytest

from mlmd_parsl.config import load_site_config
from mlmd_parsl.divisions import division_site
from mlmd_parsl.orchestration.apps import Apps, _run_md
from mlmd_parsl.orchestration.builder import CampaignFutures, DivisionFutures, submit_md_cases, submit_with
from mlmd_parsl.orchestration.campaign import run_md_cases
from mlmd_parsl.orchestration.case_plan import plan_case, planned_export
from mlmd_parsl.orchestration.sweeps import md_cases
from mlmd_parsl.science.model.training_summary import TrainingSummary
from mlmd_parsl.orchestration.progress import Progress
from mlmd_parsl.orchestration.rundir import division_dir
from mlmd_parsl.science.choices import Division
from tests.conftest import FIXTURES

GOOD_LOG = FIXTURES / "logs" / "eam_quick_284atoms_1rank.log"

SUMMARY = TrainingSummary.from_json({"dataset": "ag.xyz", "dataset_label": "synthetic", "epoch_time_s": 0.5,
                                     "epochs": 3, "metrics": {"test": {}}})


def done(value=None, error=None) -> Future:
    future = Future()
    future.set_exception(error) if error else future.set_result(value)
    return future


class FakeApps:
    """Apps whose MD task 'runs' by writing a finished LAMMPS log where the case's log goes (or fails)."""

    def __init__(self, fail=(), hold=False):
        self.calls, self.fail, self.hold = [], set(fail), hold
        self.pending = {}  # with hold: division/task -> (its future, its log), finished by finish()

    def run_md(self, *args, **kwargs):
        """The real app function, called as Parsl's bash_app calls it: every parameter's default as a keyword."""
        defaults = {name: p.default for name, p in inspect.signature(_run_md).parameters.items()
                    if p.default is not inspect.Parameter.empty}
        kwargs = {**defaults, **kwargs}
        command = _run_md(*args, **kwargs)
        self.calls.append(("md", command, kwargs["parsl_resource_specification"], kwargs["after"]))
        division, task = re.search(r"/(seed|ours)/md/(md_z\d+_r\d+) ", command).groups()
        log = re.search(r"-log (\S+)|--log (\S+)", command)
        log = log.group(1) or log.group(2)
        if self.hold:
            self.pending[f"{division}/{task}"] = (Future(), log)
            return self.pending[f"{division}/{task}"][0]
        if task in self.fail:
            return done(error=RuntimeError(f"{task} was killed"))
        shutil.copy(GOOD_LOG, log)
        return done(0)

    def finish(self, task, error=None, division="seed"):
        future, log = self.pending[f"{division}/{task}"]
        if error:
            future.set_exception(error)
        else:
            shutil.copy(GOOD_LOG, log)
            future.set_result(0)

    def prepare_dataset(self, *args):
        return done({"sha256": "d", "kind": "synthetic"})

    def train_model(self, *args, after=None):
        self.calls.append(("train", args[1], after))
        return done(SUMMARY)

    def export_for_lammps(self, summary, train_dir, *args):
        exported = planned_export(Path(train_dir).parent)
        Path(train_dir).mkdir(parents=True, exist_ok=True)
        for path in (exported.model, exported.box, exported.lean_model):
            open(path, "w").write("trained weights")
        return done(exported)

    def validate(self, *args):
        self.calls.append(("validate", args))
        return done({"flags": {"force_check": "pass"}, "report": "validation.md"})

    def collect_results(self, *args):
        self.calls.append(("collect", args))
        return done({"args": args})

    def apps(self) -> Apps:
        return Apps(prepare_dataset=self.prepare_dataset, train_model=self.train_model,
                    export_for_lammps=self.export_for_lammps, adopt_export=None, run_md=self.run_md,
                    run_md_packed=self.run_md, validate=self.validate, collect_results=self.collect_results,
                    probe_mpi=None, probe_site_engine=None, describe_worker=None)


def campaign_inputs(tmp_path, division=Division.OURS, *overrides):
    """A local site's division, its folder in a run and an export there (files standing in for the model)."""
    site = load_site_config("local", [f"runs_dir={tmp_path}", "md.zreps=[1, 2]", "md.ranks=[1, 2]",
                                      "divisions=[seed, ours]", *overrides])
    run_dir = division_dir(tmp_path / "run", division)
    exported = planned_export(run_dir)
    (run_dir / "train").mkdir(parents=True)
    for path in (exported.model, exported.box):
        open(path, "w").write("trained weights")
    return division_site(site, division), run_dir, exported


def test_cases_run_once_and_a_resumed_run_reuses_the_complete_ones(tmp_path):
    site, run_dir, exported = campaign_inputs(tmp_path)
    cases = md_cases(site, run_dir)
    fake, lines = FakeApps(), []
    outcomes = run_md_cases(fake.apps(), site, cases, done(exported), Progress(len(cases), lines.append))
    assert [c[0] for c in fake.calls] == ["md"] * 4
    assert [o.case.task for o in outcomes] == [c.task for c in cases] and not any(o.error for o in outcomes)
    assert all((o.case.dir / "done-md.json").is_file() and o.key and o.command for o in outcomes)
    assert fake.calls[1][2] == {"num_nodes": 1, "num_ranks": 2, "ranks_per_node": 2}  # md_z1_r2's MPI request
    assert all(call[3] is None for call in fake.calls)  # ours: nothing waits for another case

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
    assert any(line.startswith("[") and ", 1 failed] ours/md_z2_r1: failed: md_z2_r1 (replicate 2 2 2, 1 rank(s))"
               in line for line in lines)


def test_no_case_runs_when_the_export_failed(tmp_path):
    site, run_dir, _ = campaign_inputs(tmp_path)
    cases = md_cases(site, run_dir)
    fake, lines = FakeApps(), []
    outcomes = run_md_cases(fake.apps(), site, cases, done(error=RuntimeError("export broke")),
                            Progress(len(cases), lines.append))
    assert fake.calls == [] and {o.error for o in outcomes} == {"not run: the export failed"}


@pytest.mark.parametrize("failure", [None, RuntimeError("md_z1_r1 lost its node")], ids=["succeeded", "failed"])
def test_the_seed_division_runs_its_cases_one_after_another_whatever_became_of_the_one_before(tmp_path, failure):
    site, run_dir, exported = campaign_inputs(tmp_path, Division.SEED, "md.lmp=/opt/lmp")
    fake = FakeApps(hold=True)
    plans = [plan_case(site, case) for case in md_cases(site, run_dir)]
    futures = submit_md_cases(fake.apps(), site, plans, exported)
    afters = [call[3] for call in fake.calls]
    assert afters[0] is None and all(after is not None and not after.done() for after in afters[1:])
    fake.finish("md_z1_r1", failure)
    assert afters[1].done() and afters[1].exception() is None  # a failed case does not fail the next as a dependency
    assert not afters[2].done()
    fake.finish("md_z1_r2")
    assert afters[2].done() and not afters[3].done()
    assert list(futures) == [p.case.task for p in plans]
    assert all("pair_style mliap unified" in (p.case.dir / "in.lammps").read_text() for p in plans)


def test_the_library_campaign_validates_each_division_after_every_md_case_and_reports_them_apart(tmp_path):
    divisions = []
    for division in (Division.SEED, Division.OURS):
        site, run_dir, exported = campaign_inputs(tmp_path, division, "md.lmp=/opt/lmp")
        divisions.append((site, run_dir, exported))
    fake = FakeApps()
    summary = SUMMARY
    futures = []
    for site, run_dir, exported in divisions:
        plans = [plan_case(site, case) for case in md_cases(site, run_dir)]
        md = submit_md_cases(fake.apps(), site, plans, done(exported))
        futures.append(DivisionFutures(site, run_dir, done(summary), done(exported), md, plans))
    full = load_site_config("local", [f"runs_dir={tmp_path}", "divisions=[seed, ours]"])
    campaign = CampaignFutures(fake.apps(), full, tmp_path / "run", done({"sha256": "d", "kind": "synthetic"}),
                               futures)
    args = campaign.collect().result()["args"]
    assert [c[0] for c in fake.calls] == ["md"] * 8 + ["validate", "validate", "collect"]
    seed_engine, ours_engine = fake.calls[8][1][-1], fake.calls[9][1][-1]
    assert seed_engine.lmp == "/opt/lmp" and ours_engine is None  # the seed's LAMMPS is checked against ours
    run, finished, site_name = args[:3]
    assert run == str(tmp_path / "run") and site_name == "local"
    assert [d.division for d in finished] == [Division.SEED, Division.OURS]
    assert finished[0].training_deviations == ("max_epochs 800 (the seed: 5000)",
                                               "synthetic data (the seed: Ag_warm_nospin.xyz)")
    assert any("trainer lean" in d for d in finished[1].training_deviations)
    assert all(o.case.division is Division.SEED for o in finished[0].outcomes)
    assert [o.command for o in finished[1].outcomes] == [p.command for p in futures[1].plans]


def test_ours_starts_training_only_after_the_seed_divisions_last_case(tmp_path):
    site = load_site_config("local", [f"runs_dir={tmp_path}", "md.zreps=[1]", "md.ranks=[1, 2]", "md.lmp=/opt/lmp",
                                      "divisions=[seed, ours]"])
    fake = FakeApps(hold=True)
    campaign = submit_with(fake.apps(), site, tmp_path / "run")
    seed, ours = campaign.divisions
    trainings = [call for call in fake.calls if call[0] == "train"]
    assert [Path(t[1]).parent.name for t in trainings] == ["seed", "ours"]
    assert trainings[0][2] is None and not trainings[1][2].done()  # ours waits...
    fake.finish("md_z1_r1")
    assert not trainings[1][2].done()
    fake.finish("md_z1_r2")  # ...for the seed's last case; ours' own cases then run side by side
    assert trainings[1][2].done()
    assert [call[3] is None for call in fake.calls if call[0] == "md" and "/ours/" in call[1]] == [True, True]
    assert seed.site.md.engine == "mliap" and seed.site.md.mliap_model == "hippynn"
    assert ours.site.md.engine == "embedded"
