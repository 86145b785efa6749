"""The real CLI on a tiny config: real Parsl (HTEX + MPIExecutor), hippynn, LAMMPS and MPI."""
import csv
import json
from pathlib import Path

import numpy as np
import pytest

from mlmd_parsl.science.validation.reference import hippynn_periodic_prediction
from tests.conftest import run_cli, standalone

HERE = Path(__file__).resolve().parent
pytestmark = [pytest.mark.slow, pytest.mark.mpi]


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    result = run_cli(["mlmd_parsl", "--site", str(HERE / "tiny_site.yaml"), "--set", f"runs_dir={runs}"])
    run_dirs = [p for p in runs.iterdir() if p.name.startswith("tiny-")]
    return result, run_dirs


def test_cli_runs_the_whole_benchmark_and_writes_one_row_per_task(campaign):
    result, run_dirs = campaign
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert len(run_dirs) == 1
    run_dir = run_dirs[0]
    assert f"results:       {run_dir / 'results.csv'}" in result.stdout
    assert f"plot:          {run_dir / 'throughput.png'}" in result.stdout
    rows = list(csv.DictReader(open(run_dir / "results.csv")))
    assert [r["task"] for r in rows] == ["train", "md_z1_r1", "md_z1_r2", "md_z2_r1", "md_z2_r2"]
    assert {r["division"] for r in rows} == {"ours"}  # the local site's work is ours, and every row says how
    assert all("trainer lean" in r["deviations"] for r in rows[:1])
    assert all("engine embedded" in r["deviations"] for r in rows[1:])
    train, md = rows[0], rows[1:]
    assert train["status"] == "ok" and train["dataset"] == "synthetic" and train["epochs"] == "3"
    assert train["trainer"] == "lean"
    assert float(train["epoch_time_s"]) > 0
    assert float(train["test_epa_mae_mev"]) > 0 and float(train["test_force_mae_mev_per_a"]) > 0
    for row in md:
        assert row["status"] == "ok", row
        assert row["dataset"] == "synthetic" and row["profile"] == "quick" and row["engine"] == "embedded"
        assert float(row["katom_step_s"]) > 0 and float(row["timesteps_per_s"]) > 0 and float(row["ns_per_day"]) > 0
        assert not Path(row["log"]).is_absolute() and (run_dir / row["log"]).is_file()  # a run folder can move
    assert {(r["atoms"], r["ranks"]) for r in md} == {("284", "1"), ("284", "2"), ("568", "1"), ("568", "2")}
    for row in rows:  # the model's validity flags travel with every row
        assert row["force_check"] == "pass" and row["pressure_check"] == "pass", row
        assert row["rank_invariance"] == "pass" and row["nve_check"] in ("pass", "fail"), row
        assert row["accuracy_gate"] == "fail"  # 3 epochs cannot reach the seed's accuracy: said, not hidden
        assert row["oracle_check"] in ("pass", "fail") and row["nve_drift_mev_atom_ps"] != ""
        assert row["wall_check"] in ("pass", "fail") and float(row["closest_approach_a"]) > 0
        checks = [row[k] for k in ("force_check", "pressure_check", "rank_invariance", "nve_check", "wall_check",
                                   "md_5fs_check", "oracle_check")]
        assert row["physics"] == ("unphysical" if "fail" in checks else "physical"), row
    if rows[1]["physics"] == "unphysical":  # said in words, not only in a column
        assert "UNPHYSICAL: the model failed" in result.stdout
        assert "UNPHYSICAL: 4 MD case(s)" in (run_dir / "report.md").read_text()
    assert "] ours/validation: done - accuracy_gate fail, force_check pass" in result.stdout
    assert (run_dir / "ours" / "validation" / "validation.md").is_file()
    results_text = (run_dir / "ours" / "train" / "model_results.txt").read_text()
    assert "FOM Average Epoch time:" in results_text and "SYNTHETIC" in results_text and "Trainer: lean" in results_text
    assert (run_dir / "throughput.png").stat().st_size > 10_000
    assert (run_dir / "strong_scaling.png").stat().st_size > 10_000  # 1 and 2 ranks at each size
    report = (run_dir / "report.md").read_text()
    assert "comparable rows of: none" in report and "| ours | md_z2_r2 | throughput | 568 | 2 |" in report
    assert "## Division ours" in report and "Differs from the seed's work in: " in report
    assert "**Accuracy gate (the seed's" in report and "): not reached: " in report
    assert "| MD profile | quick:" in report
    assert "**Physics: " in report and "| timed-stage temperature |" in report
    records = json.loads((run_dir / "results.json").read_text())
    assert [r["task"] for r in records] == [r["task"] for r in rows]  # every task finished: one record each
    assert records[0]["unit"] == "s/epoch" and records[0]["value"] == float(train["epoch_time_s"])
    assert records[1]["unit"] == "Katom-step/s" and records[1]["atoms"] == 284 and records[1]["run"] == run_dir.name
    commit = json.loads((run_dir / "manifest.json").read_text())["code"]["commit"]
    assert records[1]["commit"] == commit
    console = (run_dir / "console.log").read_text()
    assert f"run directory {run_dir}" in console and "ours/md_z2_r2: done" in console
    assert "[ours] Training (synthetic dataset, lean trainer): FOM Average Epoch time" in console


