"""runs, compare and archive read run folders back; these folders are written the way a run writes them."""
import json
import os
import subprocess
import sys
import tarfile

import pytest

from mlmd_parsl.commands.compare import comparison
from mlmd_parsl.commands.run_folder import find_run, summarize
from mlmd_parsl.errors import UserInputError
from mlmd_parsl.science.reporting.results import write_results
from tests.conftest import REPO, child_env

TRAIN = {"task": "train", "kind": "training", "status": "ok", "physics": "physical", "accuracy_gate": "fail",
         "dataset": "synthetic", "dataset_sha256": "ab" * 32, "trainer": "lean", "device": "cpu", "epochs": 800,
         "threads": 2, "epoch_time_s": "0.5"}
MD = {"kind": "md", "sweep": "throughput", "status": "ok", "physics": "physical", "dataset": "synthetic",
      "profile": "quick", "timed_steps": 60, "engine": "embedded", "device": "cpu", "dtype": "float32", "threads": 2}


def make_run(root, name, site="local", created="2026-12-01T10:00:00", md=(("md_z2_r1", 568, 1, "40.0"),),
             train=None, results=True):
    run = root / name
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({"created": created, "site": {"name": site},
                                                   "host": {"hostname": "nodeA"}, "code": {"commit": "c0ffee" * 6}}))
    if results:
        rows = [{**TRAIN, **(train or {})}] + [{**MD, "task": t, "atoms": a, "ranks": r, "katom_step_s": k}
                                              for t, a, r, k in md]
        write_results(rows, run / "results.csv")
    return run


def cli(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "mlmd_parsl", *args], cwd=cwd, env=child_env(), capture_output=True,
                          text=True, timeout=120)


def test_runs_lists_newest_first_with_status_foms_and_physics(tmp_path):
    make_run(tmp_path, "local-a", created="2026-12-01T10:00:00", md=(("md_z2_r1", 568, 1, "40.0"),
                                                                    ("md_z4_r1", 1136, 1, "55.5")))
    make_run(tmp_path, "chicoma-b", site="chicoma", created="2026-12-02T10:00:00",
             md=(("md_z2_r1", 568, 1, "900"),), train={"status": "failed"})
    make_run(tmp_path, "local-c", created="2026-12-03T10:00:00", results=False)
    (tmp_path / "local-c" / "console.log").write_text("interrupted; finished tasks are kept. Continue with: ...\n")
    result = cli("runs", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[1:4]] == ["local-c", "chicoma-b", "local-a"]
    assert "interrupted" in lines[1]
    assert "1 of 2 tasks failed" in lines[2] and "900-900 (1)" in lines[2]
    assert "complete" in lines[3] and "0.5" in lines[3] and "40-55.5 (2)" in lines[3]
    assert "physical, gate fail" in lines[3]
    only = cli("runs", "--dir", str(tmp_path), "--site", "chicoma")
    assert "chicoma-b" in only.stdout and "local-a" not in only.stdout


def test_compare_gives_ratios_for_like_for_like_rows_only(tmp_path):
    a = make_run(tmp_path, "a", md=(("md_z2_r1", 568, 1, "40.0"), ("md_z4_r1", 1136, 1, "50.0")))
    b = make_run(tmp_path, "b", md=(("md_z2_r1", 568, 1, "60.0"), ("md_z4_r1", 1136, 2, "90.0")),
                 train={"epoch_time_s": "0.25"})
    rows = {task: (value_b, ratio, note) for task, _, _, value_b, ratio, note in
            comparison(summarize_rows(a), summarize_rows(b))}
    assert rows["train"][1] == pytest.approx(2.0)  # half the epoch time: twice as fast
    assert rows["md_z2_r1"][1] == pytest.approx(1.5)
    assert rows["md_z4_r1"] == (None, None, "not like for like: ranks: 1 vs 2")
    result = cli("compare", str(a), "b", "--dir", str(tmp_path))
    assert result.returncode == 0 and "2 like-for-like row(s)" in result.stdout and "1.500x" in result.stdout


def summarize_rows(run):
    from mlmd_parsl.science.reporting.results import read_results

    return read_results(run / "results.csv")


