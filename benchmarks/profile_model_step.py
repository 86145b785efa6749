"""Where the engine's model step spends its time on a GPU, kernel by kernel and copy by copy (issue 15).

    python benchmarks/profile_model_step.py --model hippynn_lammps_model.pt --box ag_box.data \
        --zreps 32 300 --device cuda [--repeats 300] [--variants captured compacted eager compiled]

Per size: the harness's box (2 x 2 x zrep replicas, thermal noise), its periodic images out to LAMMPS' ghost
reach (cutoff + 2 A) as ghost atoms with their owners' tags, and the engine's own objects on them: VerletPairs
(candidates to cutoff + 1 A, images folded into their atoms) and the model step variants, all measured in this
one process, interleaved:
- captured: the CUDA-graph step with every candidate through the network;
- compacted: the CUDA-graph step with the pairs within the cutoff compacted first;
- eager: the eager lean step on the pairs within the cutoff (the engine's step above 35,000 model atoms);
- compiled: the compacted graph step with the lean network compiled by torch.compile (inductor's fused
  kernels, compiled_network.py), compiled-all: every candidate through it;
- fused: the compacted graph step with the pair part in the fused Triton kernels (fused_pairs.py; the engine's
  default on a GPU), fused-all: every candidate through them, fused-eager: the eager step with them.
For each: ms per step of the whole `evaluate` (positions in, forces on the host), of the step's GPU work alone,
and of the host copies around it (positions to the device, forces back, pageable and pinned); the cost of one
candidate-list rebuild by the engine's pair finder (--compare-finders: by both, cell_list.py's cell list and
scipy's k-d tree); then the kernels of one variant (--kernels) with their GPU time per step. Ratios are within
this run only.
"""
import argparse
import sys
import time

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from harness import replicated_atoms  # noqa: E402

GHOST_REACH_BEYOND_CUTOFF = 2.0  # LAMMPS' neighbour skin: the deck keeps ghosts to cutoff + 2 A


def with_ghosts(atoms, reach):
    """(positions local then ghost, tags 1-based, nlocal): every periodic image within `reach` of the box."""
    cell = atoms.cell.array
    lengths = np.linalg.norm(cell, axis=1)
    margin = reach / lengths
    local = atoms.get_positions()
    frac = local @ np.linalg.inv(cell)
    positions, tags = [local], [np.arange(1, len(local) + 1)]
    for shift in np.ndindex(3, 3, 3):
        shift = np.array(shift) - 1
        if not shift.any():
            continue
        image = frac + shift
        keep = np.all((image > -margin) & (image < 1 + margin), axis=1)
        positions.append(image[keep] @ cell)
        tags.append(np.arange(1, len(local) + 1)[keep])
    return np.concatenate(positions), np.concatenate(tags), len(local)


def synced_ms(torch, func, repeats):
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(repeats):
        func()
    sync()
    return 1e3 * (time.perf_counter() - start) / repeats


VARIANTS = ("captured", "compacted", "eager", "compiled", "compiled-all", "fused", "fused-all", "fused-eager")
EVERY_CANDIDATE = 10**12  # compact_min_atoms that never compacts


def make_steps(exported, variants):
    from mlmd_parsl.science.embedded.captured_step import CapturedLeanStep

    eager = exported.eager_step("lean")
    lean = eager.pair_forces.lean
    fused_eager = exported.eager_step("lean")  # a LeanHipnn of its own: the fused switch is the module's
    fused = fused_eager.pair_forces.lean.use_fused_kernels()
    steps = {}
    for name in variants:
        if name in ("eager", "fused-eager"):
            steps[name] = eager if name == "eager" else fused_eager
        else:
            compact_from = EVERY_CANDIDATE if name in ("captured", "compiled-all", "fused-all") else 0
            steps[name] = CapturedLeanStep(fused if name.startswith("fused") else lean, exported.device,
                                           exported.dtype, compact_from, compile_network=name.startswith("compiled"))
    return steps