def test_manifest_links_dataset_to_model_to_every_md_result(campaign):
    import json

    from mlmd_parsl.science.model.dataset import file_sha256

    _, run_dirs = campaign
    manifest = json.loads((run_dirs[0] / "manifest.json").read_text())
    lineage = manifest["lineage"]
    assert lineage["dataset"]["sha256"] == file_sha256(lineage["dataset"]["path"])
    assert list(lineage["divisions"]) == ["ours"]
    ours = lineage["divisions"]["ours"]
    model_sha = file_sha256(run_dirs[0] / "ours" / "train" / "hippynn_lammps_model.pt")
    assert ours["export"]["model_sha256"] == model_sha
    assert [m["task"] for m in ours["md"]] == ["md_z1_r1", "md_z1_r2", "md_z2_r1", "md_z2_r2"]
    for md in ours["md"]:
        assert md["model_sha256"] == model_sha and md["log_sha256"] == file_sha256(md["log"])
        assert len(md["placement"]) == md["ranks"] and md["content_key"]
    worker = manifest["worker"]  # measured on the worker, not the driver
    assert worker["cpu"] and worker["versions"]["hippynn"]
    assert [(line["engine"], "ML-IAP" in line["packages"]) for line in worker["lammps"]] == [("embedded", True)]
    assert set(manifest["scheduler_jobs"]) == {"cpu", "mpi"}


@pytest.mark.long(reason=(
    "the campaign's export at 1 and 2 ranks beside hippynn, about 30 s; "
    "the campaign's force check and the engine's unit tests do the same on their models"
))
def test_exported_model_gives_the_same_forces_on_one_and_two_ranks_and_in_hippynn(campaign, tmp_path, mpiexec):
    _, run_dirs = campaign
    train = run_dirs[0] / "ours" / "train"
    model, box = train / "hippynn_lammps_model.pt", train / "ag_box.data"
    ids1, x1, f1, lengths = standalone(model, box, tmp_path, 1, mpiexec)
    ids2, _, f2, _ = standalone(model, box, tmp_path, 2, mpiexec)
    assert np.array_equal(ids1, ids2) and np.abs(f1 - f2).max() <= 1e-4
    _, reference = hippynn_periodic_prediction(train / "network_state.pt", x1, np.diag(lengths))
    assert np.abs(f1 - reference).max() <= 1e-5 * np.abs(reference).max() + 1e-6


def test_the_md_part_alone_runs_on_an_export_an_earlier_run_made(campaign, tmp_path):
    """The seed's MD scripts on a model trained elsewhere: --only md --model --box, with the same rows and report,
    and the export copied into the run so that the run holds every input of its cases. (One case, no validation:
    the campaign above runs both on the same export.)"""
    from mlmd_parsl.science.model.dataset import file_sha256

    _, run_dirs = campaign
    train = run_dirs[0] / "ours" / "train"
    result = run_cli(["mlmd_parsl", "--site", str(HERE / "tiny_site.yaml"), "--set", f"runs_dir={tmp_path}",
                      "--set", "md.zreps=[1]", "--set", "md.ranks=[1]", "--set", "validation.enabled=false",
                      "--only", "md", "--model", str(train / "hippynn_lammps_model.pt"),
                      "--box", str(train / "ag_box.data")])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run_dir = next(tmp_path.glob("tiny-*"))
    rows = list(csv.DictReader(open(run_dir / "results.csv")))
    assert [(r["division"], r["task"], r["status"]) for r in rows] == [("ours", "md_z1_r1", "ok")]
    adopted = run_dir / "ours" / "train" / "hippynn_lammps_model.pt"
    assert file_sha256(adopted) == file_sha256(train / "hippynn_lammps_model.pt")
    assert all(r["accuracy_gate"] == "" for r in rows)  # no training here: the gate is not evaluated, not passed
    assert "Accuracy gate (the seed's: test EpA-MAE < 0.7 meV/atom and Force MAE < 25 meV/Å): not evaluated" in (
        run_dir / "report.md").read_text()
    assert "training" not in [line.split("] ")[1].split(":")[0] for line in result.stdout.splitlines()
                              if line.startswith("[") and "] ours/" in line]


