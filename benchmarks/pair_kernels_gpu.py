"""The lean export's step inside the seed's engine, alone on one GPU, against its floor (issue 38).

    python benchmarks/pair_kernels_gpu.py --model hippynn_lammps_model.pt --box ag_box.data --zreps 300 3600

Per size (the harness's box, 2 x 2 x zrep replicas with thermal noise; periodic pairs within the cutoff, sorted by
atom i as ML-IAP hands them over):
- the pair kernels alone, forward and forward + backward: the shipped kernels (fused_pairs.py: blocks of pairs,
  sensitivities one at a time, atomics onto atom i) beside kernels that own a block of atoms and sum their pairs
  in registers without atomics (pair_kernels_per_atom.py), in several layouts;
- the whole step as ML-IAP calls it (CapturedMLIAPStep.compute_forces on device arrays: copies in, the captured
  graph, per-atom energies and float64 pair forces out, its device sync and its one host sync), ms per step,
  and its kernels by GPU time at the first size;
- the step's floor: flops per pair (counted from the kernels) over this card's measured float32 rate (a large
  matrix product, TF32 off) and bytes per pair that must move over its measured copy bandwidth;
- the step's pair forces against the eager lean step's (torch arithmetic) on the same configuration.
Prints one table; ratios are within this run only.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import replicated_atoms  # noqa: E402
from profile_model_step import synced_ms  # noqa: E402

# Counted from fused_pairs.py per pair within the cutoff: forward ~500 flops (geometry ~40, per sensitivity ~6 and an
# exp plus an 8-wide multiply-add, the 9 x 8 angular multiply-adds), backward ~950 (the 9 x 8 gradient of the
# radial sums, per sensitivity an exp, two 8-wide multiply-adds and ~10 more, 8 x 8 angular sums); exp as 1.
FLOPS_PER_PAIR = 1450
# What must cross memory per pair in the step: rij (24 B) and pair_i (4 B) read, one float64 force (24 B) written.
BYTES_PER_PAIR = 52
LAYOUTS = ((32, 8), (64, 4), (8, 32))  # atoms per program x pairs per chunk of the per-atom kernels, beside 16 x 16


def sorted_pairs(atoms, cutoff):
    """(pair_i int32, pair_j int32, rij = x_j - x_i float64) of every ordered pair within the cutoff (minimum
    image, orthorhombic box), sorted by i."""
    from scipy.spatial import cKDTree

    lengths = np.diag(atoms.cell.array)
    positions = atoms.get_positions() % lengths
    i, j = cKDTree(positions, boxsize=lengths).query_pairs(cutoff, output_type="ndarray").T
    i, j = np.concatenate([i, j]), np.concatenate([j, i])
    order = np.argsort(i, kind="stable")
    i, j = i[order], j[order]
    rij = positions[j] - positions[i]
    rij -= lengths * np.round(rij / lengths)
    return i.astype(np.int32), j.astype(np.int32), rij


class DeviceMLIAPData:
    """What ML-IAP's KOKKOS coupling hands compute_forces, as torch tensors on the GPU (they carry the CUDA array
    interface as Kokkos views do)."""

    def __init__(self, torch, nlocal, pair_i, pair_j, rij, device):
        self.nlistatoms, self.npairs = nlocal, len(pair_i)
        self.pair_i = torch.as_tensor(pair_i, device=device)
        self.pair_j = torch.as_tensor(pair_j, device=device)
        self.rij = torch.as_tensor(rij, device=device)
        self.elems = torch.zeros(nlocal, dtype=torch.int32, device=device)
        self.eatoms = torch.zeros(nlocal, dtype=torch.float64, device=device)
        self.energy = self.pair_forces = None

    def update_pair_forces_gpu(self, forces):
        self.pair_forces = forces


def measured_rates(torch, device):
    """(float32 flop/s of an 8192^2 matrix product, TF32 off; bytes/s of a 1 GiB device copy, read + write); on a
    CPU (a check of this script under Triton's interpreter) 1024^2 and 64 MiB."""
    torch.backends.cuda.matmul.allow_tf32 = False
    n, copied = (8192, 2**28) if device == "cuda" else (1024, 2**24)
    a = torch.randn(n, n, device=device)
    ms = timed_ms(torch, lambda: a @ a, 20)
    flops = 2 * n**3 / (ms * 1e-3)
    src = torch.empty(copied, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    ms = timed_ms(torch, lambda: dst.copy_(src), 20)
    return flops, 2 * src.numel() * 4 / (ms * 1e-3)


def timed_ms(torch, func, repeats):
    func()  # compiles, captures, allocates: not timed
    return synced_ms(torch, func, repeats)


def kernel_ms(torch, sums, weights, pair_i, coord, natoms, repeats):
    """(forward ms, forward + backward ms) of `sums` (a fused_pair_sums) on these pairs."""
    forward = timed_ms(torch, lambda: sums(weights, pair_i, coord, natoms, torch.float32), repeats)
    x = coord.detach().requires_grad_(True)

    def both():
        out = sums(weights, pair_i, x, natoms, torch.float32)
        torch.autograd.grad(out, x, grad_outputs=torch.ones_like(out))

    return forward, timed_ms(torch, both, repeats)


def kernel_table(torch, func, repeats, top=12):
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(repeats):
            func()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
    rows = sorted(((e.self_device_time_total / repeats, e.count / repeats, e.key) for e in prof.key_averages()
                   if e.self_device_time_total > 0), reverse=True)
    lines = [f"    GPU time per step {sum(r[0] for r in rows):.1f} us in {sum(r[1] for r in rows):.0f} kernels/copies:"]
    return "\n".join(lines + [f"    {us:9.1f} us  x{n:<4.0f} {name[:100]}" for us, n, name in rows[:top]])


def measure_size(torch, interface, atoms, device, repeats, profile):
    import pair_kernels_per_atom as per_atom

    from mlmd_parsl.science.gpu import fused_pairs
    from mlmd_parsl.science.model.lean_hipnn import LeanHipnn
    from mlmd_parsl.science.model.lean_mliap import LeanMLIAPModel, array_device
    from mlmd_parsl.science.gpu.lean_mliap_step import CapturedMLIAPStep

    export = LeanMLIAPModel.from_interface(interface, device)
    pair_i, pair_j, rij = sorted_pairs(atoms, 2.0 * float(interface.rcutfac))  # ML-IAP's pair cutoff
    data = DeviceMLIAPData(torch, len(atoms), pair_i, pair_j, rij, device)
    device = array_device(data.elems, "cpu")  # as the export chooses it
    lean = export.lean.to(device)
    pi, coord = data.pair_i.long(), (-data.rij).float()
    new = kernel_ms(torch, fused_pairs.fused_pair_sums, fused_pairs.FusedPairWeights(lean), pi, coord, len(atoms),
                    repeats)
    old = kernel_ms(torch, per_atom.fused_pair_sums, per_atom.FusedPairWeights(lean, pairs_sorted=True), pi, coord,
                    len(atoms), repeats)
    layouts = {}
    for atoms_per_program, chunk in LAYOUTS:  # other blocks of the per-atom kernels
        default = per_atom.ATOMS_PER_PROGRAM, per_atom.PAIRS_PER_CHUNK
        per_atom.ATOMS_PER_PROGRAM, per_atom.PAIRS_PER_CHUNK = atoms_per_program, chunk
        try:
            layouts[f"{atoms_per_program}x{chunk}"] = kernel_ms(
                torch, per_atom.fused_pair_sums, per_atom.FusedPairWeights(lean, pairs_sorted=True), pi, coord,
                len(atoms), repeats)
        finally:
            per_atom.ATOMS_PER_PROGRAM, per_atom.PAIRS_PER_CHUNK = default
    step = CapturedMLIAPStep(lean.use_fused_kernels(), export.species_set.to(device), device, export.dtype)
    step_ms = timed_ms(torch, lambda: step.compute_forces(data), repeats)
    reference = LeanHipnn.from_graph(interface.graph).to(device)
    z, weight = torch.full((len(atoms),), 47, device=device), torch.ones(len(atoms), device=device)
    _, ref_forces = reference.energy_and_pair_forces(z, pi, data.pair_j.long(), coord, weight)
    error = float((data.pair_forces - ref_forces).abs().max() / ref_forces.abs().max())
    table = kernel_table(torch, lambda: step.compute_forces(data), 50) if profile and device.type == "cuda" else ""
    return {"atoms": len(atoms), "pairs": len(pair_i), "new": new, "old": old, "layouts": layouts, "step_ms": step_ms,
            "force_error": error, "captures": step.captures, "table": table}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="hippynn_lammps_model.pt exported for cuda")
    parser.add_argument("--box", required=True)
    parser.add_argument("--zreps", type=int, nargs="+", default=[300, 3600])
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--device", default="cuda", help="cpu: a check of this script (TRITON_INTERPRET=1, --zreps 1)")
    args = parser.parse_args(argv)
    import torch

    from mlmd_parsl.science.model.export import load_exported_model

    interface = load_exported_model(args.model, device=args.device)
    flops, bandwidth = measured_rates(torch, args.device)
    name = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    print(f"{name}: float32 {flops / 1e12:.1f} TFLOP/s (matrix product, TF32 off), "
          f"copy {bandwidth / 1e12:.2f} TB/s; counted per pair: {FLOPS_PER_PAIR} flops, {BYTES_PER_PAIR} bytes")
    rows = [measure_size(torch, interface, replicated_atoms(args.box, z), args.device, args.repeats, n == 0)
            for n, z in enumerate(args.zreps)]
    print("| atoms | pairs | kernels fwd / fwd+bwd ms (shipped: atomics) | per atom 16x16, no atomics | step ms | "
          "floor ms | step / floor | Matom-step/s (step alone) | max force error / max force |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        floor = 1e3 * max(r["pairs"] * FLOPS_PER_PAIR / flops, r["pairs"] * BYTES_PER_PAIR / bandwidth)
        print(f"| {r['atoms']:,} | {r['pairs']:,} | {r['new'][0]:.3f} / {r['new'][1]:.3f} | {r['old'][0]:.3f} / "
              f"{r['old'][1]:.3f} | {r['step_ms']:.3f} | {floor:.4f} | {r['step_ms'] / floor:.0f} | "
              f"{r['atoms'] / r['step_ms'] / 1e3:.1f} | {r['force_error']:.1e} |")
    for r in rows:
        print(f"{r['atoms']:,} atoms: {r['captures']} capture(s); other "
              "layouts of the per-atom kernels, fwd / fwd+bwd ms: "
              + "; ".join(f"{name} {ms[0]:.3f} / {ms[1]:.3f}" for name, ms in r["layouts"].items()))
        if r["table"]:
            print(r["table"])


if __name__ == "__main__":
    main()
