"""The embedded engine: stock LAMMPS integrates, keeps ghosts and decomposes the domain over MPI;
a `fix external pf/callback` evaluates the exported hippynn_lammps_model.pt each step.

Per step and rank: pairs (local atom, any atom within the cutoff; VerletPairs reuses a candidate list
and folds periodic images of my own atoms into those atoms) -> model on local + foreign atoms -> forces
summed on the model's device; forces on other ranks' atoms go back to their owners (GhostForceRouter);
energy and virial are summed over ranks and handed to LAMMPS as *global* values (identical on every
rank), which is what fix external expects.
"""
import os
import sys
import traceback

import numpy as np

from ..lammps.deck import MODEL_FIX_ID, NEIGHBOUR_SKIN, Deck, split_before_timed_stage
from .ghost_router import GhostForceRouter, neighbour_ranks_from_subdomains
from .model_steps import ExportedModel, ModelStep
from .options import EngineOptions
from .pairs import DEFAULT_SKIN, VerletPairs
from .phase_timer import PhaseTimer


class EmbeddedForceField:
    def __init__(self, lmp, model: ExportedModel, step: ModelStep, comm, pair_skin=DEFAULT_SKIN):
        self.lmp = lmp
        self.model = model
        self.step = step
        self.comm = comm
        self.cutoff = model.cutoff
        natoms = int(lmp.get_natoms())
        near = neighbour_ranks_from_subdomains(
            comm,
            lmp.extract_global("sublo"),
            lmp.extract_global("subhi"),
            lmp.extract_global("boxlo"),
            lmp.extract_global("boxhi"),
            lmp.extract_global("periodicity"),
            margin=self.cutoff + 4.0,  # ghost cutoff (cutoff + skin) plus drift between re-neighbourings
        )
        self.router = GhostForceRouter(comm, natoms, neighbour_ranks=near)
        self.pairs = VerletPairs(self.cutoff, pair_skin, model.device)
        self.calls = 0
        self.timer = PhaseTimer()
        self._prepared_build = -1

    def callback(self, caller, step, nlocal, tags, x, fexternal):
        try:
            self._compute(nlocal, fexternal)
        except Exception:  # an exception inside a ctypes callback would be swallowed: stop the run
            sys.stderr.write(f"rank {self.comm.Get_rank()}: model evaluation failed at step {step}\n")
            traceback.print_exc()
            sys.stderr.flush()
            self.comm.Abort(3)

    def _compute(self, nlocal, fexternal):
        lmp, timer = self.lmp, self.timer
        timer.start()
        ntotal = nlocal + int(lmp.extract_global("nghost"))
        energy, virial = 0.0, np.zeros(6)
        local_forces = np.zeros((nlocal, 3))
        foreign_tags, foreign_forces = np.empty(0, dtype=np.int64), np.zeros((0, 3))
        tags = np.asarray(lmp.numpy.extract_atom("id", nelem=ntotal)).astype(np.int64).reshape(-1)
        if nlocal > 0:
            positions = np.asarray(lmp.numpy.extract_atom("x", nelem=ntotal))
            timer.lap("read")
            pairs = self.pairs
            x = pairs.update(positions, tags, nlocal)
            timer.lap("pairs")
            if pairs.builds != self._prepared_build:  # the model's atoms changed: their species too
                types = np.asarray(lmp.numpy.extract_atom("type", nelem=ntotal)).reshape(-1)
                self.step.prepare(pairs, self.model.atomic_numbers(types[pairs.model_atoms()].astype(np.int64)))
                self._prepared_build = pairs.builds
            timer.lap("prepare")
            energy, forces, virial = self.step.evaluate(pairs, x)
            local_forces = forces[:nlocal]
            foreign_tags, foreign_forces = pairs.foreign_tags, forces[nlocal:]
            timer.lap("model")
        self.router.add_ghost_forces(tags[:nlocal], foreign_tags, foreign_forces, local_forces)
        timer.lap("route")
        if nlocal > 0:
            fexternal[:, :] = local_forces
        totals = np.zeros(7)
        self.comm.Allreduce(np.concatenate([[energy], virial]), totals)
        lmp.fix_external_set_energy_global(MODEL_FIX_ID, float(totals[0]))
        lmp.fix_external_set_virial_global(MODEL_FIX_ID, [float(v) for v in totals[1:]])
        timer.lap("hand_back")
        self.calls += 1


