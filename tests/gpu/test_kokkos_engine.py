"""The seed's GPU engine for real: LAMMPS with KOKKOS (CUDA) running `pair_style mliap unified` on our exports,
launched with the project's own commands. Gated on a CUDA device and $MLMD_KOKKOS_LMP (see conftest)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlmd_parsl.config import load_site_config
from mlmd_parsl.orchestration.md_backends import backend_for
from mlmd_parsl.orchestration.site_engine_files import write_site_engine_deck
from mlmd_parsl.orchestration.site_engine_preflight import preflight_site_engine, site_engine_probe_command
from mlmd_parsl.orchestration.sweeps import md_cases
from mlmd_parsl.science.lammps.deck import DeckOutputs, ForceField, make_deck, single_stage_protocol
from mlmd_parsl.science.lammps.kokkos_options import CURRENT_PACKAGE, NEWTON_REFUSAL, SEED_PACKAGE
from mlmd_parsl.science.lammps.logs import thermo_tables
from mlmd_parsl.science.lammps.site_lammps import choose_site_kokkos, run_site_lammps
from mlmd_parsl.science.reporting.results import md_row
from mlmd_parsl.science.validation.cross_engine import CROSS_ENGINE_BOXES, SiteEngine, check_cross_engine
from mlmd_parsl.science.validation.reference import read_force_dump
from mlmd_parsl.science.validation.spec import ValidationSpec
from tests.conftest import child_env

pytestmark = [pytest.mark.gpu]
VIRIAL = ("Pxx", "Pyy", "Pzz", "Pxy", "Pxz", "Pyz")
EXPORTS = {"hippynn": "model", "lean": "lean_model"}


@pytest.fixture(scope="module")
def cuda_run(trained_model, tmp_path_factory):
    """A run folder as the campaign lays it out, its model exported for CUDA (both exports), as on Chicoma."""
    import shutil

    from mlmd_parsl.science.model.export import BOX_FILE, export_models

    run_dir = tmp_path_factory.mktemp("kokkos_run")
    exported = export_models(trained_model["state"], run_dir / "train", "cuda", lean=True)
    shutil.copy(trained_model["box"], run_dir / "train" / BOX_FILE)
    return run_dir, {**exported, "box": str(run_dir / "train" / BOX_FILE), "dataset_label": "synthetic"}


@pytest.fixture(scope="module")
def kokkos_package(kokkos_lmp, cuda_run, tmp_path_factory):
    run_dir, exported = cuda_run
    choice = choose_site_kokkos(kokkos_lmp, exported["model"], exported["box"], tmp_path_factory.mktemp("probe"))
    assert not choice.failure, choice.failure
    return choice.package


def gpu_site(tmp_path, lmp, mliap_model):
    path = tmp_path / "gpu_site.yaml"
    path.write_text(f"""name: gpu
provider: {{kind: local, cores_per_node: 4, gpus_per_node: 1}}
md: {{engine: mliap, lmp: {lmp}, kokkos: true, model_device: cuda, mliap_model: {mliap_model},
     profile: quick, zreps: [2], ranks: [1]}}