def test_compare_says_when_nothing_is_like_for_like_and_names_bad_runs(tmp_path):
    make_run(tmp_path, "a")
    make_run(tmp_path, "b", train={"trainer": "hippynn"}, md=(("md_z2_r1", 568, 1, "40.0"),))
    (tmp_path / "b" / "results.csv").write_text((tmp_path / "b" / "results.csv").read_text().replace("quick", "ats5"))
    result = cli("compare", "a", "b", "--dir", str(tmp_path))
    assert result.returncode == 1 and "0 like-for-like row(s)" in result.stdout
    assert "trainer: lean vs hippynn" in result.stdout and "profile: quick vs ats5" in result.stdout
    missing = cli("compare", "a", "nosuch", "--dir", str(tmp_path))
    assert missing.returncode == 2 and missing.stderr.startswith("error: nosuch: no run folder")
    make_run(tmp_path, "running", results=False)
    unfinished = cli("compare", "a", "running", "--dir", str(tmp_path))
    assert unfinished.returncode == 2 and "has no results.csv" in unfinished.stderr
    assert "Traceback" not in unfinished.stderr


def test_archive_holds_the_run_under_its_name_and_unpacks_into_a_folder_compare_reads(tmp_path):
    run = make_run(tmp_path / "runs", "local-x")
    (run / "md" / "md_z2_r1").mkdir(parents=True)
    (run / "md" / "md_z2_r1" / "log.lammps").write_text("Performance: ...\n")
    (run / "link").symlink_to("/etc/hostname")
    os.link(run / "md" / "md_z2_r1" / "log.lammps", run / "md" / "log_of_z2.lammps")  # a second name of the log
    (run / "parsl" / "000" / "certificates").mkdir(parents=True)
    (run / "parsl" / "000" / "certificates" / "server.key_secret").write_text("private")
    (run / "parsl" / "000" / "certificates" / "server.key").write_text("public")
    out = tmp_path / "shared" / "local-x.tar.gz"
    out.parent.mkdir()
    result = cli("archive", str(run), "--out", str(out))
    assert result.returncode == 0, result.stderr
    with tarfile.open(out) as tar:
        names = tar.getnames()
        assert all(n == "local-x" or n.startswith("local-x/") for n in names)
        assert "local-x/md/md_z2_r1/log.lammps" in names and "local-x/link" not in names
        assert not any(n.endswith(".key_secret") for n in names)
        assert "local-x/parsl/000/certificates/server.key" in names
        tar.extractall(tmp_path / "unpacked", filter="data")
    for name in ("md/md_z2_r1/log.lammps", "md/log_of_z2.lammps"):  # both names of a hard-linked file arrive
        assert (tmp_path / "unpacked" / "local-x" / name).read_text() == "Performance: ...\n"
    again = cli("compare", str(run), str(tmp_path / "unpacked" / "local-x"))
    assert again.returncode == 0 and "1.000x" in again.stdout
    refused = cli("archive", str(run), "--out", str(out))
    assert refused.returncode == 2 and "exists" in refused.stderr and out.stat().st_size > 0
    from mlmd_parsl.orchestration.rundir import lock_run

    held = lock_run(run)  # a driver still running it
    try:
        running = cli("archive", str(run), "--out", str(tmp_path / "running.tar.gz"))
    finally:
        held.close()
    assert running.returncode == 2 and f"still running (driver pid {os.getpid()})" in running.stderr
    assert not (tmp_path / "running.tar.gz").exists()
    nowhere = cli("archive", str(run), "--out", str(tmp_path / "missing" / "x.tar.gz"))
    assert nowhere.returncode == 2 and "no folder" in nowhere.stderr and "Traceback" not in nowhere.stderr
    inside = cli("archive", str(run), "--out", str(run / "self.tar.gz"))
    assert inside.returncode == 2 and "inside the run folder" in inside.stderr and not (run / "self.tar.gz").exists()


