"""How the checks run the engine: in this process (one evaluation), or `python -m mlmd_parsl.md` (MPI ranks);
the boxes they use."""
import subprocess
from pathlib import Path

import numpy as np

from ..embedded.options import EngineOptions, md_argv
from ..lammps.deck import DeckOutputs, ForceField, make_deck, single_stage_protocol


STANDALONE_TIMEOUT_S = 3600  # a check's run takes seconds to minutes; a hung launcher must not hold the run for ever


def run_standalone(model, box, out_dir, tag, replicate, steps, ranks=1, dtype="float32", device="cpu"):
    """python -m mlmd_parsl.md in a subprocess (under mpiexec for ranks > 1); returns dump and log paths."""
    from ..lammps.runtime import THIS_NODE_MPIEXEC_ENV, mpiexec_executable, venv_environment

    dump, log = out_dir / f"{tag}.dump", out_dir / f"{tag}.lammps"
    cmd = md_argv(model, box, replicate, log, EngineOptions(device=device, dtype=dtype), steps=steps, dump_forces=dump)
    if ranks > 1:
        cmd = [mpiexec_executable(), "-n", str(ranks)] + cmd
    env = {**venv_environment(), **THIS_NODE_MPIEXEC_ENV, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    env.setdefault("HIPPYNN_USE_CUSTOM_KERNELS", "pytorch")
    try:
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=STANDALONE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{' '.join(cmd)} did not finish within {STANDALONE_TIMEOUT_S} s") from None
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}): {result.stderr[-2000:]}")
    return dump, log


def evaluate_in_process(model, box, out_dir, tag, replicate, dtype):
    """Evaluate a box once (run 0) with the engine in this process; return (dump, log)."""
    from mpi4py import MPI

    from ..embedded.embedded import run_embedded

    dump, log = out_dir / f"{tag}.dump", out_dir / f"{tag}.lammps"
    deck = make_deck(Path(box).resolve(), replicate, single_stage_protocol(0), ForceField.model_fix(cutoff_of(model)),
                     outputs=DeckOutputs(dump_forces=str(dump)))
    run_embedded(deck, model, str(log), EngineOptions(dtype=dtype), comm=MPI.COMM_SELF)
    return dump, log


def cutoff_of(model):
    from ..model.export import load_exported_model, model_cutoff

    return model_cutoff(load_exported_model(model))


def validation_boxes(box, out_dir):
    """(name, data file, replicate) of the boxes the force check uses, written from the unit box."""
    import ase.io

    unit = ase.io.read(str(box), format="lammps-data", atom_style="atomic")
    strained = unit.copy()
    strained.set_cell(unit.cell.array @ np.diag([1.03, 0.97, 1.02]), scale_atoms=True)
    holes = unit.copy()
    del holes[[3, 17, 40, 66]]  # four more vacancies, five in all
    files = {}
    for name, atoms in (("strained", strained), ("vacancies", holes)):
        files[name] = out_dir / f"box_{name}.data"
        ase.io.write(str(files[name]), atoms, format="lammps-data", masses=True)
    return [
        ("unit_cell_71", Path(box), (1, 1, 1)),
        ("replica_2x2x1", Path(box), (2, 2, 1)),
        ("noncubic_1x2x3", Path(box), (1, 2, 3)),
        ("strained_3pct", files["strained"], (2, 2, 1)),
        ("five_vacancies", files["vacancies"], (2, 1, 2)),
    ]


def atoms_in(box):
    for line in Path(box).read_text().splitlines():
        if line.strip().endswith("atoms"):
            return int(line.split()[0])
    raise ValueError(f"no atom count in {box}")


def atoms_from_log(log):
    from ..lammps.logs import parse_log

    return parse_log(log).atoms
