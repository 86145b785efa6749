"""LAMMPS' ML-IAP pair-array bug on several ranks (issue 36), met for real in the seed's engine, and the deck's
presizing that keeps it away. The export is wrapped to record each rank's list atoms and pairs per call; the replay
of LAMMPS' growth rule (mliap_pair_arrays.py) says whether lmp_firstneigh was regrown short.

The default test forces the bug's precondition in a few `run 0` calls: a rank loses atoms (`balance` moves the
cut) while its pair count grows (the box compressed 0.9: the second neighbour shell comes inside the 4 A cutoff).
The long one is the issue's case: hot MD on 2 ranks, 2,272 atoms each, both exports."""
from pathlib import Path

import numpy as np
import pytest

from mlmd_parsl.science.lammps.deck import (NVE, NVE_RESCALE, NVT, TIMED_STAGE, DeckOutputs, ForceField, Protocol,
                                            Stage, make_deck, single_stage_protocol, split_before_timed_stage)
from mlmd_parsl.science.lammps.mliap_pair_arrays import PRESIZE_SCALE, replay_grow_neigharrays
from mlmd_parsl.science.lammps.site_lammps import run_site_lammps
from mlmd_parsl.science.validation.reference import read_force_dump
from tests.conftest import standalone

pytestmark = [pytest.mark.slow, pytest.mark.mpi]
BOUNDS = [f"{axis}{end}" for axis in "xyz" for end in ("lo", "hi")]


def recording_export(model, export, folder):
    from mlmd_parsl.science.lammps.mliap_pair_recorder import write_recording_export
    from mlmd_parsl.science.model.export import load_exported_model
    from mlmd_parsl.science.model.lean_mliap import export_lean_model

    if export == "lean":
        model = export_lean_model(load_exported_model(model), folder)
    return write_recording_export(model, folder / f"recording_{export}.pt", folder / "counts")


def replays(folder):
    from mlmd_parsl.science.lammps.mliap_pair_recorder import read_pair_counts

    recorded = read_pair_counts(folder / "counts")
    assert len(recorded) == 2, f"expected 2 ranks' counts in {folder / 'counts'}, found {sorted(recorded)}"
    return [(calls, replay_grow_neigharrays(calls)) for calls in recorded.values()]


def shrink_deck(model, box, presize, dump):
    """run 0 on the box; rank 0 keeps 40% of the atoms, the box compressed 0.9; run 0. With `presize` the box is
    then restored (bounds kept to the last bit), the cut back at the middle, and a last run 0 dumps the forces."""
    deck = make_deck(Path(box).resolve(), (2, 2, 4), single_stage_protocol(0), ForceField.mliap(model),
                     outputs=DeckOutputs(dump_forces=str(dump)),
                     mliap_presize_scale=PRESIZE_SCALE if presize else None)
    head, timed = split_before_timed_stage(deck.stages)
    shrink = [*(f"variable keep_{b} string $({b}:%.17g)" for b in BOUNDS),
              "run 0 post no",
              "balance 1.0 z 0.4",
              "change_box all x scale 0.9 y scale 0.9 z scale 0.9 remap",
              "run 0 post no"]
    if not presize:  # stop before the rank regains its atoms: past this point LAMMPS writes outside its array
        return deck.setup + head + "\n".join(shrink) + "\n"
    restore = ["change_box all " + " ".join(f"{a} final ${{keep_{a}lo}} ${{keep_{a}hi}}" for a in "xyz")
               + " remap units box", "balance 1.0 z 0.5"]
    return deck.setup + head + "\n".join(shrink + restore) + "\n" + timed