def test_a_run_is_found_by_path_or_by_name_under_the_runs_folder(tmp_path):
    run = make_run(tmp_path, "local-y")
    assert find_run(str(run)) == run.resolve() == find_run("local-y", tmp_path)
    with pytest.raises(UserInputError, match=f"local-z: no run folder .* under {tmp_path}"):
        find_run("local-z", tmp_path)
    assert summarize(run).status == "complete"
    manifest = json.loads((run / "manifest.json").read_text())
    manifest.update(created="2026-12-05T09:00:00", history=[{"created": "2026-12-01T10:00:00"}])  # resumed later
    (run / "manifest.json").write_text(json.dumps(manifest))
    assert summarize(run).created == "2026-12-01T10:00:00"


def test_version_names_the_package_and_the_commit():
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    result = cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("mlmd_parsl 0.1.0 (commit ")
    if head:
        assert f"commit {head[:12]}" in result.stdout


def test_every_command_is_in_the_help_and_the_console_script_is_declared():
    result = cli("--help")
    for command in ("fetch-data", "runs", "compare", "archive"):
        assert f"{command}:" in result.stdout
    assert 'mlmd-parsl = "mlmd_parsl.cli:main"' in (REPO / "pyproject.toml").read_text()


def test_runs_names_a_missing_runs_folder(tmp_path):
    result = cli("runs", "--dir", str(tmp_path / "nosuch"))
    assert result.returncode == 2 and result.stderr.startswith(f"error: --dir {tmp_path / 'nosuch'}: no such folder")
    assert "Traceback" not in result.stderr


def test_a_run_of_two_divisions_is_listed_a_line_each_and_compares_division_by_division(tmp_path):
    seed = {"division": "seed", "deviations": "profile quick"}
    ours = {"division": "ours", "deviations": "engine embedded"}
    run = tmp_path / "local-two"
    make_run(tmp_path, "local-two", md=())
    rows = [{**TRAIN, **seed, "epoch_time_s": "6.1", "trainer": "hippynn"},
            {**MD, **seed, "task": "md_z2_r1", "atoms": 568, "ranks": 1, "katom_step_s": "30.0", "engine": "mliap"},
            {**TRAIN, **ours},
            {**MD, **ours, "task": "md_z2_r1", "atoms": 568, "ranks": 1, "katom_step_s": "90.0"}]
    write_results(rows, run / "results.csv")
    listed = cli("runs", "--dir", str(tmp_path))
    lines = listed.stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("local-two"))
    assert " seed " in lines[first] and "6.1" in lines[first] and "30-30 (1)" in lines[first]
    assert lines[first + 1].startswith(" ") and " ours " in lines[first + 1] and "90-90 (1)" in lines[first + 1]
    ours_only = make_run(tmp_path, "local-ours", md=())
    write_results([rows[2], rows[3]], ours_only / "results.csv")
    compared = {task: note for task, _, _, _, _, note in comparison(summarize_rows(run), summarize_rows(ours_only))}
    assert compared["seed/train"] == "not in B" and compared["seed/md_z2_r1"] == "not in B"  # never across divisions
    assert compared["ours/md_z2_r1"] == "" and compared["ours/train"] == ""


def test_one_unreadable_run_neither_hides_the_others_from_runs_nor_crashes_compare(tmp_path):
    make_run(tmp_path, "local-good", created="2026-12-01T10:00:00")
    edited = make_run(tmp_path, "local-edited", created="2026-12-02T10:00:00")
    text = (edited / "results.csv").read_text()
    (edited / "results.csv").write_text(text.replace(",40.0,", ",forty,"))
    (make_run(tmp_path, "local-list", created="2026-12-03T10:00:00", results=False) / "manifest.json").write_text("[]")
    listed = cli("runs", "--dir", str(tmp_path))
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    lines = {line.split()[0]: line for line in listed.stdout.splitlines()[1:4]}
    assert set(lines) == {"local-good", "local-edited", "local-list"}
    assert "unreadable results.csv" in lines["local-edited"] and "complete" in lines["local-good"]
    compared = cli("compare", "local-good", "local-edited", "--dir", str(tmp_path))
    assert compared.returncode == 2 and "Traceback" not in compared.stderr
    assert compared.stderr.startswith(f"error: {edited.resolve()}/results.csv:3: not a results table this project "
                                      "wrote"), compared.stderr
