"""Does the campaign measure the work, or its own orchestration? Its figures side by side with the same work run
alone, in one run of this script, plus Parsl's own cost per task.

    python benchmarks/campaign_vs_standalone.py --site local --repeat 2 --out /tmp/cvs
    python benchmarks/campaign_vs_standalone.py --site local --run runs/local-20261202-190218   # an earlier run

Each repeat runs the real CLI (`python -m mlmd_parsl --site ...`, validation off, a fresh runs folder so that
the synthetic dataset is made inside the campaign, as on a fresh clone), then the same work alone:
- training: `train()` of the run's training_summary.json (same data file, spec and torch threads) in a fresh
  process;
- each MD case: the campaign's own command (case_plan.plan_case) with the launcher Parsl's MPIExecutor would put
  in $PARSL_MPI_PREFIX (dry_run.mpi_prefix), in a fresh folder, on the campaign's exported model.
`--run RUN` skips the campaign and reproduces RUN alone (its site and --set must be the ones RUN was made with).
Then Parsl's cost per task: trivial tasks through the site's own Parsl config, against the same command alone.
Prints medians (and the spread over repeats); writes campaign_vs_standalone.json to --out.
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from mlmd_parsl.config import load_site_config
from mlmd_parsl.divisions import division_sites
from mlmd_parsl.orchestration.case_plan import plan_case
from mlmd_parsl.orchestration.cases import mpi_resources
from mlmd_parsl.orchestration.md_backends import backend_for
from mlmd_parsl.orchestration.sweeps import md_cases
from mlmd_parsl.orchestration.dry_run import mpi_prefix
from mlmd_parsl.orchestration.rundir import division_dir, train_dir
from mlmd_parsl.science.lammps.logs import parse_log
from mlmd_parsl.science.lammps.runtime import venv_environment
from mlmd_parsl.science.reporting.results import read_results

STANDALONE_TRAINING = """
import json, sys
from mlmd_parsl.science.model.training import TrainingSpec, train
summary, out = json.loads(sys.argv[1]), sys.argv[2]
result = train(summary["dataset"], out, TrainingSpec(**summary["spec"]), summary["dataset_label"],
               threads=summary["threads"])
print(json.dumps({"epoch_time_s": result.epoch_time_s, "epochs": result.epochs, "threads": result.threads}))
"""


def run_campaign(args, out: Path, repeat: int) -> Path:
    runs = out / f"campaign-{repeat}"
    cmd = [sys.executable, "-m", "mlmd_parsl", "--site", args.site, "--set", f"runs_dir={runs}",
           "--set", "validation.enabled=false", *sum((["--set", s] for s in args.set), [])]
    print(f"campaign {repeat}: {shlex.join(cmd)}", flush=True)
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True)
    (out / f"campaign-{repeat}.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        sys.exit(f"campaign {repeat} failed (exit {result.returncode}): see {out}/campaign-{repeat}.log")
    (run_dir,) = [p.parent for p in runs.glob("*/manifest.json")]
    print(f"campaign {repeat}: {time.perf_counter() - start:.0f} s, {run_dir}", flush=True)
    return run_dir


def campaign_figures(run_dir: Path) -> dict:
    figures = {}
    for row in read_results(run_dir / "results.csv"):
        if row["status"] != "ok":
            sys.exit(f"{run_dir}: {row['task']} is {row['status']}: only complete runs can be compared")
        figures[f"{row['division']}/{row['task']}"] = float(row["epoch_time_s"] if row["kind"] == "training"
                                                            else row["katom_step_s"])
    return figures


def standalone_figures(site, run_dir: Path, out: Path) -> dict:
    """Each division's training and every MD case of the run again, each alone in a fresh process."""
    figures = {}
    for division in division_sites(site):
        figures.update(standalone_division(division, division_dir(run_dir, division.division),
                                           division_dir(out, division.division)))
    return figures


