import subprocess

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
        (5_000, 5.0, "nve_rescale"), (10_000, 5.0, "nve_rescale"),
    ]
    assert ats5.stages[-1].name == "timed" and ats5.thermo_every == 1000


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


def test_embedded_deck_has_the_seed_settings():
    text = make_deck("ag_box.data", (2, 2, 4), PROFILES["ats5"]).text
    for line in (
        "units metal", "replicate 2 2 4", "mass 1 107.8682", "neigh_modify every 1 delay 0 check yes",
        "velocity all create 1111.0 8971317 mom yes rot yes dist gaussian loop geom",
        "fix ensemble all nvt temp 1111.0 1111.0 $(100*dt)", "fix rescale all temp/rescale 100 1111.0 1111.0 1.0 1.0",
        "fix mlmd_model all external pf/callback 1 1", "fix_modify mlmd_model energy yes virial yes", "thermo 1000",
    ):
        assert line in text.splitlines(), line
    assert text.count("timestep 0.001") == 1 and text.count("timestep 0.005") == 4


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


def test_split_before_timed_stage_puts_every_warm_up_command_first():
    from mlmd_parsl.science.lammps.deck import split_before_timed_stage

    deck = make_deck("box.data", (2, 2, 1), protocol_by_name("quick"))
    warm_up, timed = split_before_timed_stage(deck.stages)
    assert warm_up + timed == deck.stages
    assert timed.startswith('print "MLMD_STAGE timed"') and timed.count("run ") == 1
    assert warm_up.count("run ") == 4
    assert split_before_timed_stage("run 5\n") == ("run 5\n", "")