def test_the_training_part_alone_trains_exports_and_reports_fom_1(tmp_path):
    result = run_cli(["mlmd_parsl", "--site", str(HERE / "tiny_site.yaml"), "--set", f"runs_dir={tmp_path}",
                      "--set", "validation.enabled=false", "--only", "training"])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run_dir = next(tmp_path.glob("tiny-*"))
    rows = list(csv.DictReader(open(run_dir / "results.csv")))
    assert [(r["division"], r["task"], r["status"]) for r in rows] == [("ours", "train", "ok")]
    assert float(rows[0]["epoch_time_s"]) > 0 and not (run_dir / "ours" / "md").exists()
    assert (run_dir / "ours" / "train" / "hippynn_lammps_model.pt").is_file()
    assert "FOM Average Epoch time:" in (run_dir / "ours" / "train" / "model_results.txt").read_text()


def test_bad_site_value_exits_2_before_parsl_starts(tmp_path):
    result = run_cli(["mlmd_parsl", "--site", str(HERE / "tiny_site.yaml"), "--set", "md.ranks=[1,3]",
                      "--set", f"runs_dir={tmp_path}"])
    assert result.returncode == 2
    assert "md.ranks: 3 ranks, but provider.cores_per_node is 2" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # no run directory made


def test_missing_real_dataset_names_the_doi(tmp_path):
    result = run_cli(["mlmd_parsl", "--site", "local", "--set", f"dataset.path={tmp_path / 'Ag_warm_nospin.xyz'}",
                      "--set", f"runs_dir={tmp_path}"])
    assert result.returncode == 2 and "10.24435/materialscloud:fr-ts" in result.stderr
    assert "Traceback" not in result.stderr


def _mtimes(run_dir):
    return {p: p.stat().st_mtime_ns for p in sorted(run_dir.glob("ours/md/*/log.lammps"))
            + [run_dir / "ours" / "train" / "network_state.pt"]}


def test_resume_reuses_every_complete_task(campaign):
    _, run_dirs = campaign
    run_dir = run_dirs[0]
    before = _mtimes(run_dir)
    result = run_cli(["mlmd_parsl", "--site", str(HERE / "tiny_site.yaml"), "--set", f"runs_dir={run_dir.parent}",
                      "--resume", str(run_dir)])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "training: done (reused)" in result.stdout and "export: done (reused)" in result.stdout
    assert result.stdout.count("done (reused) - ") == 4 + 1  # four MD cases and the training
    assert _mtimes(run_dir) == before  # nothing recomputed
    rows = list(csv.DictReader(open(run_dir / "results.csv")))
    assert [r["status"] for r in rows] == ["ok"] * 5


def test_resume_with_a_changed_sweep_runs_only_the_new_case(campaign):
    _, run_dirs = campaign
    run_dir = run_dirs[0]
    before = _mtimes(run_dir)
    result = run_cli(["mlmd_parsl", "--site", str(HERE / "tiny_site.yaml"), "--set", f"runs_dir={run_dir.parent}",
                      "--set", "md.zreps=[1, 3]", "--set", "md.ranks=[2]", "--resume", run_dir.name])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ours/md_z1_r2: done (reused)" in result.stdout
    assert "ours/md_z3_r2: done - 852 atoms on 2 rank(s)" in result.stdout
    after = _mtimes(run_dir)
    assert all(after[p] == t for p, t in before.items())


