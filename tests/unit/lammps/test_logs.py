"""Log parsing on real LAMMPS logs made by tests/fixtures/make_lammps_logs.py (stock lmp, MD-HO deck, EAM)."""
import pytest

from mlmd_parsl.science.lammps.logs import parse_log, parse_performance
from tests.conftest import FIXTURES

LOGS = FIXTURES / "logs"


def test_one_rank_katom_log_reports_the_timed_stage_not_an_earlier_one():
    log = parse_log(LOGS / "eam_quick_284atoms_1rank.log")
    assert log.status == "ok"
    assert (log.atoms, log.ranks, log.mpi_grid, log.timed_steps) == (284, 1, (1, 1, 1), 60)
    assert log.atom_step_s == pytest.approx(625.759e3)  # the 5th Performance line (timed), in katom-step/s
    assert log.katom_step_s == pytest.approx(625.759)
    assert log.ns_per_day == pytest.approx(951.859)
    assert log.timesteps_per_s == pytest.approx(2203.377)
    assert [run.stage for run in log.runs] == ["nvt_1fs", "nvt_5fs", "nve_rescale", "equilibration", "timed"]


def test_two_rank_log_in_matom_is_normalised_to_katom():
    log = parse_log(LOGS / "eam_quick_284atoms_2ranks.log")
    assert log.status == "ok"
    assert log.ranks == 2 and log.mpi_grid[0] * log.mpi_grid[1] * log.mpi_grid[2] == 2
    assert log.katom_step_s == pytest.approx(1.086e3)


def test_large_two_rank_matom_log():
    log = parse_log(LOGS / "eam_36352atoms_2ranks_matom.log")
    assert (log.status, log.atoms, log.ranks, log.timed_steps) == ("ok", 36352, 2, 200)
    assert log.atom_step_s == pytest.approx(1.199e6)


def test_killed_run_is_incomplete_and_borrows_no_number():
    log = parse_log(LOGS / "eam_ats5_killed.log")  # killed during the equilibration stage
    assert [run.stage for run in log.runs] == ["nvt_1fs", "nvt_5fs", "nve_rescale"]
    assert all("atom_step_s" in run.performance for run in log.runs)  # earlier stages did finish
    assert log.status == "incomplete"
    assert log.atom_step_s is None and log.katom_step_s is None and log.timed_steps is None
    assert log.atoms == 284


def test_lammps_error_marks_the_log_failed_with_the_message():
    log = parse_log(LOGS / "eam_input_error.log")
    assert log.status == "failed"
    assert "Unrecognized fix style 'nosuchfix'" in log.error


def test_missing_log_is_failed(tmp_path):
    log = parse_log(tmp_path / "log.lammps")
    assert log.status == "failed" and "does not exist" in log.error


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1.2 ns/day, 19.9 hours/ns, 13.9 timesteps/s, 7.904 katom-step/s", 7904.0),
        ("360.576 ns/day, 0.067 hours/ns, 4173.338 timesteps/s, 1.185 Matom-step/s", 1.185e6),
        ("0.5 ns/day, 48 hours/ns, 2.0 timesteps/s, 142.0 atom-step/s", 142.0),
    ],
)
def test_performance_units(text, expected):
    assert parse_performance(text)["atom_step_s"] == pytest.approx(expected)


def test_timed_run_timing_breakdown_is_the_timed_stage_average_over_ranks():
    one_rank = parse_log(LOGS / "eam_quick_284atoms_1rank.log")
    assert one_rank.timed_sections_s == pytest.approx(
        {"Pair": 0.02485, "Neigh": 0.0012426, "Comm": 0.00051241, "Output": 0.00024354, "Modify": 0.0001796,
         "Other": 0.0002028})
    assert one_rank.runs[0].sections_s != one_rank.timed_sections_s  # an earlier stage's table is its own
    two_ranks = parse_log(LOGS / "eam_36352atoms_2ranks_matom.log")
    assert two_ranks.timed_sections_s["Pair"] == pytest.approx(5.6361)  # the avg column, not min or max
    assert two_ranks.timed_sections_s["Comm"] == pytest.approx(0.26661)
    assert sum(two_ranks.timed_sections_s.values()) == pytest.approx(two_ranks.loop_time_s, rel=0.01)
