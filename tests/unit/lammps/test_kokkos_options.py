"""Which `-pk kokkos` options the site engine runs: the seed's line where LAMMPS takes it, else the current one.
The decision is tested here on scripted probe answers (the quoted reasons are LAMMPS' own words); tests/gpu runs
it on a real KOKKOS LAMMPS."""
import pytest

from mlmd_parsl.science.lammps.kokkos_options import (CURRENT_PACKAGE, NEWTON_REFUSAL, SEED_PACKAGE,
                                                      choose_kokkos_package, kokkos_gpu_args, parse_package,
                                                      planned_package, preflight_candidates)

REFUSED = f"ERROR: {NEWTON_REFUSAL} (src/KOKKOS/kokkos.cpp:850)"


def scripted(answers):
    """A probe that answers each line from `answers` (None = it ran) and records what it was asked."""
    asked = []

    def probe(package):
        asked.append(package)
        return answers[package]

    return probe, asked


def test_a_lammps_that_takes_the_seeds_line_runs_it():
    probe, asked = scripted({SEED_PACKAGE: None})
    choice = choose_kokkos_package(probe)
    assert choice.package == SEED_PACKAGE and asked == [SEED_PACKAGE] and not choice.refused
    assert choice.describe() == "-pk kokkos neigh full newton on (the seed's line)"


def test_a_lammps_that_refuses_the_seeds_line_for_newton_runs_the_current_one_and_says_why():
    probe, asked = scripted({SEED_PACKAGE: REFUSED, CURRENT_PACKAGE: None})
    choice = choose_kokkos_package(probe)
    assert choice.package == CURRENT_PACKAGE and asked == [SEED_PACKAGE, CURRENT_PACKAGE]
    assert choice.refused == ((SEED_PACKAGE, REFUSED),) and not choice.failure
    assert "newton on neigh half" in choice.describe() and NEWTON_REFUSAL in choice.describe()
    record = choice.as_record()
    assert record["package"] == "newton on neigh half" and record["refused"][0]["package"] == "neigh full newton on"


def test_any_other_failure_is_not_retried_with_another_line():
    probe, asked = scripted({SEED_PACKAGE: "ModuleNotFoundError: No module named 'hippynn'"})
    choice = choose_kokkos_package(probe)
    assert asked == [SEED_PACKAGE] and choice.failure.startswith("ModuleNotFoundError") and not choice.package


def test_when_the_current_line_fails_too_its_reason_is_the_failure():
    probe, _ = scripted({SEED_PACKAGE: REFUSED, CURRENT_PACKAGE: "ERROR: Unrecognized pair style 'mliap/kk'"})
    choice = choose_kokkos_package(probe)
    assert choice.failure == "ERROR: Unrecognized pair style 'mliap/kk'"
    assert choice.refused == ((SEED_PACKAGE, REFUSED),)


def test_explicit_options_are_tried_alone():
    probe, asked = scripted({("newton", "on", "neigh", "half", "comm", "device"): REFUSED})
    choice = choose_kokkos_package(probe, "newton on neigh half comm device")
    assert asked == [("newton", "on", "neigh", "half", "comm", "device")] and choice.failure == REFUSED
    assert preflight_candidates("auto") == [SEED_PACKAGE, CURRENT_PACKAGE]


def test_planned_line_and_launch_arguments():
    assert planned_package("auto") == CURRENT_PACKAGE  # what a dry run and the library path show
    assert planned_package("neigh full newton on") == SEED_PACKAGE
    assert kokkos_gpu_args(4, CURRENT_PACKAGE) == ["-k", "on", "g", "4", "-sf", "kk", "-pk", "kokkos",
                                                   "newton", "on", "neigh", "half"]


@pytest.mark.parametrize("text, message", [
    ("neigh", "expected 'auto' or keyword/value pairs"),
    ("", "expected 'auto' or keyword/value pairs"),
    ("newton on neighbours half", "unknown package kokkos keyword 'neighbours'"),
    ("neigh full newton off", "pair_style mliap needs 'newton on'"),
    ("neigh half", "pair_style mliap needs 'newton on'"),
])
def test_bad_options_are_named(text, message):
    with pytest.raises(ValueError, match=message):
        parse_package(text)
