"""python -m mlmd_parsl --site NAME: the whole benchmark on a site, orchestrated by Parsl."""
import contextlib
import os
import signal
import sys
from pathlib import Path

from .arguments import ArgumentParser
from .errors import MlmdError, UserInputError


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (a closed terminal or ssh session), handled like Ctrl-C: Parsl and its workers are shut
    down, finished tasks kept."""

    def __init__(self, signum=signal.SIGTERM):
        super().__init__()
        self.signum = signum


def _raise_terminated(signum, frame):
    # a second signal while Parsl shuts down ends the driver at once (cleanup_within ends its processes)
    for again in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(again, _exit_now)
    raise Terminated(signum)


def _exit_now(signum, frame):
    from .orchestration.shutdown import end_descendants

    end_descendants()
    os._exit(128 + signum)


# python -m mlmd_parsl COMMAND ...: {command: (module, what it does)}; without a command it runs the benchmark
COMMANDS = {
    "fetch-data": ("mlmd_parsl.fetch_data", "download the seed's real dataset (Ag_warm_nospin.xyz) and verify it"),
    "runs": ("mlmd_parsl.commands.runs", "list the runs: site, start, status, figures of merit, physics"),
    "compare": ("mlmd_parsl.commands.compare", "two runs side by side, like-for-like rows only"),
    "archive": ("mlmd_parsl.commands.archive", "one run folder as a .tar.gz with relative paths"),
}


def version_text() -> str:
    from importlib import metadata

    from .orchestration.code_digest import git_state

    try:
        version = metadata.version("mlmd_parsl")
    except metadata.PackageNotFoundError:
        version = "(not installed)"
    state = git_state()
    code = (f"commit {state['commit'][:12]}{' with uncommitted changes' if state['dirty'] else ''}"
            if state["commit"] else "not a git checkout")
    return f"mlmd_parsl {version} ({code}; {state['package_dir']})"


def build_parser():
    commands = "; ".join(f"{name}: {what}" for name, (_, what) in COMMANDS.items())
    parser = ArgumentParser(
        prog="python -m mlmd_parsl",
        description="Run the ATS-5 MLMD benchmark (HIPNN training + LAMMPS MD for Ag) on a site.",
        epilog=f"other commands (python -m mlmd_parsl COMMAND --help, or mlmd-parsl COMMAND): {commands}",
    )
    parser.add_argument("--version", action="store_true", help="print the version, commit and checkout, and exit")
    parser.add_argument("--site", required=True, help="site name (site_configs/NAME.yaml) or a path to a .yaml file")
    parser.add_argument("--dry-run", action="store_true",
                        help="print every task's resources and exact command (and the sbatch script); submit nothing")
    parser.add_argument("--resume", metavar="RUN",
                        help="continue run directory RUN (a path, or a name under the runs folder): "
                             "tasks whose inputs are unchanged and outputs complete are reused")
    parser.add_argument("--baseline", metavar="RUN",
                        help="compare with this earlier run only (a path, or a name under the runs folder); default: "
                             "every earlier run of the site, like-for-like rows only "
                             "(same as --set report.baseline=RUN)")
    parser.add_argument("--profile", choices=["ats5", "quick"], help="MD step profile (same as --set md.profile=...)")
    parser.add_argument("--only", choices=["training", "md"],
                        help="one part of the benchmark, as the seed's separate scripts: the training (with its export "
                             "and validation), or the MD cases of an export made elsewhere (--model, --box)")
    parser.add_argument("--model", metavar="EXPORT",
                        help="with --only md: hippynn_lammps_model.pt (hippynn's MLIAPInterface) made elsewhere")
    parser.add_argument("--box", metavar="DATA", help="with --only md: its unit box, a LAMMPS data file (ag_box.data)")
    parser.add_argument("--progress-every", type=float, default=60.0, metavar="SECONDS",
                        help="while no task finishes, print a status line this often (default 60)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a site config value, e.g. --set md.zreps=[2,4] (repeatable)",
    )
    return parser


def check_dataset(site):
    """The set a run trains on, checked (its MD5 too) by a real run and a dry run alike."""
    from .science.model.dataset import expected_md5, validate_dataset

    if site.dataset.path:
        validate_dataset(site.dataset.path, expected_md5(site.dataset.path, site.dataset.md5))


def preflight(site, parts):
    """Checks that need no Parsl: fail here, before any worker starts."""
    from .divisions import division_sites
    from .orchestration.md_backends import backend_for

    if parts.training:
        check_dataset(site)
    else:
        check_adopted_export(parts)
    if parts.md:
        for division in division_sites(site):
            backend_for(division.md.engine).check_before_run(division)
    if site.provider.kind == "slurm":
        from .orchestration.sites import listen_address

        listen_address(site.provider.interface)


def chosen_parts(args):
    """--only, --model and --box as the parts to run; one error line for a combination that cannot work."""
    from .orchestration.builder import Parts

    if (args.model or args.box) and args.only != "md":
        raise UserInputError("--model and --box go with --only md: the MD cases of an export made elsewhere")
    if args.only == "md":
        if not (args.model and args.box):
            raise UserInputError("--only md runs the MD cases of an export made elsewhere: give --model "
                                 "hippynn_lammps_model.pt and --box ag_box.data "
                                 "(an earlier run's RUN/<division>/train/)")
        if args.resume:
            raise UserInputError("--only md and --resume do not go together: resume the run that made the MD cases")
        return Parts(training=False, model=str(Path(args.model).resolve()), box=str(Path(args.box).resolve()))
    return Parts(md=args.only != "training")


def check_adopted_export(parts):
    """An export made elsewhere must load as hippynn's MLIAPInterface for Ag, and its box be a LAMMPS data file."""
    from .errors import ModelError
    from .md import check_box_file
    from .science.model.export import conversion_note, load_exported_model_noting

    try:
        changes = load_exported_model_noting(parts.model)[1]
    except ModelError as exc:
        raise UserInputError(f"--model: {exc}") from None
    check_box_file(Path(parts.box))
    if changes:
        print(conversion_note(parts.model, changes) + "; the run's train/ folder holds the converted file", flush=True)