""")
    return load_site_config(str(path))


def bash_probe(probe_dir: Path, lmp: str, kokkos_package: tuple):
    """The preflight's probe command run as the campaign's MPI task runs it, without Parsl (one rank)."""
    command = site_engine_probe_command(str(probe_dir), lmp, kokkos_package, sys.executable)
    with open(probe_dir / "stdout.txt", "w") as out, open(probe_dir / "stderr.txt", "w") as err:
        rc = subprocess.run(["bash", "-c", command], env=child_env(PARSL_MPI_PREFIX=""), stdout=out, stderr=err,
                            timeout=600).returncode
    return None if rc == 0 else RuntimeError(f"probe exited with code {rc}")


@pytest.mark.parametrize("mliap_model", ["hippynn", "lean"])
def test_preflight_keeps_a_kokkos_line_lammps_accepts_and_a_quick_case_runs_with_it(kokkos_lmp, cuda_run, tmp_path,
                                                                                    mliap_model):
    run_dir, exported = cuda_run
    site = gpu_site(tmp_path, kokkos_lmp, mliap_model)
    lines = []
    launch = preflight_site_engine(site, run_dir, bash_probe, log=lines.append)
    kokkos = launch["kokkos"]
    refused = [r["package"] for r in kokkos["refused"]]
    if refused:  # a LAMMPS of 2024 or later: the seed's line refused for newton/neigh, the current one kept
        assert refused == [" ".join(SEED_PACKAGE)] and NEWTON_REFUSAL in kokkos["refused"][0]["reason"]
        assert kokkos["package"] == " ".join(CURRENT_PACKAGE)
    else:
        assert kokkos["package"] == " ".join(SEED_PACKAGE)
    assert f"MD cases run -pk kokkos {kokkos['package']}" in lines[0]
    assert json.loads((run_dir / "manifest.json").read_text())["site_engine"]["ours"]["kokkos"] == kokkos

    (case,) = md_cases(site, run_dir, tuple(kokkos["package"].split()))
    assert case.packed and case.site_lammps.kokkos_package == tuple(kokkos["package"].split())
    case.dir.mkdir(parents=True, exist_ok=True)
    write_site_engine_deck(case)
    command = backend_for(case.engine).command(case, exported, sys.executable, "pytorch", 4)
    assert f"-sf kk -pk kokkos {kokkos['package']} -in in.lammps" in command
    result = subprocess.run(["bash", "-c", command], env=child_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    row = md_row(**case.result_fields(), dataset_label="synthetic")
    assert row["status"] == "ok" and row["atoms"] == 568 and float(row["katom_step_s"]) > 0, row
    assert row["engine"] == ("mliap-lean" if mliap_model == "lean" else "mliap")
    log = case.log.read_text()
    assert "will use up to 1 GPU(s) per node" in log and "pair_style mliap unified" in log
    assert "fix 1 all nvt/kk temp 1111 1111 $(100.0*dt)" in log and "unfix 4" in log  # the seed's MD-HO.in
    assert f"{'lean' if mliap_model == 'lean' else 'hippynn'}_lammps_model.pt" in log


def kokkos_run_0(lmp, package, model, box, folder, tag):
    dump = folder / f"{tag}.dump"
    deck = make_deck(Path(box).resolve(), (2, 2, 4), single_stage_protocol(0), ForceField.mliap(Path(model).resolve()),
                     kokkos=True, outputs=DeckOutputs(dump_forces=str(dump)))
    log = run_site_lammps(lmp, deck.text, folder, 1, package, tag=tag)
    assert "will use up to 1 GPU(s) per node" in log.read_text()
    return read_force_dump(dump)[2], thermo_tables(log)["timed"][0], (folder / f"{tag}.out").read_text()


def test_the_lean_export_gives_the_hippynn_exports_forces_energy_and_virial_through_kokkos(
        kokkos_lmp, kokkos_package, cuda_run, tmp_path):
    """The lean export as exported (fused pair kernels in one captured CUDA graph) and made eager."""
    from mlmd_parsl.science.model.export import load_exported_model
    from mlmd_parsl.science.model.lean_mliap import export_lean_model

    run_dir, exported = cuda_run
    forces, row, _ = kokkos_run_0(kokkos_lmp, kokkos_package, exported["model"], exported["box"], tmp_path, "hippynn")
    eager = export_lean_model(load_exported_model(exported["model"]), tmp_path, "cuda", fast=False, name="eager.pt")
    for tag, model, step in (("lean", exported["lean_model"], "lean (CUDA graph, fused pair kernels) on cuda"),
                             ("eager", eager, None)):
        lean_forces, lean_row, out = kokkos_run_0(kokkos_lmp, kokkos_package, model, exported["box"], tmp_path, tag)
        assert (step in out) if step else ("CUDA graph" not in out), out[-2000:]
        check_same_results(forces, row, lean_forces, lean_row)


def check_same_results(forces, row, lean_forces, lean_row):
    scale = np.abs(forces).max()
    assert len(forces) == 1136 and scale > 0.1  # a trained model's forces, not zeros
    assert np.abs(lean_forces - forces).max() <= 1e-4 * scale  # float32 both, other summation order
    assert abs(lean_row["PotEng"] - row["PotEng"]) <= 1e-6 * abs(row["PotEng"]) + 1e-3
    virial_scale = max(abs(row[k]) for k in VIRIAL)
    assert max(abs(lean_row[k] - row[k]) for k in VIRIAL) <= 1e-4 * virial_scale + 1.0


@pytest.mark.parametrize("mliap_model", ["hippynn", "lean"])
def test_cross_engine_check_the_kokkos_engine_against_the_embedded_engine_on_cuda(
        kokkos_lmp, kokkos_package, cuda_run, tmp_path, mliap_model):
    run_dir, exported = cuda_run
    site_engine = SiteEngine(kokkos_lmp, exported[EXPORTS[mliap_model]], "cuda", tuple(kokkos_package))
    cross = check_cross_engine(site_engine, exported["model"], exported["box"], tmp_path,
                               ValidationSpec(rank_counts=(1,)))
    assert cross["ok"], cross
    assert cross["kokkos_package"] == " ".join(kokkos_package) and cross["embedded_device"] == "cuda"
    assert {c["box"] for c in cross["cases"]} == set(CROSS_ENGINE_BOXES)
    for box in cross["cases"]:
        assert 0 < box["max_force_difference"] < 1e-4 * box["max_force_ev_per_a"], box
        assert box["max_force_ev_per_a"] > 0.1 and box["pe_site_ev"] != 0, box
    placement = json.loads((tmp_path / "cross_engine" / "placement.json").read_text())  # the last embedded run's
    assert all(rank["device"].startswith("cuda") for rank in placement["ranks"]), placement
