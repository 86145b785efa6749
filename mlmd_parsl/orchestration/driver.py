"""One campaign driven from this process: its run folder (new or resumed; locked; manifest), console.log, the Parsl
DataFlowKernel's life (started, the campaign run on it, shut down within a deadline whatever happened), the
summary and the exit code. The CLI parses the command line and calls drive()."""
import sys
from pathlib import Path

from ..errors import MlmdError, UserInputError, report_error
from . import rundir
from .builder import Parts
from .console_log import console_log
from .stop_signals import interruption, stop_on_signals


def drive(site, parts: Parts, resumed: Path = None, heartbeat_s: float = 60.0, site_arg: str = None) -> int:
    """Run the campaign of `site` (in `resumed`, else a new run folder) and print its summary; returns the exit
    code: 0 when every task completed, 1 when one did not, 2 for a named bad input, 128 + N after signal N.
    site_arg: what the user named the site by, for the --resume line an interruption prints."""
    from .sites import check_parsl_run_path

    check_parsl_run_path(resumed or rundir.runs_root(site))
    run_dir, lock = _open_run_dir(site, resumed)  # noqa: F841 (the lock is held until this process ends)
    with console_log(run_dir / "console.log"):
        return _run_on_parsl(site, run_dir, parts, heartbeat_s, site_arg or site.name)


def _open_run_dir(site, resumed: Path):
    """(the run folder, its lock) with the manifest written."""
    try:
        run_dir = resumed or rundir.new_run_dir(site)
        lock = rundir.lock_run(run_dir)
        rundir.write_manifest(run_dir, site)
    except OSError as exc:  # unwritable, not a folder, disk full: say where, start nothing
        raise UserInputError(f"cannot create the run directory under {rundir.runs_root(site)}: "
                             f"{exc.strerror or exc} ({exc.filename or ''}); "
                             "set runs_dir to a writable folder") from None
    return run_dir, lock


def _run_on_parsl(site, run_dir: Path, parts: Parts, heartbeat_s: float, site_arg: str) -> int:
    from parsl.dataflow.dflow import DataFlowKernel

    from ..science.reporting.console_summary import print_summary
    from .campaign import run_campaign
    from .shutdown import cleanup_within, end_running_cases
    from .sites import parsl_config_for
    from .worker_watch import WorkerWatch

    print(f"mlmd_parsl: site {site.name} ({site.source}); run directory {run_dir}", flush=True)
    stop_on_signals()
    dfk, exit_code = None, 1
    try:
        dfk = DataFlowKernel(parsl_config_for(site, run_dir))  # may name a bad provider.interface: exit 2
        watch = WorkerWatch(dfk, site.provider.worker_start_timeout_s).check
        collected = run_campaign(site, run_dir, dfk, log=lambda line: print(line, flush=True),
                                 heartbeat_s=heartbeat_s, parts=parts, watch=watch)
        exit_code = 1 if any(r["status"] != "ok" for r in collected["rows"]) else 0  # if the clean-up must be cut
    except MlmdError as exc:  # here, inside console_log, so that the run folder keeps the error too
        return report_error(exc)
    except KeyboardInterrupt as exc:
        why, exit_code = interruption(exc)
        print(f"{why}; finished tasks are kept. Continue with: --site {site_arg} --resume {run_dir}",
              file=sys.stderr, flush=True)
        return exit_code
    finally:
        if dfk is not None:
            cleanup_within(dfk.cleanup, exit_code, run_dir=run_dir, dfk=dfk)
            # MD cases run in process groups of their own (timeout(1)): Parsl's clean-up of its blocks does not end
            # them, and until it ran a retry could start a case again. None runs after a finished campaign.
            end_running_cases(run_dir)
    print_summary(collected, run_dir)
    failed = [r for r in collected["rows"] if r["status"] != "ok"]
    if failed:
        print(f"{len(failed)} task(s) did not complete; see the status and log columns of results.csv", file=sys.stderr)
        return 1
    return 0