def print_summary(collected, run_dir, out=print):
    from .science.choices import Verdict
    from .science.reporting.results import by_division
    from .science.seed_procedure import DEVIATION_SEPARATOR
    from .science.validation.accuracy import gate_sentence_of_row
    from .science.validation.verdict import verdict_sentence

    rows = collected["rows"]
    for train in (r for r in rows if r.get("kind") == "training"):
        out("")
        out(f"[{train['division']}] " + (training_line(train) if train["status"] == "ok"
                                         else f"Training FAILED: {train.get('error')}"))
        if train["status"] == "ok":
            out(f"[{train['division']}] {gate_sentence_of_row(train)}")
    out("")
    out(f"{'division':<10}{'case':<14}{'atoms':>10}{'ranks':>7}{'Katom-step/s':>15}  status")
    for row in (r for r in rows if r.get("kind") == "md"):
        physics = "  UNPHYSICAL" if row.get("physics") == Verdict.UNPHYSICAL else ""
        out(f"{row['division']:<10}{row['task']:<14}{format(row['atoms'], ',') if row.get('atoms') else '':>10}"
            f"{str(row.get('ranks') or ''):>7}"
            f"{'-' if row.get('katom_step_s') is None else format(row['katom_step_s'], '.4f'):>15}"
            f"  {row['status']}{physics}")
    out("")
    divisions = by_division(rows)
    for division, members in divisions.items():
        unphysical = members[0].get("physics") == Verdict.UNPHYSICAL
        out(f"[{division}] {verdict_sentence(members[0])}"
            + (f" Details: {division}/validation/validation.md." if unphysical else ""))
        # each named once: rows of one division may differ (cases of several ranks are presized, one rank's not)
        deviations = dict.fromkeys(d for r in members for d in (r.get("deviations") or "").split(DEVIATION_SEPARATOR)
                                   if d)
        out(f"[{division}] differs from the seed's work in: " + (DEVIATION_SEPARATOR.join(deviations) or "nothing"))
    if len(divisions) > 1:
        out("The divisions are never set beside each other; report.md sets the seed division's rows beside the "
            "seed's published numbers, where the case is the same kind.")
    for division, launch in (collected.get("site_engine") or {}).items():
        if launch.get("kokkos"):
            out(f"[{division}] Site engine: {launch['lmp']} ran every MD case with {launch['kokkos']['summary']}.")
    out(f"run directory: {run_dir}")
    out(f"results:       {collected['results']}")
    out(f"plot:          {collected['plot']}")
    out(f"report:        {collected['report']} (next to the seed's numbers and earlier comparable runs)")
    if (Path(run_dir) / "monitoring.db").is_file():
        out(f"monitoring:    {Path(run_dir) / 'monitoring.db'} (Parsl's task states and resource use, SQLite)")


def training_line(train: dict) -> str:
    from .science.reporting.results import trainer_of

    return (f"Training ({train['dataset']} dataset, {trainer_of(train)} trainer): FOM Average Epoch time "
            f"{train['epoch_time_s']:.4f} s over {train['epochs']} epochs; "
            f"test EpA-MAE {train['test_epa_mae_mev']:.4f} "
            f"meV/atom, Force MAE {train['test_force_mae_mev_per_a']:.4f} meV/Å")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in COMMANDS:
        import importlib

        return importlib.import_module(COMMANDS[argv[0]][0]).main(argv[1:])
    if "--version" in argv:
        print(version_text())
        return 0
    args = build_parser().parse_args(argv)
    try:
        return _main(args)
    except MlmdError as exc:
        return report_error(exc)