def device_for_rank(model_device: str, comm) -> str:
    """`cuda` means one GPU per rank: the rank's index on its node picks among the GPUs it can see (all of
    the node's when the launcher binds none, one when it binds one per rank). `cuda:N` and `cpu` are kept."""
    if model_device != "cuda":
        return model_device
    import torch
    from mpi4py import MPI

    visible = torch.cuda.device_count()
    if visible <= 1:
        return "cuda:0"
    local_rank = comm.Split_type(MPI.COMM_TYPE_SHARED).Get_rank()
    return f"cuda:{local_rank % visible}"


def run_embedded(deck: Deck, model_path, log_file, options: EngineOptions = EngineOptions(), comm=None):
    """Run `deck` in this process (one MPI rank of `comm`) with the embedded engine, as `options` say
    (options.py: the device, precision, pair skin, model step, CUDA graph, compaction, compilation, pair kernels)."""
    from mpi4py import MPI

    from ..model.export import load_exported_model
    from ..lammps.runtime import open_lammps

    comm = comm or MPI.COMM_WORLD
    model_device = device_for_rank(options.device, comm)
    _quiet_hippynn()
    model = ExportedModel(load_exported_model(model_path, device=model_device), model_device, options.dtype)
    if deck.ghost_cutoff is not None and deck.ghost_cutoff < model.cutoff + NEIGHBOUR_SKIN:
        from ...errors import ModelError

        raise ModelError(f"the deck keeps ghosts to {deck.ghost_cutoff:g} A, but {model_path} has a {model.cutoff:g} A "
                         f"cutoff (needs {model.cutoff + NEIGHBOUR_SKIN:g} A): build the deck with make_deck(..., "
                         "ForceField.model_fix(model_cutoff(model)))")
    step = model.step(options.model_step, options.cuda_graph, options.compact_min_atoms, options.compile_network,
                      options.pair_kernels)
    if step.fallback_reason and comm.Get_rank() == 0:
        print(f"note: {step.fallback_reason}", file=sys.stderr, flush=True)
    threads = model_threads(comm)
    lmp = open_lammps(log_file=log_file, comm=comm)
    model.torch.set_num_threads(threads)  # LAMMPS just set OpenMP's count to 1 if OMP_NUM_THREADS is unset
    give_threads_to_fused_cpu_step(step, threads, model.torch)
    try:
        lmp.commands_string(deck.setup)
        force_field = EmbeddedForceField(lmp, model, step, comm, options.pair_skin)
        lmp.set_fix_external_callback(MODEL_FIX_ID, force_field.callback)
        warm_up, timed = split_before_timed_stage(deck.stages)
        lmp.commands_string(warm_up)
        # the phases of the timed stage's steps alone, as LAMMPS' loop time: not its `run`'s set-up call
        force_field.timer.reset(skip_calls=1)
        builds_before_timed = force_field.pairs.builds
        lmp.commands_string(timed)
        return {"natoms": int(lmp.get_natoms()), "model_calls": force_field.calls, "device": model_device,
                "pair_builds": force_field.pairs.builds, "model_step": step.name, "model_threads": threads,
                "torch_threads": model.torch.get_num_threads(), "timed_calls": force_field.timer.calls,
                "timed_pair_builds": force_field.pairs.builds - builds_before_timed,
                "timed_ms_per_call": force_field.timer.ms_per_call()}
    finally:
        lmp.close()


def give_threads_to_fused_cpu_step(step, threads, torch):
    """With the fused CPU step (numba) the rank's threads are numba's and torch keeps one, so torch's OpenMP pool
    (which spins a while after each of the step's few torch operations) and numba's never share the rank's cores."""
    cpu_step = getattr(getattr(getattr(step, "pair_forces", None), "lean", None), "cpu_step", None)
    if cpu_step is not None:
        cpu_step.threads = threads
        torch.set_num_threads(1)


def model_threads(comm) -> int:
    """Threads for the model on this rank: OMP_NUM_THREADS when set; else the cores this process may run on,
    shared among the ranks on its node. (LAMMPS sets OpenMP's thread count to 1 when OMP_NUM_THREADS is unset,
    which left `python -m mlmd_parsl.md` run by hand on one thread: 1.4x slower on two cores.)"""
    from mpi4py import MPI

    if os.environ.get("OMP_NUM_THREADS", "").strip().isdigit():
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    ranks_on_node = comm.Split_type(MPI.COMM_TYPE_SHARED).Get_size()
    return max(1, len(os.sched_getaffinity(0)) // ranks_on_node)


def _quiet_hippynn():
    import hippynn

    hippynn.settings.WARN_LOW_DISTANCES = False
