"""python -m mlmd_parsl --site NAME: the whole benchmark on a site, orchestrated by Parsl."""
import sys
from pathlib import Path

from .arguments import ArgumentParser
from .errors import MlmdError, UserInputError, report_error


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


def _main(args) -> int:
    if not 0 < args.progress_every <= 86_400:  # nan fails this too
        raise UserInputError(f"--progress-every {args.progress_every:g}: must be > 0 and at most 86400 seconds")
    if args.resume and args.dry_run:
        raise UserInputError("--resume and --dry-run do not go together: a dry run submits nothing to resume")
    from .config import load_site_config
    from .orchestration import rundir

    overrides = (args.overrides + ([f"md.profile={args.profile}"] if args.profile else [])
                 + ([f"report.baseline={args.baseline}"] if args.baseline else []))
    site = load_site_config(args.site, overrides)
    parts = chosen_parts(args)
    if site.report.baseline:  # here, not hours later when the report is written
        rundir.find_baselines(site, run_dir=Path("."))
    resumed = rundir.resume_run_dir(site, args.resume) if args.resume else None
    if args.dry_run:
        from .orchestration.before_start import check_dataset
        from .orchestration.dry_run import print_plan

        check_dataset(site)
        return print_plan(site, rundir.planned_run_dir(site))
    from .orchestration.before_start import check_before_start
    from .orchestration.driver import drive

    check_before_start(site, parts)
    return drive(site, parts, resumed, args.progress_every, site_arg=args.site)


if __name__ == "__main__":
    sys.exit(main())
