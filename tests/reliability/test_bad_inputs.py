"""Bad input, through the real command lines: one clear line naming the file/key/value and what is allowed,
exit code 2, no traceback, and nothing already computed is touched (an earlier run sits in runs_dir)."""
import hashlib
import os
import subprocess
import sys

import pytest

from tests.conftest import FIXTURES, REPO, child_env

pytestmark = pytest.mark.reliability
FRAME = (FIXTURES / "ag_frame.xyz").read_text()
LINES = FRAME.splitlines()


def _replace_field(line_no, column, value):
    lines = list(LINES)
    fields = lines[line_no].split()
    fields[column] = value
    lines[line_no] = " ".join(fields)
    return "\n".join(lines) + "\n"


DATASETS = {  # file text -> the fragment the one-line error must hold
    "empty": ("", "is empty"),
    "truncated": (FRAME + FRAME[: len(FRAME) // 2], "not readable extxyz"),
    "no_energy": (FRAME.replace(" energy=", " e_other="), "has no energy or no forces"),
    "no_forces": ("\n".join([LINES[0], LINES[1].replace(":forces:R:3", "")]
                            + [" ".join(line.split()[:4]) for line in LINES[2:]])
                  + "\n", "has no energy or no forces"),
    "copper": (FRAME.replace("\nAg ", "\nCu ", 1), "elements ['Cu']; only Ag is allowed"),
    "nan_force": (_replace_field(5, -1, "nan"), "contain NaN or inf"),
    "inf_position": (_replace_field(7, 1, "inf"), "contain NaN or inf"),
    "mixed_counts": (FRAME + "\n".join(["70", LINES[1]] + LINES[2:-1]) + "\n", "frame 1: 70 atoms, but frame 0 has 71"),
}

CONFIG_CASES = [  # --set overrides of the local site -> fragment
    (["md.zreps=abc"], "md.zreps: expected a non-empty list, got 'abc'"),
    (["md.zreps=[0, 2]"], "md.zreps: [0, 2]: every entry must be an integer >= 1"),
    (["md.ranks=[-1]"], "md.ranks: [-1]: every entry must be an integer >= 1"),
    (["md.ranks=[1, 4]"], "md.ranks: 4 ranks, but provider.cores_per_node is 2"),
    (["md.model_device=cuda"], "md.model_device: 'cuda', but provider.gpus_per_node is 0 (a CPU site)"),
    (["provider.walltime=1:30:00"], "provider.walltime: expected a string, got 5400 (YAML reads unquoted 1:30:00"),
    (["provider.walltime=90min"], "provider.walltime: '90min'; expected HH:MM:SS"),
    (["md.nosuch=1"], "md.nosuch: unknown key; allowed keys: engine, profile"),
    (["training.max_epochs=many"], "training.max_epochs: expected an integer, got 'many'"),
    (["training.trainer=fast"], "training.trainer: 'fast'; allowed: hippynn, lean"),
    (["dataset.synthetic.close_pairs_per_frame=0"], "dataset.synthetic.close_pairs_per_frame: 0: allowed 1 to 10"),
    (["provider.partition=$(reboot)"], "provider.partition: '$(reboot)': only letters, digits"),
    (["md.weak_scaling.nodes=[1, 2]"], "md.weak_scaling.nodes: 2 nodes, but a block of the MPI executor has 1"),
    (["md.weak_scaling.layout=slab"], "md.weak_scaling.layout: 'slab'; allowed: block, rod"),
    (["divisions=[closed]"], "divisions: ['closed']; allowed: one or both of seed, ours"),
    (["md.model_device=cuda:foo"], "md.model_device: 'cuda:foo'; allowed: cpu, cuda, cuda:N"),
    (["name=a;touch pwned;b"], "name: 'a;touch pwned;b': letters, digits and _ . - only"),
]


def cli(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=child_env(), capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def runs(tmp_path):
    """A runs folder holding an earlier run of the local site, to prove bad input never touches it."""
    earlier = tmp_path / "runs" / "local-20260101-000000"
    (earlier / "md" / "md_z2_r1").mkdir(parents=True)
    (earlier / "manifest.json").write_text('{"site": {"name": "local"}}')
    (earlier / "results.csv").write_text("task,status\ntrain,ok\n")
    (earlier / "md" / "md_z2_r1" / "log.lammps").write_text("Performance: 1 tau/day\n")
    before = _snapshot(tmp_path / "runs")
    yield tmp_path / "runs"
    assert _snapshot(tmp_path / "runs") == before, "bad input changed or added files in the runs folder"


def _snapshot(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file()}


def assert_clean_error(result, fragment):
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    assert fragment in result.stderr, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len([line for line in result.stderr.splitlines() if line.startswith("error:")]) == 1


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_bad_dataset(name, runs, tmp_path):
    text, fragment = DATASETS[name]
    path = tmp_path / f"{name}.xyz"
    path.write_text(text)
    result = cli("mlmd_parsl", "--site", "local", "--set", f"runs_dir={runs}", "--set", f"dataset.path={path}")
    assert_clean_error(result, fragment)
    assert str(path) in result.stderr  # names the file


def test_missing_dataset_names_the_doi_and_fetch_data(runs, tmp_path):
    result = cli("mlmd_parsl", "--site", "local", "--set", f"runs_dir={runs}",
                 "--set", f"dataset.path={tmp_path}/Ag.xyz")
    assert_clean_error(result, "10.24435/materialscloud:fr-ts")
    assert "fetch-data" in result.stderr


@pytest.mark.parametrize("overrides,fragment", CONFIG_CASES)
def test_bad_site_value(overrides, fragment, runs):
    args = ["mlmd_parsl", "--site", "local", "--set", f"runs_dir={runs}"]
    for override in overrides:
        args += ["--set", override]
    assert_clean_error(cli(*args), fragment)


def test_yaml_syntax_error_names_file_and_line(runs, tmp_path):
    site = tmp_path / "broken.yaml"
    site.write_text("name: broken\nprovider:\n  kind: local\n  cores_per_node: [2\nmd: {}\n")
    assert_clean_error(cli("mlmd_parsl", "--site", str(site)), f"{site}:5: YAML syntax error")


def test_unknown_site_lists_the_known_ones(runs):
    assert_clean_error(cli("mlmd_parsl", "--site", "frontier"),
                       "unknown site 'frontier'; known sites: chicoma, crossroads")


def test_missing_lmp_for_the_site_engine(runs):
    result = cli("mlmd_parsl", "--site", "local", "--set", f"runs_dir={runs}", "--set", "md.engine=mliap",
                 "--set", "md.lmp=/opt/nowhere/lmp")
    assert_clean_error(result, "LAMMPS executable '/opt/nowhere/lmp' (from md.lmp) not found")


def test_lmp_without_python_coupling(runs):
    result = cli("mlmd_parsl", "--site", "local", "--set", f"runs_dir={runs}", "--set", "md.engine=mliap",
                 "--set", f"md.lmp={REPO / '.venv' / 'bin' / 'lmp'}")
    assert_clean_error(result, "lacks PYTHON")  # the PyPI wheel's real lmp


def test_lmp_without_kokkos_for_a_gpu_site(runs, tmp_path):
    """An `lmp` whose -h lists ML-IAP and PYTHON but no KOKKOS (no such build exists here, so a script prints it)."""
    fake = tmp_path / "lmp"
    fake.write_text("#!/bin/sh\ncat <<'EOF'\nLarge-scale Atomic/Molecular Massively Parallel Simulator - 2 Aug 2023\n"
                    "\nInstalled packages:\n\nML-IAP ML-SNAP PYTHON\n\nList of individual style options\nEOF\n")
    fake.chmod(0o755)
    result = cli("mlmd_parsl", "--site", "chicoma", "--set", f"runs_dir={runs}", "--set", "dataset.path=null",
                 "--set", f"md.lmp={fake}")
    assert_clean_error(result, "KOKKOS")


def test_the_seed_division_needs_a_lammps_with_the_ml_iap_python_coupling(runs):
    result = cli("mlmd_parsl", "--site", "local", "--set", f"runs_dir={runs}", "--set", "divisions=[seed, ours]",
                 "--set", f"md.lmp={REPO / '.venv' / 'bin' / 'lmp'}")
    assert_clean_error(result, "lacks PYTHON, needed by the seed division (pair_style mliap unified)")
    assert "divisions: [ours]" in result.stderr  # what to do without one


@pytest.mark.parametrize("args, fragment", [
    (("--only", "md"), "--only md runs the MD cases of an export made elsewhere: give --model"),
    (("--model", "m.pt", "--box", "b.data"), "--model and --box go with --only md"),
    (("--only", "md", "--model", "m.pt", "--box", "b.data", "--resume", "local-x"),
     "--only md and --resume do not go together"),
    (("--only", "everything"), "argument --only: invalid choice: 'everything'"),
])
def test_parts_alone_need_their_inputs(runs, args, fragment):
    assert_clean_error(cli("mlmd_parsl", "--site", "local", "--set", f"runs_dir={runs}", *args), fragment)


def test_the_md_part_alone_refuses_a_model_that_is_no_export_and_a_missing_box(runs, tmp_path, untrained_model):
    import torch

    junk = tmp_path / "model.pt"
    torch.save({"weights": [1, 2, 3]}, junk)
    result = cli("mlmd_parsl", "--site", "local", "--set", f"runs_dir={runs}", "--only", "md", "--model", str(junk),
                 "--box", str(FIXTURES / "ag_box.data"))
    assert_clean_error(result, f"--model: model file {junk} is a dict, not a hippynn MLIAPInterface export")
    box = cli("mlmd_parsl", "--site", "local", "--set", f"runs_dir={runs}", "--only", "md", "--model",
              str(untrained_model["model"]), "--box", str(tmp_path / "nothing.data"))
    assert_clean_error(box, f"box file not found: {tmp_path / 'nothing.data'}")


def md_cli(tmp_path, *args):
    """python -m mlmd_parsl.md with a log in tmp_path; every test also proves nothing was written for bad input."""
    result = cli("mlmd_parsl.md", *args, "--log", str(tmp_path / "md_out" / "log.lammps"), cwd=tmp_path)
    if result.returncode == 2:
        assert not (tmp_path / "md_out").exists() and not (tmp_path / "log.lammps").exists()
    return result


def test_model_file_that_is_not_a_hippynn_export(tmp_path):
    import torch

    junk = tmp_path / "model.pt"
    torch.save({"weights": [1, 2, 3]}, junk)
    result = md_cli(tmp_path, "--model", str(junk), "--box", str(FIXTURES / "ag_box.data"), "--steps", "0")
    assert_clean_error(result, f"model file {junk} is a dict, not a hippynn MLIAPInterface export")


def test_model_for_another_element(untrained_model, tmp_path):
    import torch

    interface = torch.load(untrained_model["model"], weights_only=False)
    interface.element_types = ["Cu"]
    copper = tmp_path / "copper_model.pt"
    torch.save(interface, copper)
    result = md_cli(tmp_path, "--model", str(copper), "--box", str(FIXTURES / "ag_box.data"), "--steps", "0")
    assert_clean_error(result, "is for elements ['Cu']; this benchmark needs ['Ag']")


def test_box_file_unreadable(untrained_model, tmp_path):
    result = md_cli(tmp_path, "--model", str(untrained_model["model"]), "--box", str(tmp_path / "box.data"))
    assert_clean_error(result, f"box file not found: {tmp_path / 'box.data'}")


def test_box_file_that_is_the_model(untrained_model, tmp_path):
    result = md_cli(tmp_path, "--model", str(untrained_model["model"]), "--box", str(untrained_model["model"]))
    assert_clean_error(result, f"--box {untrained_model['model']}: not a LAMMPS data file")


def test_md_without_a_log_says_where_it_would_write(untrained_model, tmp_path):
    result = cli("mlmd_parsl.md", "--model", str(untrained_model["model"]), "--box", str(FIXTURES / "ag_box.data"),
                 "--steps", "0", cwd=tmp_path)
    assert_clean_error(result, "the following arguments are required: --log")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("extra, message", [
    (("--timed-steps", "0"), "--timed-steps 0: must be >= 1, and applies to a profile (not with --steps)"),
    (("--steps", "5", "--timed-steps", "9"), "--timed-steps 9: must be >= 1, and applies to a profile"),
    (("--compact-min-atoms", "-1"), "--compact-min-atoms -1: must be >= 0 (0 compacts at every size)"),
    (("--profile", "ast5"), "argument --profile: invalid choice: 'ast5'"),
    (("--profile", "quick", "--steps", "3"), "--profile quick and --steps 3: --steps runs one NVE stage"),
    (("--device", "gpu"), "--device 'gpu': allowed: cpu, cuda, cuda:N"),
    (("--device", "cuda:7"), "--device cuda:7: this host has"),
])
def test_md_options_out_of_range(untrained_model, tmp_path, extra, message):
    import torch

    if extra[-1] == "cuda:7" and torch.cuda.device_count() > 7:
        pytest.skip("this host has 8 GPUs: cuda:7 exists")
    result = md_cli(tmp_path, "--model", str(untrained_model["model"]), "--box", str(FIXTURES / "ag_box.data"),
                    *extra)
    assert_clean_error(result, message)


def test_resume_and_dry_run_conflict(runs):
    assert_clean_error(cli("mlmd_parsl", "--site", "local", "--dry-run", "--resume", "x"),
                       "--resume and --dry-run do not go together")


def test_resume_of_a_run_that_does_not_exist(runs):
    result = cli("mlmd_parsl", "--site", "local", "--set", f"runs_dir={runs}", "--resume", "local-20990101-000000")
    assert_clean_error(result, "no run directory with a manifest.json")


def test_resume_of_another_sites_run(runs):
    result = cli("mlmd_parsl", "--site", "crossroads", "--set", f"runs_dir={runs}", "--resume", "local-20260101-000000")
    assert_clean_error(result, "that run belongs to site 'local', not 'crossroads'")


def test_set_without_a_value(runs):
    assert_clean_error(cli("mlmd_parsl", "--site", "local", "--set", "md.zreps"), "expected KEY.PATH=VALUE")


@pytest.mark.parametrize("every", ["0", "nan", "inf", "-1"])
def test_progress_interval_must_be_positive_and_finite(runs, every):
    assert_clean_error(cli("mlmd_parsl", "--site", "local", "--progress-every", every),
                       f"--progress-every {every}: must be > 0 and at most 86400 seconds")


def test_a_resume_whose_manifest_is_not_a_manifest(runs):
    (runs / "local-20260101-000000" / "manifest.json").write_text("[]")
    result = cli("mlmd_parsl", "--site", "local", "--set", f"runs_dir={runs}", "--resume", "local-20260101-000000")
    (runs / "local-20260101-000000" / "manifest.json").write_text('{"site": {"name": "local"}}')
    assert_clean_error(result, "manifest.json is unreadable; start a new run instead")


@pytest.mark.parametrize("text, fragment", [
    (b"name: caf\xe9\n", "not UTF-8 text (byte 9: invalid continuation byte)"),
    (b"name: local\nmd:\n  zreps: [2]\n  zreps: [4]\n", "site.yaml:4: zreps: given twice (first on line 3)"),
])
def test_a_site_file_that_is_not_utf8_or_gives_a_key_twice(runs, tmp_path, text, fragment):
    site = tmp_path / "site.yaml"
    site.write_bytes(text)
    assert_clean_error(cli("mlmd_parsl", "--site", str(site)), fragment)


def test_interface_the_host_does_not_have(runs):
    result = cli("mlmd_parsl", "--site", "localslurm", "--set", f"runs_dir={runs}",
                 "--set", "provider.interface=nosuch0")
    assert_clean_error(result, "provider.interface: 'nosuch0' has no IPv4 address here")


def test_unwritable_runs_folder(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    result = cli("mlmd_parsl", "--site", "local", "--set", f"runs_dir={blocker}/runs")
    assert_clean_error(result, f"cannot create the run directory under {blocker}/runs")


def test_a_runs_folder_parsl_cannot_start_workers_in_is_refused_before_anything_starts(runs):
    """Parsl's providers run `bash SCRIPT` unquoted from the run folder: with a space there no worker ever starts
    and a campaign would wait for ever. One line instead, and no folder made."""
    spaced = runs.parent / "with space" / "runs"
    result = cli("mlmd_parsl", "--site", "local", "--set", f"runs_dir={spaced}")
    assert_clean_error(result, f"runs folder '{spaced}': Parsl starts its worker scripts from the run folder")
    assert not spaced.parent.exists()


def test_a_second_driver_on_a_running_run_is_refused_before_it_writes_anything(tmp_path):
    from mlmd_parsl.config import load_site_config
    from mlmd_parsl.orchestration.rundir import lock_run, new_run_dir, write_manifest

    site = load_site_config("local", [f"runs_dir={tmp_path}"])
    run = new_run_dir(site)
    write_manifest(run, site)
    manifest = (run / "manifest.json").read_text()
    held = lock_run(run)  # the first driver, still running
    try:
        result = cli("mlmd_parsl", "--site", "local", "--set", f"runs_dir={tmp_path}", "--resume", run.name)
    finally:
        held.close()
    assert_clean_error(result, f"another driver (pid {os.getpid()}) is running this run")
    assert (run / "manifest.json").read_text() == manifest and not (run / "console.log").exists()
