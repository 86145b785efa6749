"""Run one MD case by hand, like the seed's `lmp -in MD-HO.in`, with the embedded engine.

    python -m mlmd_parsl.md --model hippynn_lammps_model.pt --box ag_box.data --replicate 2 2 4 --log out/log.lammps
    mpiexec -n 2 python -m mlmd_parsl.md ... --steps 0 --dump-forces forces.dump --log out/log.lammps

Without --steps it runs the MD-HO protocol (--profile ats5 or quick); --steps N runs one NVE stage
of N steps at 1 fs from velocities at 1111 K, and --steps 0 evaluates the box as given. It writes only
where it is told: the log, and placement.json and engine_profile.json beside it (--dump-forces: that file).
"""
import re
import sys
from pathlib import Path

from .arguments import ArgumentParser
from .errors import UserInputError
from .science.choices import ModelStepKind
from .science.embedded.options import COMPILE_CHOICES, DEFAULT_SKIN, MAX_PAIR_SKIN, PAIR_KERNELS, EngineOptions
from .science.lammps.deck import PROFILES


def build_parser():
    parser = ArgumentParser(prog="python -m mlmd_parsl.md", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="hippynn_lammps_model.pt (hippynn MLIAPInterface)")
    parser.add_argument("--box", required=True, help="LAMMPS data file of the unit box (ag_box.data)")
    parser.add_argument("--replicate", nargs=3, type=int, default=[2, 2, 1], metavar=("X", "Y", "Z"))
    parser.add_argument("--steps", type=int, default=None, help="one NVE stage of N steps instead of the profile")
    parser.add_argument("--profile", default=None, choices=tuple(PROFILES),
                        help="MD-HO step profile: ats5 (the seed's; the default) or quick; not with --steps")
    parser.add_argument("--timed-steps", type=int, default=None,
                        help="the profile's timed stage runs N steps (its warm-up stages unchanged)")
    parser.add_argument("--dump-forces", default=None, help="write id type x y z fx fy fz of the last step")
    parser.add_argument("--log", required=True,
                        help="LAMMPS log file to write; placement.json and engine_profile.json go beside it")
    parser.add_argument("--device", default="cpu", help="torch device of the model (cpu, cuda, cuda:1)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--model-step", default=str(ModelStepKind.LEAN), choices=ModelStepKind.words(),
                        help="lean: the network re-written as one torch module (default; falls back to hippynn's "
                             "graph for networks it does not support); hippynn: hippynn's own LAMMPS graph")
    parser.add_argument("--no-cuda-graph", dest="cuda_graph", action="store_false",
                        help="on a GPU, launch the lean model step eagerly instead of replaying a captured CUDA graph")
    parser.add_argument("--compile", dest="compile_network", default="auto", choices=COMPILE_CHOICES,
                        help="the lean network compiled by torch.compile: auto (in the captured GPU step), on (on a "
                             "CPU too: needs a C++ compiler, 10-15 s per process to compile), off")
    parser.add_argument("--pair-kernels", default="auto", choices=PAIR_KERNELS,
                        help="the lean step: on a CPU the fused numba step (auto, numba); torch's operations (torch, "
                             "and auto on a GPU); the pair part in our fused Triton kernels (triton; GPU only)")
    parser.add_argument("--compact-min-atoms", type=int, default=None, metavar="N",
                        help="on a GPU, the captured step compacts the pairs within the cutoff from N model atoms on "
                             "(0: always; default: the engine's, captured_step.COMPACT_MIN_ATOMS = 1,000); "
                             "for measuring both ways in one session")
    parser.add_argument("--pair-skin", type=float, default=DEFAULT_SKIN,
                        help=f"Angstrom beyond the cutoff that reused pair candidates reach (0 .. {MAX_PAIR_SKIN}; "
                             f"0 finds pairs every step; default {DEFAULT_SKIN})")
    return parser


def engine_options(args) -> EngineOptions:
    return EngineOptions(device=args.device, dtype=args.dtype, pair_skin=args.pair_skin, model_step=args.model_step,
                         cuda_graph=args.cuda_graph, compact_min_atoms=args.compact_min_atoms,
                         compile_network=args.compile_network, pair_kernels=args.pair_kernels)


def check_arguments(args):
    """The loaded model, and the note on its conversion ('' unless an older hippynn saved it)."""
    from .science.model.export import conversion_note, load_exported_model_noting

    if any(n < 1 for n in args.replicate):
        raise UserInputError(f"--replicate {' '.join(map(str, args.replicate))}: each factor must be >= 1")
    if not 0 <= args.pair_skin <= MAX_PAIR_SKIN:
        raise UserInputError(f"--pair-skin {args.pair_skin}: must be between 0 and {MAX_PAIR_SKIN} Angstrom "
                             "(0 finds pairs every step; more than LAMMPS' own 2 A skin only adds candidates)")
    if args.compact_min_atoms is not None and args.compact_min_atoms < 0:
        raise UserInputError(f"--compact-min-atoms {args.compact_min_atoms}: must be >= 0 (0 compacts at every size)")
    if args.steps is not None and args.steps < 0:
        raise UserInputError(f"--steps {args.steps}: must be >= 0")
    if args.timed_steps is not None and (args.timed_steps < 1 or args.steps is not None):
        raise UserInputError(f"--timed-steps {args.timed_steps}: must be >= 1, and applies to a profile "
                             "(not with --steps)")
    if args.steps is not None and args.profile is not None:
        raise UserInputError(f"--profile {args.profile} and --steps {args.steps}: --steps runs one NVE stage instead "
                             "of the profile; give one of them")
    check_device(args.device)
    check_box_file(Path(args.box))
    interface, changes = load_exported_model_noting(args.model)
    return interface, conversion_note(args.model, changes)


