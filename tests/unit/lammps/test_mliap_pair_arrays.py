"""The replay of LAMMPS' ML-IAP pair-array growth, and the deck lines that keep its bug from striking."""
import pytest

from mlmd_parsl.science.lammps.deck import ForceField, make_deck, protocol_by_name, single_stage_protocol
from mlmd_parsl.science.lammps.mliap_pair_arrays import (PRESIZE_STAGE, presize_applies, presize_lines,
                                                         replay_grow_neigharrays)


def test_a_rank_that_lost_atoms_then_counts_more_pairs_gets_short_rows_and_overflows_when_it_regains_them():
    calls = [(100, 1000), (100, 1010),  # sized for 100 atoms
             (95, 1020),  # lost 5 atoms, more pairs than ever: lmp_firstneigh regrown with 95 rows
             (95, 1000), (100, 990)]  # regained them: rows 95..99 are written past the array
    replay = replay_grow_neigharrays(calls)
    assert replay.short_regrowths == [2]
    assert replay.overflows == [4]
    assert (replay.first_pairs, replay.most_later_pairs, replay.calls) == (1000, 1020, 5)


def test_more_atoms_than_ever_regrows_every_row_and_no_pair_growth_means_no_short_rows():
    assert replay_grow_neigharrays([(100, 1000), (90, 900), (110, 1100), (100, 1000)]).overflows == []
    presized = replay_grow_neigharrays([(100, 1500), (95, 1020), (100, 990), (98, 1100)])
    assert presized.short_regrowths == [] and presized.overflows == []
    assert presized.pair_growth == pytest.approx(1100 / 1500)


def test_presize_lines_restore_the_box_bounds_they_kept():
    lines = presize_lines("MARK", 0.9)
    assert lines[0] == f'print "MARK {PRESIZE_STAGE}"'
    kept = [line for line in lines if line.startswith("variable mlmd_") and "string" in line]
    assert len(kept) == 6 and all("%.17g" in line for line in kept)
    compress = lines.index("change_box all x scale 0.9 y scale 0.9 z scale 0.9 remap")
    assert lines[compress + 1] == "run 0 post no"
    assert lines[compress + 2] == ("change_box all x final ${mlmd_xlo} ${mlmd_xhi} y final ${mlmd_ylo} ${mlmd_yhi} "
                                   "z final ${mlmd_zlo} ${mlmd_zhi} remap units box")
    with pytest.raises(ValueError, match="in \\(0, 1\\)"):
        presize_lines("MARK", 1.0)


def test_the_mliap_deck_presizes_before_its_first_stage_and_only_when_asked():
    protocol = protocol_by_name("quick")
    plain = make_deck("box.data", (2, 2, 2), protocol, ForceField.mliap("m.pt"))
    presized = make_deck("box.data", (2, 2, 2), protocol, ForceField.mliap("m.pt"), mliap_presize_scale=0.93)
    assert PRESIZE_STAGE not in plain.text
    assert presized.stages.index(PRESIZE_STAGE) < presized.stages.index("velocity all create")
    assert presized.text.replace("\n".join(presize_lines("MLMD_STAGE")) + "\n", "") == plain.text
    with pytest.raises(ValueError, match="pair_style mliap"):
        make_deck("box.data", (1, 1, 1), single_stage_protocol(0), ForceField.model_fix(), mliap_presize_scale=0.93)


@pytest.mark.parametrize("setting, ranks, kokkos, applies", [
    ("auto", 1, False, False), ("auto", 2, False, True), ("auto", 4, True, False),
    ("always", 1, True, True), ("never", 8, False, False),
])
def test_presize_applies_where_the_setting_says(setting, ranks, kokkos, applies):
    assert presize_applies(setting, ranks, kokkos) is applies


def test_an_unknown_presize_setting_is_refused():
    with pytest.raises(ValueError, match="'on'"):
        presize_applies("on", 2, False)


def test_the_presize_compresses_further_where_no_neighbour_shell_lies_just_beyond_the_cutoff(tmp_path):
    import ase.build
    import ase.io

    from mlmd_parsl.science.lammps.mliap_pair_arrays import presize_scale

    box = tmp_path / "fcc.data"  # silver's shells at 2.89, 4.09, 5.01, 5.78 A
    ase.io.write(str(box), ase.build.bulk("Ag", "fcc", a=4.09, cubic=True).repeat((2, 2, 2)), format="lammps-data")
    assert presize_scale(box, 4.0) == 0.93  # the 4.09 A shell comes inside: 18 pairs per atom instead of 12
    # nothing between 5.05 and 5.05 / 0.93 = 5.43 A: compressed until the 5.78 A shell is in (5.05 / 5.78 = 0.874)
    assert presize_scale(box, 5.05) == 0.87
