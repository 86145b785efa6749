"""Completion records and run folders, without Parsl: what makes a task count as done, and which folder a
--resume or a baseline names."""
import json
import time

import pytest

from mlmd_parsl.config import load_site_config
from mlmd_parsl.errors import ConfigError
from mlmd_parsl.orchestration.resume import content_key, is_done, mark_done
from mlmd_parsl.orchestration.rundir import (find_baselines, first_start, new_run_dir, resume_run_dir, run_folder,
                                             write_manifest)


def site(tmp_path, name="local"):
    return load_site_config(name, [f"runs_dir={tmp_path}"])


def test_a_task_is_done_only_with_its_key_and_whole_outputs(tmp_path):
    output = tmp_path / "model.pt"
    key = content_key("code", what="export", state="abc")
    assert not is_done(tmp_path, "export", key, [output])  # no record
    mark_done(tmp_path, "export", key)
    assert not is_done(tmp_path, "export", key, [output])  # the record, but no output
    output.write_bytes(b"")
    assert not is_done(tmp_path, "export", key, [output])  # an empty output is a crash's, not a result
    output.write_bytes(b"weights")
    assert is_done(tmp_path, "export", key, [output])
    assert not is_done(tmp_path, "export", content_key("code", what="export", state="abd"), [output])
    assert not is_done(tmp_path, "export", content_key("other code", what="export", state="abc"), [output])
    (tmp_path / "done-export.json").write_text("{not json")
    assert not is_done(tmp_path, "export", key, [output])


def test_content_keys_do_not_depend_on_the_order_of_their_parts():
    assert content_key("c", a=1, b=[1, 2]) == content_key("c", b=[1, 2], a=1) != content_key("c", a=1, b=[2, 1])


def test_two_runs_started_in_the_same_second_get_two_folders(tmp_path):
    local = site(tmp_path)
    first, second = new_run_dir(local), new_run_dir(local)
    assert first != second and first.is_dir() and second.is_dir() and second.name.startswith(first.name)


def test_resume_names_the_run_folder_and_keeps_its_first_start(tmp_path):
    local = site(tmp_path)
    run = new_run_dir(local)
    write_manifest(run, local)
    started = json.loads((run / "manifest.json").read_text())["created"]
    time.sleep(1.1)
    write_manifest(run, local)  # as --resume does
    manifest = json.loads((run / "manifest.json").read_text())
    assert first_start(manifest) == started != manifest["created"]
    assert resume_run_dir(local, run.name) == run.resolve() == resume_run_dir(local, str(run))
    assert run_folder(run.name, tmp_path) == tmp_path / run.name


def test_a_resume_keeps_each_earlier_starts_whole_record(tmp_path):
    from mlmd_parsl.orchestration.rundir import update_manifest

    local = site(tmp_path)
    run = new_run_dir(local)
    write_manifest(run, local)
    update_manifest(run, scheduler_jobs=["4242"], site_engine={"lmp": "/opt/lmp"}, worker={"host": "node7"})
    write_manifest(run, local)  # as --resume does, before its own blocks start
    (earlier,) = json.loads((run / "manifest.json").read_text())["history"]
    assert earlier["scheduler_jobs"] == ["4242"] and earlier["site_engine"] == {"lmp": "/opt/lmp"}
    assert earlier["worker"] == {"host": "node7"} and earlier["site"]["name"] == "local"


def test_a_resume_that_would_rewrite_what_the_run_computed_is_refused_naming_the_key(tmp_path):
    local = site(tmp_path)
    run = new_run_dir(local)
    write_manifest(run, local)
    fewer_epochs = load_site_config("local", [f"runs_dir={tmp_path}", "training.max_epochs=5"])
    with pytest.raises(ConfigError, match=r"training.max_epochs: 800 in the run, 5 now; a resume continues the same"):
        resume_run_dir(fewer_epochs, run.name)
    with pytest.raises(ConfigError, match=r"md.profile: \"quick\" in the run, \"ats5\" now"):
        resume_run_dir(load_site_config("local", [f"runs_dir={tmp_path}", "md.profile=ats5"]), run.name)
    # the sweep, the provider, the retries may change: new cases get folders of their own
    wider = load_site_config("local", [f"runs_dir={tmp_path}", "md.zreps=[2, 16]", "retries.md=0",
                                       "provider.heartbeat_threshold_s=300"])
    assert resume_run_dir(wider, run.name) == run.resolve()