def check_device(device: str):
    import torch

    match = re.fullmatch(r"cuda(?::(\d+))?", device)
    if device != "cpu" and not match:
        raise UserInputError(f"--device {device!r}: allowed: cpu, cuda, cuda:N")
    if match:
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise UserInputError(f"--device {device}: this host has no CUDA device torch can use "
                                 f"(torch {torch.__version__}); run with --device cpu")
        if match.group(1) is not None and int(match.group(1)) >= count:
            raise UserInputError(f"--device {device}: this host has {count} CUDA device(s), cuda:0 to cuda:{count - 1}")


def check_box_file(box: Path):
    """A LAMMPS data file has an 'N atoms' line in its header; anything else (a model, an xyz) is named here,
    not by LAMMPS' read_data after the model has loaded."""
    if not box.is_file():
        raise UserInputError(f"box file not found: {box}")
    try:
        head = box.read_bytes()[:4096].decode()
    except UnicodeDecodeError:
        head = ""
    if not re.search(r"^\s*\d+\s+atoms\s*$", head, re.MULTILINE):
        raise UserInputError(f"--box {box}: not a LAMMPS data file (no 'N atoms' line in its header); give the unit "
                             "box the export wrote beside the model (ag_box.data)")


def main(argv=None):
    args = build_parser().parse_args(argv)
    from mpi4py import MPI

    from .science.lammps.deck import (DeckOutputs, ForceField, make_deck, protocol_by_name, single_stage_protocol,
                                       with_timed_steps)
    from .science.embedded.embedded import run_embedded
    from .science.model.export import model_cutoff

    comm = MPI.COMM_WORLD
    try:
        interface, note = check_arguments(args)
        protocol = (single_stage_protocol(args.steps) if args.steps is not None
                    else protocol_by_name(args.profile or "ats5"))
        if args.timed_steps is not None:
            protocol = with_timed_steps(protocol, args.timed_steps)
    except UserInputError as exc:
        if comm.Get_rank() == 0:
            print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if note and comm.Get_rank() == 0:
        print(note, flush=True)
    for path in (args.log, args.dump_forces):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    deck = make_deck(
        Path(args.box).resolve(), args.replicate, protocol,
        ForceField.model_fix(model_cutoff(interface)),  # LAMMPS keeps ghosts to the model's cutoff + skin
        outputs=DeckOutputs(dump_forces=str(Path(args.dump_forces).resolve()) if args.dump_forces else None),
    )
    summary = run_embedded(deck, args.model, args.log, engine_options(args), comm=comm)
    placement = comm.gather(rank_placement(summary["device"], summary["model_step"], summary["model_threads"],
                                           summary["torch_threads"]), root=0)
    timings = comm.gather({k: summary[k] for k in ("timed_calls", "timed_pair_builds", "timed_ms_per_call")}, root=0)
    if comm.Get_rank() == 0:
        write_placement(Path(args.log).with_name(PLACEMENT_FILE), placement)
        print(f"ran {protocol.name} on {summary['natoms']} atoms, {comm.Get_size()} rank(s), {summary['model_step']} "
              f"model step, pair list built {summary['pair_builds']} times on rank 0; log: {args.log}")
        report_step_profile(args.log, timings)
    return 0


def report_step_profile(log, timings):
    """engine_profile.json beside the log, and its one-line summary: where the timed stage's steps went."""
    from .science.lammps.logs import parse_log
    from .science.reporting.engine_profile import format_profile, profile_path, step_profile, write_profile

    profile = step_profile(parse_log(log), timings)
    if profile is not None:
        write_profile(profile_path(log), profile)
        print(format_profile(profile))


PLACEMENT_FILE = "placement.json"  # next to the log: where each rank ran (provenance)


def rank_placement(device: str, model_step: str, model_threads: int, torch_threads: int) -> dict:
    """Where a rank ran; model_threads: the model step's (numba's with the fused CPU step, torch's otherwise)."""
    import os
    import socket

    return {"host": socket.gethostname(), "device": device, "model_step": model_step, "model_threads": model_threads,
            "torch_threads": torch_threads,
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES", ""),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID", ""),
            "slurm_nodelist": os.environ.get("SLURM_JOB_NODELIST", "")}


def write_placement(path: Path, ranks: list):
    import json

    from .atomic_files import write_text_atomically

    write_text_atomically(path, json.dumps({"ranks": ranks}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
