"""The seed's own engine, for real: a LAMMPS with ML-IAP's Python coupling (`pair_style mliap unified`)
running our exports and our campaign. Skipped, saying why, where no such LAMMPS is at hand (see conftest)."""
import csv
import json
import stat
from pathlib import Path

import numpy as np
import pytest

from mlmd_parsl.science.lammps.deck import DeckOutputs, ForceField, make_deck, single_stage_protocol
from mlmd_parsl.science.lammps.logs import thermo_tables
from mlmd_parsl.science.validation.reference import read_force_dump
from mlmd_parsl.science.lammps.site_lammps import run_site_lammps
from mlmd_parsl.science.validation.cross_engine import CROSS_ENGINE_BOXES
from tests.conftest import run_cli

HERE = Path(__file__).resolve().parent
pytestmark = [pytest.mark.slow, pytest.mark.mpi]
VIRIAL = ("Pxx", "Pyy", "Pzz", "Pxy", "Pxz", "Pyz")


def site_run_0(lmp, model, box, folder, ranks, tag):
    dump = folder / f"{tag}.dump"
    deck = make_deck(Path(box).resolve(), (2, 2, 2), single_stage_protocol(0), ForceField.mliap(Path(model).resolve()),
                     outputs=DeckOutputs(dump_forces=str(dump)))
    log = run_site_lammps(lmp, deck.text, folder, ranks, tag=tag)
    assert f"on {ranks} procs for 0 steps" in log.read_text()
    return read_force_dump(dump)[2], thermo_tables(log)["timed"][0]


def test_the_lean_export_gives_the_hippynn_exports_forces_energy_and_virial_in_the_seeds_engine(
        trained_model, site_lmp, mpiexec, tmp_path):
    from mlmd_parsl.science.model.export import load_exported_model
    from mlmd_parsl.science.model.lean_mliap import export_lean_model

    interface = load_exported_model(trained_model["model"])
    exports = {"lean": export_lean_model(interface, tmp_path),  # on a CPU: the fused numba step
               "lean-eager": export_lean_model(interface, tmp_path, fast=False, name="eager.pt")}  # torch's
    for ranks in (1, 2):
        forces, row = site_run_0(site_lmp, trained_model["model"], trained_model["box"], tmp_path, ranks,
                                 f"hippynn_{ranks}")
        for name, lean in exports.items():
            lean_forces, lean_row = site_run_0(site_lmp, lean, trained_model["box"], tmp_path, ranks, f"{name}_{ranks}")
            printed = (tmp_path / f"{name}_{ranks}.out").read_text()
            assert ("fused CPU step" in printed) == (name == "lean"), printed[-2000:]
            scale = np.abs(forces).max()
            assert scale > 0.1  # a trained model's forces, not zeros
            assert np.abs(lean_forces - forces).max() <= 1e-4 * scale  # float32 both, other summation order
            assert abs(lean_row["PotEng"] - row["PotEng"]) <= 1e-6 * abs(row["PotEng"]) + 1e-3
            virial_scale = max(abs(row[k]) for k in VIRIAL)
            assert max(abs(lean_row[k] - row[k]) for k in VIRIAL) <= 1e-4 * virial_scale + 1.0