def standalone_division(site, run_dir: Path, out: Path) -> dict:
    summary = json.loads((train_dir(run_dir) / "training_summary.json").read_text())
    result = subprocess.run([sys.executable, "-c", STANDALONE_TRAINING, json.dumps(summary), str(out / "training")],
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"standalone training failed: {result.stderr[-2000:]}")
    trained = json.loads(result.stdout.strip().splitlines()[-1])
    if trained["epochs"] != summary["epochs"]:
        print(f"note: standalone training ran {trained['epochs']} epochs, the campaign's {summary['epochs']}")
    figures = {f"{site.division}/train": trained["epoch_time_s"]}
    print(f"  standalone training: {trained['epoch_time_s']:.4f} s/epoch ({trained['threads']} threads)", flush=True)
    train_dir(out).symlink_to(train_dir(run_dir).resolve(), target_is_directory=True)  # the campaign's export
    for case in md_cases(site, out):
        case.dir.mkdir(parents=True, exist_ok=True)
        backend_for(case.engine).prepare(case)
        command = plan_case(site, case).command
        command = command.replace("$PARSL_MPI_PREFIX", mpi_prefix(site, mpi_resources(site, case.ranks)))
        done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=venv_environment())
        parsed = parse_log(case.log)
        if done.returncode != 0 or parsed.status != "ok":
            sys.exit(f"standalone {case.task} failed (exit {done.returncode}): {command}\n{done.stderr[-2000:]}")
        figures[f"{site.division}/{case.task}"] = parsed.katom_step_s
        print(f"  standalone {site.division}/{case.task}: {parsed.katom_step_s:.2f} Katom-step/s", flush=True)
    return figures


def parsl_task_cost(site, out: Path, tasks: int, md_pairs: int = 0, run_dir: Path = None) -> dict:
    """Seconds Parsl adds to one task: a trivial MPI task (1 and 2 ranks) and a trivial python task, each
    submitted one at a time through the site's Parsl config, against the same command alone. With md_pairs,
    also each MD case of run_dir through the MPI executor and by hand, alternately, md_pairs times: the campaign
    and standalone columns above come from runs minutes apart on a shared machine, these from runs seconds apart."""
    from parsl import bash_app, python_app
    from parsl.dataflow.dflow import DataFlowKernel

    from mlmd_parsl.orchestration.sites import parsl_config_for

    def alone(command):
        start = time.perf_counter()
        subprocess.run(["bash", "-c", command], check=True, capture_output=True, env=venv_environment())
        return time.perf_counter() - start

    def mpi_true(stdout=None, stderr=None, parsl_resource_specification=None):
        return "$PARSL_MPI_PREFIX true"

    def nothing():
        return None

    parsl_dir = out / "parsl-cost"
    parsl_dir.mkdir(parents=True, exist_ok=True)
    dfk = DataFlowKernel(parsl_config_for(site, parsl_dir))
    try:
        mpi_app = bash_app(mpi_true, data_flow_kernel=dfk, executors=["mpi"])
        py_app = python_app(nothing, data_flow_kernel=dfk, executors=["cpu"])
        py_app().result()  # the worker pools are up before anything is timed
        mpi_app(parsl_resource_specification=mpi_resources(site, 1)).result()
        cost = {}
        for ranks in sorted({1, min(2, site.provider.cores_per_node)}):
            resources = mpi_resources(site, ranks)
            through_parsl, by_hand = [], []
            for _ in range(tasks):
                start = time.perf_counter()
                mpi_app(parsl_resource_specification=resources).result()
                through_parsl.append(time.perf_counter() - start)
                by_hand.append(alone(f"{mpi_prefix(site, resources)} true"))
            cost[f"mpi_task_{ranks}_ranks"] = {"parsl_s": statistics.median(through_parsl),
                                               "alone_s": statistics.median(by_hand)}
        through_parsl = []
        for _ in range(tasks):
            start = time.perf_counter()
            py_app().result()
            through_parsl.append(time.perf_counter() - start)
        cost["python_task"] = {"parsl_s": statistics.median(through_parsl), "alone_s": 0.0}
        md_ab = {}
        for division in division_sites(site) if md_pairs else []:
            md_ab.update(interleaved_md(division, division_dir(run_dir, division.division),
                                        division_dir(out / "interleaved", division.division), md_pairs, bash_app, dfk))
    finally:
        dfk.cleanup()
    for value in cost.values():
        value["overhead_s"] = value["parsl_s"] - value["alone_s"]
    return cost, md_ab


def interleaved_md(site, run_dir: Path, out: Path, pairs: int, bash_app, dfk) -> dict:
    """{task: {"parsl": [Katom-step/s], "alone": [...]}}: each MD case of run_dir's sweep, its own command
    through the MPI executor, then alone, `pairs` times."""
    def md_task(command, stdout=None, stderr=None, parsl_resource_specification=None):
        return command

    app = bash_app(md_task, data_flow_kernel=dfk, executors=["mpi"])
    train_dir(out).parent.mkdir(parents=True, exist_ok=True)
    train_dir(out).symlink_to(train_dir(run_dir).resolve(), target_is_directory=True)
    results = {}
    for case in md_cases(site, out):
        case.dir.mkdir(parents=True, exist_ok=True)
        backend_for(case.engine).prepare(case)
        command = plan_case(site, case).command
        resources = mpi_resources(site, case.ranks)
        name = f"{site.division}/{case.task}"
        results[name] = {"parsl": [], "alone": []}
        for _ in range(pairs):
            app(command, stdout=str(case.stdout), stderr=str(case.stderr),
                parsl_resource_specification=resources).result()
            results[name]["parsl"].append(parse_log(case.log).katom_step_s)
            subprocess.run(["bash", "-c", command.replace("$PARSL_MPI_PREFIX", mpi_prefix(site, resources))],
                           check=True, capture_output=True, env=venv_environment())
            results[name]["alone"].append(parse_log(case.log).katom_step_s)
        print(f"  interleaved {name}: through Parsl {results[name]['parsl']}, alone {results[name]['alone']}",
              flush=True)
    return results




