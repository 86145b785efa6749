import subprocess
from pathlib import Path

import pytest

from mlmd_parsl.errors import ConfigError
from mlmd_parsl.science.lammps.deck import (PROFILES, ForceField, make_deck, protocol_by_name, single_stage_protocol,
                                           with_timed_steps)
from mlmd_parsl.science.lammps.runtime import eam_potential_path, lmp_executable, venv_environment
from mlmd_parsl.science.lammps.logs import parse_log
from tests.conftest import FIXTURES


def test_ats5_profile_is_the_seed_protocol():
    ats5 = PROFILES["ats5"]
    assert [(s.steps, s.timestep_fs, s.ensemble) for s in ats5.stages] == [
        (10_000, 1.0, "nvt"), (10_000, 5.0, "nvt"), (10_000, 5.0, "nve_rescale"),
        (5_000, 5.0, "nve"), (10_000, 5.0, "nve"),  # the seed unfixes temp/rescale after stage 3
    ]
    assert ats5.stages[-1].name == "timed" and ats5.thermo_every == 1000


# The seed's MD-HO.in (GPU) as ../shared/design.md section 1 states it, its commands in order (comments, blank lines
# and the `variable tau` indirection aside); MD-HO-cpu.in is the same without /kk.
SEED_MD_HO_GPU = """units metal
boundary p p p
neigh_modify every 1 delay 0 check yes
atom_style atomic
read_data ag_box.data
timestep 0.001
pair_style mliap unified hippynn_lammps_model.pt 0
pair_coeff * * Ag
mass 1 107.8682
change_box all x scale 1.0 y scale 1.0 z scale 1.0 remap units box
replicate 2 2 8
thermo 1000
thermo_style custom step pe ke temp pxx pyy pzz pxy pxz pyz
fix 1 all nvt/kk temp 1111 1111 $(100.0*dt)
velocity all create 1111 8971317 mom yes rot yes dist gaussian
run 10000
unfix 1
timestep 0.005
fix 2 all nvt/kk temp 1111 1111 $(100.0*dt)
run 10000
unfix 2
fix 3 all nve/kk
fix 4 all temp/rescale 100 1111 1111 1.0 1.0
run 10000
unfix 4
run 5000
run 10000""".splitlines()


@pytest.mark.parametrize("kokkos", [True, False], ids=["MD-HO.in (GPU)", "MD-HO-cpu.in"])
def test_the_ats5_site_engine_deck_is_the_seeds_md_ho_command_for_command(kokkos):
    """Only our stage markers (a `print` before each stage, no work) are added; the seed's pair_style line
    has no trailing 0 in its file but LAMMPS reads the same default."""
    deck = make_deck("ag_box.data", (2, 2, 8), PROFILES["ats5"], ForceField.mliap("hippynn_lammps_model.pt"),
                     kokkos=kokkos)
    commands = [line for line in deck.text.splitlines() if not line.startswith('print "MLMD_STAGE ')]
    expected = SEED_MD_HO_GPU if kokkos else [line.replace("/kk", "") for line in SEED_MD_HO_GPU]
    assert commands == expected
    markers = [line for line in deck.text.splitlines() if line.startswith('print "MLMD_STAGE ')]
    assert markers == [f'print "MLMD_STAGE {s.name}"' for s in PROFILES["ats5"].stages]
    assert "temp/rescale/kk" not in deck.text  # -sf kk picks the /kk variant only where the site's LAMMPS has one


def test_quick_profile_keeps_every_stage():
    quick, ats5 = PROFILES["quick"], PROFILES["ats5"]
    assert [s.name for s in quick.stages] == [s.name for s in ats5.stages]
    assert quick.total_steps < ats5.total_steps / 100


def test_a_longer_timed_stage_keeps_the_warm_up_stages():
    quick = PROFILES["quick"]
    longer = with_timed_steps(quick, 1000)
    assert [s.steps for s in longer.stages] == [s.steps for s in quick.stages[:-1]] + [1000]
    assert longer.stages[:-1] == quick.stages[:-1] and longer.name == "quick_timed1000"


def test_unknown_profile():
    with pytest.raises(ConfigError, match="unknown MD profile 'fast'; allowed: \\['ats5', 'quick'\\]"):
        protocol_by_name("fast")


def test_embedded_deck_has_the_seed_settings_and_the_model_fix_after_replicate():
    lines = make_deck("ag_box.data", (2, 2, 4), PROFILES["ats5"]).text.splitlines()
    for line in (
        "units metal", "replicate 2 2 4", "mass 1 107.8682", "neigh_modify every 1 delay 0 check yes",
        "velocity all create 1111 8971317 mom yes rot yes dist gaussian",
        "fix 1 all nvt temp 1111 1111 $(100.0*dt)", "fix 4 all temp/rescale 100 1111 1111 1.0 1.0", "unfix 4",
        "fix mlmd_model all external pf/callback 1 1", "fix_modify mlmd_model energy yes virial yes", "thermo 1000",
    ):
        assert line in lines, line
    assert lines.index("fix mlmd_model all external pf/callback 1 1") > lines.index("replicate 2 2 4")
    assert lines.count("timestep 0.001") == 1 and lines.count("timestep 0.005") == 1