@pytest.mark.parametrize("export", ["hippynn", "lean"])
def test_a_rank_losing_atoms_while_its_pairs_grow_gets_short_rows_unless_the_deck_presized_them(
        untrained_model, export, site_lmp, mpiexec, tmp_path):
    bare, presized = tmp_path / "bare", tmp_path / "presized"
    for folder, presize in ((bare, False), (presized, True)):
        folder.mkdir()
        model = recording_export(untrained_model["model"], export, folder)
        log = run_site_lammps(site_lmp, shrink_deck(model, untrained_model["box"], presize, folder / "forces.dump"),
                              folder, 2, tag=export)
        assert "1 by 1 by 2 MPI processor grid" in log.read_text()

    # without presizing: the shrinking rank's third call has fewer atoms and more pairs than its first,
    # and LAMMPS regrows lmp_firstneigh with the fewer rows
    bare_replays = replays(bare)
    shrunk = [(calls, replay) for calls, replay in bare_replays if replay.short_regrowths]
    assert len(shrunk) == 1, [calls for calls, _ in bare_replays]
    (atoms0, pairs0), (atoms1, pairs1) = shrunk[0][0][0], shrunk[0][0][-1]
    assert atoms1 < atoms0 and pairs1 > pairs0 and shrunk[0][1].short_regrowths == [len(shrunk[0][0]) - 1]

    # presized: no regrowth is short, no write leaves the array, and the rank regained its atoms
    presized_replays = replays(presized)
    for calls, replay in presized_replays:
        assert replay.short_regrowths == [] and replay.overflows == [], calls
    assert any(calls[-1][0] > min(atoms for atoms, _ in calls) for calls, _ in presized_replays)
    ids, _, forces, _ = read_force_dump(presized / "forces.dump")
    embedded_ids, _, embedded, _ = standalone(untrained_model["model"], untrained_model["box"], tmp_path, 1, mpiexec,
                                           replicate=(2, 2, 4))
    assert np.array_equal(ids, embedded_ids)
    scale = np.abs(embedded).max()
    assert scale > 0.1
    assert np.abs(forces - embedded).max() <= 1e-4 * scale  # the box restored: the forces of the box as it was


HOT = Protocol("hot", (Stage("nvt_1fs", 30, 1.0, NVT), Stage("nvt_5fs", 30, 5.0, NVT),
                       Stage("nve_rescale", 30, 5.0, NVE_RESCALE), Stage(TIMED_STAGE, 1000, 5.0, NVE)),
               100, velocity_loop="")


@pytest.mark.long(reason="4,544 atoms, 1,090 hot steps on 2 ranks per export, about 4 minutes on 2 cores; "
                         "test_a_rank_losing_atoms_while_its_pairs_grow_gets_short_rows_unless_the_deck_presized_"
                         "them forces the same precondition in a few run 0 calls")
@pytest.mark.parametrize("export", ["hippynn", "lean"])
def test_hot_md_on_two_ranks_with_the_presized_deck_never_regrows_short_and_ends_with_the_embedded_forces(
        trained_model, export, site_lmp, mpiexec, tmp_path):
    model = recording_export(trained_model["model"], export, tmp_path)
    final = tmp_path / "final.data"
    deck = make_deck(Path(trained_model["box"]).resolve(), (2, 2, 16), HOT, ForceField.mliap(model),
                     outputs=DeckOutputs(dump_forces=str(tmp_path / "forces.dump")),
                     mliap_presize_scale=PRESIZE_SCALE)
    log = run_site_lammps(site_lmp, deck.text + f"write_data {final}\n", tmp_path, 2, tag=export)
    assert "1000 steps with 4544 atoms" in log.read_text()
    for calls, replay in replays(tmp_path):
        assert replay.calls >= 1090 and replay.short_regrowths == [] and replay.overflows == [], replay
        assert max(atoms for atoms, _ in calls) > min(atoms for atoms, _ in calls)  # atoms moved between the ranks
        assert replay.pair_growth < 1.0  # the hot run stayed below the presized arrays
    ids, _, forces, _ = read_force_dump(tmp_path / "forces.dump")
    embedded_ids, _, embedded, _ = standalone(trained_model["model"], final, tmp_path, 1, mpiexec, replicate=(1, 1, 1))
    assert np.array_equal(ids, embedded_ids)
    assert np.abs(forces - embedded).max() <= 1e-4 * np.abs(embedded).max()