def median_and_spread(values):
    return statistics.median(values), (max(values) - min(values)) if len(values) > 1 else 0.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", default="local")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="as the CLI's --set")
    parser.add_argument("--run", help="an earlier run to reproduce alone, instead of running campaigns")
    parser.add_argument("--repeat", type=int, default=1, help="campaign + standalone pairs, interleaved")
    parser.add_argument("--parsl-tasks", type=int, default=10, help="trivial tasks per kind for Parsl's cost")
    parser.add_argument("--interleaved-md", type=int, default=3, metavar="PAIRS",
                        help="each MD case through Parsl and alone, alternately, this many times (0: skip)")
    parser.add_argument("--interleaved-only", action="store_true",
                        help="with --run: only Parsl's cost and the interleaved MD cases")
    parser.add_argument("--out", default="/tmp/campaign_vs_standalone")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    site = load_site_config(args.site, args.set)
    if args.run:
        manifest = json.loads((Path(args.run) / "manifest.json").read_text())
        if json.loads(json.dumps(asdict(site), default=str))["md"] != manifest["site"]["md"]:
            sys.exit(f"--run {args.run} was made with other md settings than --site {args.site} {args.set}")

    campaign, standalone = [], []
    run_dir = Path(args.run) if args.run else None
    for repeat in range(0 if args.interleaved_only else 1 if args.run else args.repeat):
        run_dir = Path(args.run) if args.run else run_campaign(args, out, repeat)
        campaign.append(campaign_figures(run_dir))
        standalone.append(standalone_figures(site, run_dir, out / f"standalone-{repeat}"))
    cost, md_ab = parsl_task_cost(site, out, args.parsl_tasks, args.interleaved_md, run_dir)

    rows = []
    for task in (campaign[0] if campaign else []):
        c, c_spread = median_and_spread([f[task] for f in campaign])
        s, s_spread = median_and_spread([f[task] for f in standalone])
        # campaign/standalone as a speed: < 1 means the campaign measured the work slower than it runs alone
        speed = s / c if task.endswith("/train") else c / s
        rows.append({"task": task, "unit": "s/epoch" if task.endswith("/train") else "Katom-step/s", "campaign": c,
                     "campaign_spread": c_spread, "standalone": s, "standalone_spread": s_spread,
                     "campaign_speed_over_standalone": speed})
    print(f"\n{'figure':<14}{'unit':>14}{'campaign':>12}{'spread':>9}{'standalone':>12}{'spread':>9}"
          f"{'campaign speed / standalone':>30}")
    for r in rows:
        print(f"{r['task']:<14}{r['unit']:>14}{r['campaign']:>12.4g}{r['campaign_spread']:>9.3g}"
              f"{r['standalone']:>12.4g}{r['standalone_spread']:>9.3g}{r['campaign_speed_over_standalone']:>30.3f}")
    print(f"\nParsl's cost per task (median of {args.parsl_tasks}, one at a time):")
    for name, value in cost.items():
        print(f"  {name:<18} through Parsl {value['parsl_s']:.3f} s, alone {value['alone_s']:.3f} s: "
              f"overhead {value['overhead_s']:.3f} s")
    if md_ab:
        print(f"\nMD cases through Parsl's MPI executor and alone, alternately ({args.interleaved_md} pairs, medians):")
        for task, values in md_ab.items():
            p, a = statistics.median(values["parsl"]), statistics.median(values["alone"])
            print(f"  {task:<12} through Parsl {p:8.2f}, alone {a:8.2f} Katom-step/s: ratio {p / a:.3f}")
    result = {"site": args.site, "set": args.set, "run": args.run, "repeat": len(campaign), "figures": rows,
              "parsl_task_cost": cost, "interleaved_md": md_ab, "host": os.uname().nodename, "cpus": os.cpu_count()}
    (out / "campaign_vs_standalone.json").write_text(json.dumps(result, indent=2))
    print(f"\nwritten: {out / 'campaign_vs_standalone.json'}")


if __name__ == "__main__":
    main()