@pytest.fixture(scope="module")
def lmp_without_the_load_override(site_lmp, tmp_path_factory):
    """The site's lmp as a site with a pre-2025 LAMMPS and torch >= 2.6 meets it: no weights_only override."""
    wrapper = tmp_path_factory.mktemp("bin") / "lmp"
    wrapper.write_text(f"#!/bin/sh\nunset TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD\nexec {site_lmp} \"$@\"\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return wrapper


@pytest.mark.long(reason=(
    "a campaign on the seed's engine at 1 and 2 ranks with the cross-engine check, about 8 minutes; "
    "the two-division campaign runs the seed's engine through the CLI"
))
def test_the_mliap_campaign_stops_at_the_preflight_then_resumes_and_runs_every_case(
        site_lmp, lmp_without_the_load_override, tmp_path):
    site = ["mlmd_parsl", "--site", str(HERE / "tiny_site.yaml"), "--set", f"runs_dir={tmp_path}",
            "--set", "md.engine=mliap"]
    failed = run_cli(site + ["--set", f"md.lmp={lmp_without_the_load_override}"])
    assert failed.returncode == 2, failed.stdout[-3000:] + failed.stderr[-3000:]
    assert "Traceback" not in failed.stderr
    error = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "cannot run the ours division's exported model (preflight, run 0" in error[0]
    assert "Weights only load failed" in error[0] and "--resume" in error[0]
    run_dir = next(tmp_path.glob("tiny-*"))
    assert (run_dir / "ours" / "train" / "network_state.pt").is_file()  # nothing computed is lost
    assert not list((run_dir / "ours" / "md").glob("md_z*/log.lammps"))  # no MD case was started

    resumed = run_cli(site + ["--set", f"md.lmp={site_lmp}", "--resume", str(run_dir)])
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "training: done (reused)" in resumed.stdout and "site engine preflight:" in resumed.stdout
    rows = list(csv.DictReader(open(run_dir / "results.csv")))
    md = [r for r in rows if r["kind"] == "md"]
    assert {(r["atoms"], r["ranks"]) for r in md} == {("284", "1"), ("284", "2"), ("568", "1"), ("568", "2")}
    for row in md:
        assert row["status"] == "ok" and row["engine"] == "mliap" and float(row["katom_step_s"]) > 0, row
        assert "pair_style mliap unified" in ((run_dir / row["log"]).parent / "in.lammps").read_text()
    assert rows[0]["cross_engine_check"] == "pass"
    cross = json.loads((run_dir / "ours" / "validation" / "validation.json").read_text())["cross_engine"]
    assert {(c["box"], c["ranks"]) for c in cross["cases"]} == {(b, r) for b in CROSS_ENGINE_BOXES for r in (1, 2)}
    for box in cross["cases"]:  # the seed's engine and ours, on the same boxes: float32 round-off apart
        assert 0 < box["max_force_difference"] < 1e-4 * box["max_force_ev_per_a"], box
        assert box["pe_site_ev"] != 0 and abs(box["pe_site_ev"] - box["pe_embedded_ev"]) < 1e-2, box
    assert "## Site engine (`pair_style mliap unified`, hippynn_lammps_model.pt) vs embedded engine" in (
        run_dir / "ours" / "validation" / "validation.md").read_text()


@pytest.mark.long(reason=(
    "a campaign of the lean export on the seed's engine, about 1 minute; "
    "the lean-export force test runs it in the seed's engine"
))
def test_the_mliap_campaign_runs_the_lean_export_when_the_site_asks(site_lmp, tmp_path):
    result = run_cli(["mlmd_parsl", "--site", str(HERE / "tiny_site.yaml"), "--set", f"runs_dir={tmp_path}",
                      "--set", "md.engine=mliap", "--set", f"md.lmp={site_lmp}", "--set", "md.mliap_model=lean",
                      "--set", "validation.enabled=false"])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run_dir = next(tmp_path.glob("tiny-*"))
    md = [r for r in csv.DictReader(open(run_dir / "results.csv")) if r["kind"] == "md"]
    assert len(md) == 4 and all(r["status"] == "ok" and r["engine"] == "mliap-lean" for r in md), md
    for row in md:
        assert "pair_style mliap unified" in (deck := ((run_dir / row["log"]).parent / "in.lammps").read_text())
        assert "lean_lammps_model.pt" in deck


@pytest.mark.parametrize("validated", [False, pytest.param(True, marks=pytest.mark.long(
    reason="both divisions' physics checks too (the seed's model through the cross-engine check), about 9 minutes"))])
def test_a_local_campaign_with_both_divisions_runs_the_seeds_work_then_ours_with_no_ratio_between_them(
        site_lmp, tmp_path, validated):
    """The seed division on the seed's CPU engine (hippynn's stock loop, hippynn's export, the seed's MD-HO deck,
    one case after another), then ours (the lean trainer, the embedded engine), each row labelled and, `validated`,
    each division's model checked; nothing is set beside the seed's published numbers (tiny sizes, quick profile)
    and nothing beside the other division."""
    # unvalidated, one rank: the seed's engine at two ranks is the lean-export test's
    checks = [] if validated else ["--set", "validation.enabled=false", "--set", "md.ranks=[1]"]
    cases = ["md_z1_r1", "md_z1_r2"] if validated else ["md_z1_r1"]
    result = run_cli(["mlmd_parsl", "--site", str(HERE / "tiny_site.yaml"), "--set", f"runs_dir={tmp_path}",
                      "--set", "divisions=[seed, ours]", "--set", f"md.lmp={site_lmp}", "--set", "md.zreps=[1]",
                      *checks])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run_dir = next(tmp_path.glob("tiny-*"))
    rows = list(csv.DictReader(open(run_dir / "results.csv")))
    assert [(r["division"], r["task"], r["status"]) for r in rows] == [
        (division, task, "ok") for division in ("seed", "ours") for task in ["train", *cases]]
    seed_rows, ours_rows = rows[:len(cases) + 1], rows[len(cases) + 1:]
    seed_train, ours_train = seed_rows[0], ours_rows[0]
    assert seed_train["trainer"] == "hippynn" and ours_train["trainer"] == "lean"
    assert seed_train["deviations"] == "max_epochs 3 (the seed: 5000); synthetic data (the seed: Ag_warm_nospin.xyz)"
    assert "trainer lean" in ours_train["deviations"]
    summary = json.loads((run_dir / "seed" / "train" / "training_summary.json").read_text())
    assert summary["spec"]["precompute_pairs"] is False and summary["spec"]["dist_soft_min"] is None
    assert [r["engine"] for r in rows if r["kind"] == "md"] == ["mliap"] * len(cases) + ["embedded"] * len(cases)
    assert all(r["deviations"].startswith("profile quick") for r in seed_rows[1:])
    deck = (run_dir / "seed" / "md" / "md_z1_r1" / "in.lammps").read_text()
    assert "fix 3 all nve\nfix 4 all temp/rescale 10 1111 1111 1.0 1.0\nrun 60\nunfix 4" in deck  # the quick profile
    assert "hippynn_lammps_model.pt" in deck and "loop geom" not in deck
    lines = result.stdout.splitlines()
    last_seed_case = max(i for i, line in enumerate(lines) if "] seed/md_z1_r" in line)
    assert last_seed_case < next(i for i, line in enumerate(lines) if "] ours/training:" in line)
    if validated:
        assert seed_train["cross_engine_check"] == "pass" and ours_train["cross_engine_check"] == ""
        assert {r["physics"] for r in rows} <= {"physical", "unphysical"}
    report = (run_dir / "report.md").read_text()
    assert "## Division seed" in report and "## Division ours" in report
    table = [line.split("|") for line in report.splitlines() if line.startswith(("| seed |", "| ours |"))]
    assert len(table) == len(rows) and all(cells[9].strip() == "" for cells in table)  # no x seed on any row