def test_resume_refuses_a_missing_run_and_another_sites_run(tmp_path):
    local = site(tmp_path)
    with pytest.raises(ConfigError, match="--resume nosuch: no run directory with a manifest.json at"):
        resume_run_dir(local, "nosuch")
    other = load_site_config("localslurm", [f"runs_dir={tmp_path}"])
    run = new_run_dir(other)
    write_manifest(run, other)
    with pytest.raises(ConfigError, match="that run belongs to site 'localslurm', not 'local'"):
        resume_run_dir(local, str(run))


def test_baselines_are_the_sites_other_runs_newest_first_or_the_one_named(tmp_path):
    local = site(tmp_path)
    runs = [new_run_dir(local) for _ in range(3)]
    for number, run in enumerate(runs):
        (run / "results.csv").write_text("task\n")
        time.sleep(0.05)
    for other_site in ("localslurm-20260101-000000", "local-x-20260101-000000"):  # site local-x's too: not local's
        (tmp_path / other_site).mkdir()
        (tmp_path / other_site / "results.csv").write_text("task\n")
    assert find_baselines(local, runs[2]) == [str(runs[1] / "results.csv"), str(runs[0] / "results.csv")]
    named = load_site_config("local", [f"runs_dir={tmp_path}", f"report.baseline={runs[0].name}"])
    assert find_baselines(named, runs[2]) == [str(runs[0] / "results.csv")]
    missing = load_site_config("local", [f"runs_dir={tmp_path}", "report.baseline=nosuch"])
    with pytest.raises(ConfigError, match="report.baseline .--baseline. nosuch: no run folder with a results.csv"):
        find_baselines(missing, runs[2])


def test_a_task_that_reruns_drops_its_done_record_before_it_rewrites_its_outputs(tmp_path):
    """Training with other inputs over a finished one: the old record goes first, so a rewrite cut short (here:
    the dataset is missing) leaves no record a resume could take for the half-written outputs."""
    from dataclasses import asdict

    from mlmd_parsl.orchestration.tasks import train_model
    from mlmd_parsl.science.model.training import TrainingSpec

    folder = tmp_path / "train"
    folder.mkdir()
    mark_done(folder, "training", "the key of the finished training")
    for name in ("training_summary.json", "network_state.pt", "model_results.txt"):
        (folder / name).write_text("{}")
    dataset = {"sha256": "other data", "path": str(tmp_path / "missing.xyz"), "kind": "real", "details": {}}
    with pytest.raises(Exception):
        train_model(dataset, str(folder), asdict(TrainingSpec(max_epochs=1)), "pytorch", threads=1)
    assert not (folder / "done-training.json").exists()


def test_reuse_or_run_reads_back_a_complete_same_key_result_and_reruns_anything_else(tmp_path):
    from mlmd_parsl.orchestration.resume import reuse_or_run

    output = tmp_path / "out.txt"
    runs = []

    def run(text="first"):
        runs.append(text)
        output.write_text(text)
        return f"ran {text}"

    def read_back():
        return f"read {output.read_text()}"

    assert reuse_or_run(tmp_path, "task", "k1", [output], run, read_back) == "ran first"
    assert reuse_or_run(tmp_path, "task", "k1", [output], run, read_back) == "read first" and runs == ["first"]
    assert reuse_or_run(tmp_path, "task", "k2", [output], lambda: run("second"), read_back) == "ran second"
    output.write_text("")  # an output cut short: empty
    assert reuse_or_run(tmp_path, "task", "k2", [output], lambda: run("third"), read_back) == "ran third"

    def broken():
        raise RuntimeError("killed mid-run")

    with pytest.raises(RuntimeError):
        reuse_or_run(tmp_path, "task", "k3", [output], broken, read_back)
    assert not (tmp_path / "done-task.json").exists()  # no record for a run that did not finish
    assert reuse_or_run(tmp_path, "task", "k2", [output], lambda: run("fourth"), read_back) == "ran fourth"
