"""The lean model step on a CPU: torch's operations against the fused numba step, beside this CPU's float32 floor
(issue 41).

    python benchmarks/cpu_model_step.py --model hippynn_lammps_model.pt --box ag_box.data \
        --zreps 2 8 16 64 --threads 1 2 [--repeats 20] [--rounds 3]

Per size: the harness's box (2 x 2 x zrep replicas with thermal noise), its pairs within the cutoff (ASE), and the
step the engines call, LeanHipnn.energy_and_pair_forces (energy and pair forces; no virial, no force assembly),
timed with torch's operations and with the fused kernel, interleaved, each keeping its fastest round, per thread
count. The floor: the step's float32 flops (counted below) at this CPU's measured float32 rate (a large matrix
product on the same threads), and the same flops at the fused kernel's achieved rate. Forces are compared first:
the benchmark refuses to time a kernel that disagrees with the torch step beyond float32 round-off.
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import replicated_atoms  # noqa: E402


def step_flops(lean, pairs_inside, atoms) -> float:
    """Float32 operations of one step, forward and backward, counting a multiply-add as 2 and exp, cos, sin, sqrt,
    log1p as 1 each (what the fused kernel does; torch's step does the same arithmetic in more passes)."""
    k, f = lean.n_dist, lean.nf_out
    h, layers = lean.int_res.out_features, len(lean.atom_layers)
    pair_forward = 20 + k * (4 + 2 * f) + 9 * 2 * f + 8  # distance, cos/sin, sensitivities, radial, sums, angular
    pair_backward = 9 * 4 * f + k * (2 * f + 8) + 30  # g_radial and am, g_dist, the force's 3 components
    atom = 2 * (f * 30 + 2 * h * f + layers * 2 * 2 * h * h) + 2 * (2 * h * f + layers * 2 * 2 * h * h)
    return pairs_inside * (pair_forward + pair_backward) + atoms * atom


def float32_rate(threads, size=2048, repeats=5) -> float:
    """This CPU's float32 flop/s on `threads` threads: the best of a few large matrix products (the machine's
    reachable rate: vector FMA units fed from cache)."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 / best


def periodic_pairs(atoms, cutoff):
    import torch
    from ase.neighborlist import neighbor_list

    i, j, shifts = neighbor_list("ijS", atoms, cutoff)
    positions = atoms.get_positions()
    coord = positions[i] - (positions[j] + shifts @ atoms.cell.array)
    return torch.as_tensor(i), torch.as_tensor(j), torch.as_tensor(coord)


def timed_ms(step, repeats) -> float:
    step()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats * 1e3


def measure_size(lean, atoms, threads, repeats, rounds, dtype):
    import torch

    i, j, coord = periodic_pairs(atoms, lean.hard_max)
    coord = coord.to(dtype)
    z = torch.full((len(atoms),), 47)
    weight = torch.ones(len(atoms), dtype=dtype)
    _, ref = lean.use_cpu_kernels(False).energy_and_pair_forces(z, i, j, coord, weight)
    _, fused = lean.use_cpu_kernels().energy_and_pair_forces(z, i, j, coord, weight)
    error = float((fused - ref).abs().max() / ref.abs().max())
    if error > 1e-4:
        sys.exit(f"cpu_model_step: the fused step's forces differ from torch's by {error:.2e} (relative): not timed")
    row = {"atoms": len(atoms), "pairs": len(i), "threads": threads, "relative_force_error": error}
    row["torch_ms"] = row["fused_ms"] = float("inf")
    torch.set_num_threads(threads)
    for _ in range(rounds):
        for name, on in (("torch_ms", False), ("fused_ms", True)):
            lean.use_cpu_kernels(on)
            row[name] = min(row[name], timed_ms(lambda: lean.energy_and_pair_forces(z, i, j, coord, weight), repeats))
    row["flops"] = step_flops(lean, len(i), len(atoms))
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--box", required=True)
    parser.add_argument("--zreps", type=int, nargs="+", default=[2, 8, 16, 64])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--out", default="benchmark_cpu_model_step.json")
    args = parser.parse_args(argv)
    import torch

    from mlmd_parsl.science.model.export import load_exported_model
    from mlmd_parsl.science.model.lean_hipnn import LeanHipnn

    dtype = getattr(torch, args.dtype)
    lean = LeanHipnn.from_graph(load_exported_model(args.model).graph.to(dtype))
    rates = {threads: float32_rate(threads) for threads in args.threads}
    print("float32 matrix-product rate: " + ", ".join(f"{t} thread(s) {r / 1e9:.1f} Gflop/s" for t, r in rates.items()))
    print(f"{'atoms':>7} {'pairs':>8} {'thr':>3} {'torch ms':>9} {'fused ms':>9} {'fused/torch':>11} "
          f"{'Katom-step/s':>12} {'Gflop/s':>8} {'floor ms':>9} {'x floor':>7} {'force err':>9}")
    rows = []
    for zrep in args.zreps:
        atoms = replicated_atoms(args.box, zrep)
        for threads in args.threads:
            row = measure_size(lean, atoms, threads, args.repeats, args.rounds, dtype)
            row["speedup"] = row["torch_ms"] / row["fused_ms"]
            row["fused_gflops"] = row["flops"] / row["fused_ms"] / 1e6
            row["floor_ms"] = row["flops"] / rates[threads] * 1e3
            rows.append(row)
            print(f"{row['atoms']:>7} {row['pairs']:>8} {threads:>3} {row['torch_ms']:>9.2f} {row['fused_ms']:>9.2f} "
                  f"{row['speedup']:>11.2f} {row['atoms'] / row['fused_ms']:>12.1f} {row['fused_gflops']:>8.2f} "
                  f"{row['floor_ms']:>9.3f} {row['fused_ms'] / row['floor_ms']:>7.1f} "
                  f"{row['relative_force_error']:>9.1e}", flush=True)
    Path(args.out).write_text(json.dumps({"float32_rate": rates, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