def test_other_protocols_keep_rank_independent_velocities_and_the_checks_thermo_columns():
    lines = make_deck("ag_box.data", (2, 2, 1), single_stage_protocol(100)).text.splitlines()
    assert "velocity all create 1111 8971317 mom yes rot yes dist gaussian loop geom" in lines
    assert "thermo_style custom step temp pe ke etotal press pxx pyy pzz pxy pxz pyz" in lines
    assert lines[-3:] == ["fix 1 all nve", "velocity all create 1111 8971317 mom yes rot yes dist gaussian loop geom",
                          "run 100"]


@pytest.mark.parametrize("profile", ["quick", "ats5", "single", "quick_timed7"])
def test_deck_runs_on_stock_lmp_with_the_eam_swap(profile, tmp_path):
    protocol = {"single": single_stage_protocol(20),
                "quick_timed7": with_timed_steps(PROFILES["quick"], 7)}.get(profile) or protocol_by_name(profile)
    deck = make_deck(FIXTURES / "ag_box.data", (2, 2, 1), protocol, ForceField.eam(eam_potential_path()))
    (tmp_path / "in.lmp").write_text(deck.text)
    result = subprocess.run(
        [lmp_executable(), "-in", "in.lmp", "-log", "log.lammps", "-screen", "none"],
        cwd=tmp_path, env={**venv_environment(), "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    log = parse_log(tmp_path / "log.lammps")
    assert log.status == "ok" and log.atoms == 284 and log.timed_steps == protocol.stages[-1].steps
    assert [run.stage for run in log.runs] == [s.name for s in protocol.stages]


def test_the_quick_profiles_timed_stage_runs_at_the_protocols_temperature(trained_model, tmp_path):
    """A trained model, 1,136 atoms, the embedded engine: the timed stage within 5% of 1111 K. The profile before
    issue 36 (20 steps of rescaling every 100 steps, which never fired, and 10 of equilibration) ran it at 861 K."""
    from dataclasses import replace

    from mpi4py import MPI

    from mlmd_parsl.science.embedded.embedded import run_embedded
    from mlmd_parsl.science.lammps.deck import TEMPERATURE_K, _md_ho
    from mlmd_parsl.science.lammps.logs import thermo_tables
    from mlmd_parsl.science.model.export import load_exported_model, model_cutoff

    cutoff = model_cutoff(load_exported_model(trained_model["model"]))
    before = replace(_md_ho("quick_before_issue_36", (20, 20, 20, 10, 60), 10), rescale_every=100)
    temperatures = {}
    for protocol in (PROFILES["quick"], before):
        deck = make_deck(Path(trained_model["box"]).resolve(), (2, 2, 4), protocol, ForceField.model_fix(cutoff))
        log = tmp_path / f"{protocol.name}.lammps"
        run_embedded(deck, trained_model["model"], str(log), comm=MPI.COMM_SELF)
        timed = thermo_tables(log)["timed"]
        temperatures[protocol.name] = sum(row["Temp"] for row in timed) / len(timed)
    assert abs(temperatures["quick"] - TEMPERATURE_K) <= 0.05 * TEMPERATURE_K, temperatures
    assert temperatures[before.name] < 0.9 * TEMPERATURE_K, temperatures  # the check tells the two apart


def test_paths_reach_lammps_as_one_word_whatever_they_hold(tmp_path):
    """A box, a potential and a dump under a folder with a space, a # and a $: LAMMPS reads each whole (no
    comment, no variable), and runs."""
    import shutil

    from mlmd_parsl.science.lammps.deck import DeckOutputs, lammps_word

    assert lammps_word("/plain/ag_box.data") == "/plain/ag_box.data"
    assert lammps_word("/My Projects/a#1") == '"/My Projects/a#1"'
    assert lammps_word('/say "hi"/x') == "'/say \"hi\"/x'"
    with pytest.raises(ValueError, match="newline"):
        lammps_word("/a\nshell rm -rf x")
    folder = tmp_path / "My Projects #1 $HOME"
    folder.mkdir()
    box, potential = folder / "ag box.data", folder / "Ag u3.eam"
    shutil.copy(FIXTURES / "ag_box.data", box)
    shutil.copy(eam_potential_path(), potential)
    dump = folder / "forces #final.dump"
    deck = make_deck(box, (1, 1, 1), single_stage_protocol(0), ForceField.eam(potential),
                     outputs=DeckOutputs(dump_forces=str(dump)))
    (tmp_path / "in.lmp").write_text(deck.text)
    result = subprocess.run([lmp_executable(), "-in", "in.lmp", "-log", "log.lammps", "-screen", "none"],
                            cwd=tmp_path, env={**venv_environment(), "OMP_NUM_THREADS": "1"}, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr + (tmp_path / "log.lammps").read_text()[-2000:]
    assert dump.exists() and "ITEM: ATOMS" in dump.read_text()


def test_split_before_timed_stage_puts_every_warm_up_command_first():
    from mlmd_parsl.science.lammps.deck import split_before_timed_stage

    deck = make_deck("box.data", (2, 2, 1), protocol_by_name("quick"))
    warm_up, timed = split_before_timed_stage(deck.stages)
    assert warm_up + timed == deck.stages
    assert timed.startswith('print "MLMD_STAGE timed"') and timed.count("run ") == 1
    assert warm_up.count("run ") == 4
    assert split_before_timed_stage("run 5\n") == ("run 5\n", "")