def kernel_table(torch, step, pairs, x, repeats, top=15):
    """GPU microseconds per step of each kernel (and copy), from torch.profiler over `repeats` steps."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(repeats):
            step.evaluate(pairs, x)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
    rows = []
    for event in prof.key_averages():
        device_us = getattr(event, "self_device_time_total", None)
        if device_us is None:
            device_us = getattr(event, "self_cuda_time_total", 0)
        if device_us > 0:
            rows.append((device_us / repeats, event.count / repeats, event.key))
    rows.sort(reverse=True)
    total = sum(r[0] for r in rows)
    lines = [f"    GPU time per step {total:.1f} us in {sum(r[1] for r in rows):.0f} kernels/copies; top {top}:"]
    lines += [f"    {us:9.1f} us  x{n:<5.0f} {name[:110]}" for us, n, name in rows[:top]]
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--box", required=True)
    parser.add_argument("--zreps", type=int, nargs="+", default=[32])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; each variant keeps its fastest")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--compare-finders", action="store_true",
                        help="also time a rebuild by the other pair finder (the k-d tree takes 0.65 s at 85,200 atoms)")
    parser.add_argument("--kernels", nargs="*", default=["compacted", "eager"], help="variants to profile by kernel")
    return parser.parse_args(argv)


def host_operations(torch, exported, pairs, positions, tags, nlocal, x, compare_finders) -> dict:
    """{name: function} of what a step does besides the model: copies to and from the device, the displacement
    check, and a candidate-list rebuild as VerletPairs does one (by the engine's finder, and by the other)."""
    from mlmd_parsl.science.embedded.pairs import DEFAULT_SKIN, VerletPairs

    host = {"positions to device (pageable)": lambda: torch.as_tensor(positions).to(exported.device)}
    device_forces = torch.zeros((nlocal, 3), dtype=torch.float64, device=exported.device)
    host["forces to host (pageable)"] = lambda: device_forces.cpu().numpy()
    if exported.device.type == "cuda":
        pinned = torch.empty((len(positions), 3), dtype=torch.float64).pin_memory()
        host["positions to device (pinned, incl. host copy)"] = lambda: (
            pinned.numpy().__setitem__(slice(None), positions), pinned.to(exported.device, non_blocking=True))
        pinned_forces = torch.empty((nlocal, 3), dtype=torch.float64).pin_memory()
        host["forces to host (pinned)"] = lambda: pinned_forces.copy_(device_forces, non_blocking=True)
    host["displacement check (one sync)"] = lambda: pairs._moved_too_far(x)
    built_tags = np.asarray(tags, dtype=np.int64)
    finders = [pairs]
    if compare_finders:
        finders.append(VerletPairs(exported.cutoff, DEFAULT_SKIN, exported.device,
                                   finder="kdtree" if pairs.cell_list is not None else "cell_list"))
        finders[1].update(positions, tags, nlocal)
    for finder in finders:
        name = "cell list" + (" (CUDA graph)" if finder.cell_list.graph.captured else "") \
            if finder.cell_list is not None else "k-d tree (host)"
        host[f"rebuild: {name}"] = lambda finder=finder: finder._build(positions, built_tags, nlocal, x)
    return host


def prepare_steps(exported, variants, pairs, numbers, x) -> dict:
    """Each variant's step, prepared (captured, compiled) and run once; its forces beside the eager step's."""
    steps = make_steps(exported, variants)
    for name, step in steps.items():
        start = time.perf_counter()
        step.prepare(pairs, numbers)  # captures (and compiles) here
        step.evaluate(pairs, x)
        print(f"  {name}: first step (capture, compilation) {time.perf_counter() - start:.1f} s; {step.name}",
              flush=True)
    if "eager" in steps:  # every variant's forces against the eager lean step's, same positions
        reference = steps["eager"].evaluate(pairs, x)[1]
        scale = np.abs(reference).max()
        for name, step in steps.items():
            difference = np.abs(step.evaluate(pairs, x)[1] - reference).max()
            print(f"  {name}: largest force difference from eager {difference:.3g}"
                  f" eV/A (largest force {scale:.3g})", flush=True)
    return steps


def profile_size(torch, args, exported, zrep):
    """One box: its pairs, each variant's step and the host operations timed, fastest of the interleaved rounds."""
    from mlmd_parsl.science.embedded.pairs import DEFAULT_SKIN, VerletPairs

    atoms = replicated_atoms(args.box, zrep)
    positions, tags, nlocal = with_ghosts(atoms, exported.cutoff + GHOST_REACH_BEYOND_CUTOFF)
    pairs = VerletPairs(exported.cutoff, DEFAULT_SKIN, exported.device)
    x = pairs.update(positions, tags, nlocal)
    numbers = exported.atomic_numbers(np.ones(pairs.natoms, dtype=np.int64))
    candidates = len(pairs.candidates()[0])
    within = pairs.count_within_cutoff()
    print(f"\n{nlocal} atoms, {len(positions) - nlocal} ghosts, {candidates} candidate pairs, {within} within the "
          f"cutoff ({within / nlocal:.1f} per atom)", flush=True)
    host = host_operations(torch, exported, pairs, positions, tags, nlocal, x, args.compare_finders)
    steps = prepare_steps(exported, args.variants, pairs, numbers, x)
    timed = {}
    for name, step in steps.items():
        timed[f"step: {name} (evaluate, forces on host)"] = lambda step=step: step.evaluate(pairs, x)
        if getattr(step, "graph", None) is not None and step.graph.captured:  # on a GPU: the replay alone
            timed[f"step: {name} (graph replay alone)"] = step.graph.run
    timed.update(host)
    prepared = steps.get("compiled")
    if prepared is not None:
        built_tags = np.asarray(tags, dtype=np.int64)
        timed["rebuild + prepare (compiled step)"] = lambda: (pairs._build(positions, built_tags, nlocal, x),
                                                              prepared.prepare(pairs, numbers))
    best = {}
    for _ in range(args.rounds):  # interleaved: a slow spell of the machine hits every variant alike
        for name, func in timed.items():
            ms = synced_ms(torch, func, args.repeats)
            best[name] = min(ms, best.get(name, ms))
    for name, ms in best.items():
        print(f"  {ms:8.3f} ms  {name}  ({nlocal / ms / 1e3:.3g} Matom-step/s)" if name.startswith("step")
              else f"  {ms:8.3f} ms  {name}", flush=True)
    for name in args.kernels:
        if name in steps:
            print(f"  kernels of {name}:", flush=True)
            print(kernel_table(torch, steps[name], pairs, x, min(args.repeats, 50)), flush=True)


def main(argv=None):
    args = parse_args(argv)

    import torch

    from mlmd_parsl.science.embedded.model_steps import ExportedModel
    from mlmd_parsl.science.model.export import load_exported_model

    exported = ExportedModel(load_exported_model(args.model, device=args.device), args.device, args.dtype)
    print(f"{torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu'}, torch {torch.__version__}, "
          f"{args.dtype}; ms per step, fastest of {args.rounds} rounds of {args.repeats} steps", flush=True)
    for zrep in args.zreps:
        profile_size(torch, args, exported, zrep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
