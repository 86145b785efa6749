"""python -m mlmd_parsl archive RUN: the whole run folder as one .tar.gz to hand to a colleague.

Every member lies under the run's own name (relative paths, no leading /), so it unpacks anywhere into one
folder that `runs`, `compare` and `--baseline` read as they read the original. Nothing is deleted.
"""
import sys
import tarfile
from pathlib import Path

from ..arguments import ArgumentParser
from ..atomic_files import replaced_atomically
from ..errors import UserInputError
from ..orchestration.rundir import LOCK_FILE, REPO_RUNS_DIR, running_driver
from .run_folder import find_run


def build_parser():
    parser = ArgumentParser(prog="python -m mlmd_parsl archive", description=__doc__.splitlines()[0].split(": ", 1)[1])
    parser.add_argument("run", metavar="RUN", help="a run folder, or its name under the runs folder")
    parser.add_argument("--out", help="the archive to write (default: RUN_NAME.tar.gz in the current folder)")
    parser.add_argument("--dir", default=str(REPO_RUNS_DIR), help=f"the runs folder (default {REPO_RUNS_DIR})")
    return parser


SECRET_SUFFIXES = (".key_secret",)  # Parsl's CurveZMQ private keys (parsl/*/certificates/): never handed on


def archive(run_dir: Path, out: Path) -> int:
    """Write the archive atomically; returns the number of files in it. Files, folders and hard links (a second
    name of a file) go in; symbolic links, sockets and Parsl's private keys are left out."""
    count = 0

    def plain_only(member):
        nonlocal count
        if (not (member.isfile() or member.isdir() or member.islnk()) or member.name.endswith(SECRET_SUFFIXES)
                or member.name.endswith(f"/{LOCK_FILE}")):
            return None
        count += member.isfile() or member.islnk()
        return member

    with replaced_atomically(out) as tmp, tarfile.open(tmp, "w:gz") as tar:
        tar.add(run_dir, arcname=run_dir.name, filter=plain_only)
    return count


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        run_dir = find_run(args.run, args.dir)
        driver = running_driver(run_dir)
        if driver:
            raise UserInputError(f"{run_dir}: still running (driver pid {driver}); archive it once it has ended")
        out = Path(args.out or f"{run_dir.name}.tar.gz")
        if out.exists():
            raise UserInputError(f"--out {out}: exists; give another name (nothing was overwritten)")
        if out.resolve().is_relative_to(run_dir):
            raise UserInputError(f"--out {out}: inside the run folder it archives; write it elsewhere")
        if not out.resolve().parent.is_dir():
            raise UserInputError(f"--out {out}: no folder {out.resolve().parent} to write it in")
        try:
            files = archive(run_dir, out)
        except (OSError, tarfile.TarError) as exc:  # a file vanished or shrank under it: a run still writing
            raise UserInputError(f"{run_dir}: changed while it was archived ({exc}); archive it once it has "
                                 "ended (nothing was written)") from None
    except UserInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, {files} files under {run_dir.name}/); "
          f"unpack with: tar -xzf {out.name}")
    return 0