def report_error(exc: MlmdError) -> int:
    """The one way this CLI fails on what it can name: one line on stderr, no traceback, the error's exit code."""
    print(f"error: {exc}", file=sys.stderr, flush=True)
    return exc.exit_code


def _main(args) -> int:
    if not 0 < args.progress_every <= 86_400:  # nan fails this too
        raise UserInputError(f"--progress-every {args.progress_every:g}: must be > 0 and at most 86400 seconds")
    if args.resume and args.dry_run:
        raise UserInputError("--resume and --dry-run do not go together: a dry run submits nothing to resume")
    from .config import load_site_config
    from .orchestration import rundir
    from .orchestration.sites import check_parsl_run_path

    overrides = (args.overrides + ([f"md.profile={args.profile}"] if args.profile else [])
                 + ([f"report.baseline={args.baseline}"] if args.baseline else []))
    site = load_site_config(args.site, overrides)
    parts = chosen_parts(args)
    if site.report.baseline:  # here, not hours later when the report is written
        rundir.find_baselines(site, run_dir=Path("."))
    resumed = rundir.resume_run_dir(site, args.resume) if args.resume else None
    if args.dry_run:
        from .orchestration.dry_run import print_plan

        check_dataset(site)
        return print_plan(site, rundir.planned_run_dir(site))
    preflight(site, parts)
    check_parsl_run_path(resumed or rundir.runs_root(site))
    try:
        run_dir = resumed or rundir.new_run_dir(site)
        lock = rundir.lock_run(run_dir)  # noqa: F841 (held until this process ends)
        rundir.write_manifest(run_dir, site)
    except OSError as exc:  # unwritable, not a folder, disk full: say where, start nothing
        raise UserInputError(f"cannot create the run directory under {rundir.runs_root(site)}: "
                             f"{exc.strerror or exc} ({exc.filename or ''}); "
                             "set runs_dir to a writable folder") from None
    with console_log(run_dir / "console.log"):
        return _run(site, args, run_dir, parts)


@contextlib.contextmanager
def console_log(path):
    """Everything this process prints from here on also goes to the run folder's console.log (appended on
    --resume), so a shared run keeps what its user saw."""
    with open(path, "a", buffering=1) as file:
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Tee(sys.stdout, file), _Tee(sys.stderr, file)
        try:
            yield
        finally:
            sys.stdout, sys.stderr = saved


class _Tee:
    def __init__(self, stream, file):
        self.stream, self.file = stream, file

    def write(self, text):
        self.file.write(text)
        return self.stream.write(text)

    def flush(self):
        self.file.flush()
        self.stream.flush()

    def __getattr__(self, name):
        return getattr(self.stream, name)


def _run(site, args, run_dir, parts):
    from .orchestration.campaign import run_campaign
    from .orchestration.sites import parsl_config_for

    print(f"mlmd_parsl: site {site.name} ({site.source}); run directory {run_dir}", flush=True)

    from parsl.dataflow.dflow import DataFlowKernel

    for stop in (signal.SIGTERM, signal.SIGHUP):  # a scheduler's or user's kill, a lost terminal: a clean shutdown
        signal.signal(stop, _raise_terminated)
    dfk, exit_code = None, 1
    try:
        dfk = DataFlowKernel(parsl_config_for(site, run_dir))  # may name a bad provider.interface: exit 2
        from .orchestration.worker_watch import WorkerWatch

        watch = WorkerWatch(dfk, site.provider.worker_start_timeout_s).check
        collected = run_campaign(site, run_dir, dfk, log=lambda line: print(line, flush=True),
                                 heartbeat_s=args.progress_every, parts=parts, watch=watch)
        exit_code = 1 if any(r["status"] != "ok" for r in collected["rows"]) else 0  # if the clean-up must be cut
    except MlmdError as exc:  # here, inside console_log, so that the run folder keeps the error too
        return report_error(exc)
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, Terminated) else signal.SIGINT
        why = f"terminated ({signal.Signals(signum).name})" if isinstance(exc, Terminated) else "interrupted"
        print(f"{why}; finished tasks are kept. Continue with: --site {args.site} --resume {run_dir}",
              file=sys.stderr, flush=True)
        exit_code = 128 + signum
        return exit_code
    finally:
        if dfk is not None:
            from .orchestration.shutdown import cleanup_within

            cleanup_within(dfk.cleanup, exit_code, run_dir=run_dir, dfk=dfk)
            # MD cases run in process groups of their own (timeout(1)): Parsl's clean-up of its blocks does not end
            # them, and until it ran a retry could start a case again. None runs after a finished campaign.
            from .orchestration.shutdown import end_running_cases

            end_running_cases(run_dir)
    print_summary(collected, run_dir)
    failed = [r for r in collected["rows"] if r["status"] != "ok"]
    if failed:
        print(f"{len(failed)} task(s) did not complete; see the status and log columns of results.csv", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