def test_resume_refuses_a_missing_run_or_another_sites_run(campaign, tmp_path):
    _, run_dirs = campaign
    missing = run_cli(["mlmd_parsl", "--site", str(HERE / "tiny_site.yaml"), "--resume", str(tmp_path / "nope")])
    assert missing.returncode == 2 and "no run directory with a manifest.json" in missing.stderr
    other = run_cli(["mlmd_parsl", "--site", "local", "--resume", str(run_dirs[0])])
    assert other.returncode == 2 and "belongs to site 'tiny', not 'local'" in other.stderr
    assert "Traceback" not in missing.stderr + other.stderr


def test_a_real_run_is_listed_archived_and_compares_like_for_like_with_its_unpacked_copy(campaign, tmp_path):
    import tarfile

    result, run_dirs = campaign
    run_dir = run_dirs[0]
    listed = run_cli(["mlmd_parsl", "runs", "--dir", str(run_dir.parent)])
    line = next(line for line in listed.stdout.splitlines() if line.startswith(run_dir.name))
    rows = list(csv.DictReader(open(run_dir / "results.csv")))  # as the module's resume tests last left them
    md = [r for r in rows if r["kind"] == "md" and r["status"] == "ok"]
    assert " tiny " in line and " complete " in line and " ours " in line
    assert f"{float(rows[0]['epoch_time_s']):.4g}" in line
    assert f"({len(md)})" in line and len(md) >= 2
    archived = run_cli(["mlmd_parsl", "archive", str(run_dir), "--out", str(tmp_path / "run.tar.gz")])
    assert archived.returncode == 0, archived.stderr
    with tarfile.open(tmp_path / "run.tar.gz") as tar:
        assert all(name.split("/")[0] == run_dir.name for name in tar.getnames())
        tar.extractall(tmp_path / "colleague", filter="data")
    compared = run_cli(["mlmd_parsl", "compare", str(run_dir), str(tmp_path / "colleague" / run_dir.name)])
    assert compared.returncode == 0 and f"{len(md) + 1} like-for-like row(s)" in compared.stdout
    assert compared.stdout.count("1.000x") == len(md) + 1


@pytest.mark.long(reason="a whole tiny campaign, about 2 minutes; test_worker_init_quotes_the_interpreters_folder "
                         "runs the worker_init it depends on through bash")
def test_a_campaign_runs_with_an_interpreter_under_a_folder_with_a_space(tmp_path):
    """A checkout under '~/My Projects': the interpreter's folder reaches worker_init, the MD commands and the
    interchange with its space (the runs folder is elsewhere: one with a space is refused, see test_bad_inputs)."""
    import subprocess
    import sys

    from tests.conftest import child_env

    spaced = tmp_path / "My Projects" / "venv"
    spaced.parent.mkdir()
    spaced.symlink_to(Path(sys.prefix))  # the same venv, found through a path with a space
    python = spaced / "bin" / "python"
    runs = tmp_path / "runs"
    result = subprocess.run([str(python), "-m", "mlmd_parsl", "--site", str(HERE / "tiny_site.yaml"), "--set",
                             f"runs_dir={runs}", "--set", "validation.enabled=false", "--set", "md.zreps=[1]"],
                            env=child_env(), capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (run_dir,) = runs.glob("tiny-*")
    # the MD command Parsl ran (its bash app writes it at the top of the case's stderr) used that interpreter
    assert str(python) in (run_dir / "ours" / "md" / "md_z1_r1" / "stderr.txt").read_text()
    rows = list(csv.DictReader(open(run_dir / "results.csv")))
    assert [r["status"] for r in rows] == ["ok"] * 3


def test_an_archived_run_unpacked_elsewhere_resumes_without_rerunning_anything(campaign, tmp_path):
    """archive -> unpack in another folder -> --resume there: every task is reused (keys hold <run>, not the
    folder the run was made in), nothing is recomputed."""
    import tarfile

    _, run_dirs = campaign
    archived = run_cli(["mlmd_parsl", "archive", str(run_dirs[0]), "--out", str(tmp_path / "run.tar.gz")])
    assert archived.returncode == 0, archived.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    with tarfile.open(tmp_path / "run.tar.gz") as tar:
        tar.extractall(elsewhere, filter="data")
    moved = elsewhere / run_dirs[0].name
    before = _mtimes(moved)
    result = run_cli(["mlmd_parsl", "--site", str(HERE / "tiny_site.yaml"), "--set", f"runs_dir={elsewhere}",
                      "--resume", moved.name])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.count("done (reused) - ") == 4 + 1, result.stdout  # four MD cases and the training
    assert _mtimes(moved) == before
