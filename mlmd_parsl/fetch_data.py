"""python -m mlmd_parsl fetch-data: download Ag_warm_nospin.xyz, resumably, and verify it.

The real training set of the benchmark (Materials Cloud, DOI 10.24435/materialscloud:fr-ts; the data of
the Allegro paper). A broken download resumes from its `.part` file with an HTTP Range request; the
finished file is checked against the expected size and SHA-256 (when given) and read frame by frame
as an Ag extxyz set before it replaces anything; then its MD5 is compared with the one public loaders of
this file pin (REAL_DATASET_MD5; --md5 to expect another, --md5 none for none): on a mismatch the file is
kept and both digests are printed with the override. Then set `dataset.path` in the site config to it.
"""
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from .arguments import ArgumentParser
from .errors import DatasetError, MlmdError
from .science.model.dataset import check_md5, expected_md5, file_sha256

DEFAULT_URL = "https://archive.materialscloud.org/record/file?filename=Ag_warm_nospin.xyz&record_id=1387"
CHUNK = 1 << 20


class DownloadError(MlmdError):
    """The transfer failed or the file it brought is not the dataset."""


DEFAULT_NAME = "Ag_warm_nospin.xyz"


def download(url, dest, expected_size=None, expected_sha256=None, timeout=60, progress=None, expected_md5=None) -> Path:
    """Fetch `url` to `dest` (a folder: `dest`/Ag_warm_nospin.xyz) through `dest`.part, resuming it; nothing is
    replaced before every check has passed on the new file."""
    dest = Path(dest)
    if dest.is_dir():
        dest = dest / DEFAULT_NAME
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    total = None
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if have and response.status != 206:  # the server ignored the range: start again
                have = 0
            total = _total_size(response, have)
            with open(part, "ab" if have else "wb") as out:
                while True:
                    block = response.read(CHUNK)
                    if not block:
                        break
                    out.write(block)
                    have += len(block)
                    if progress:
                        progress(have, total)
    except urllib.error.HTTPError as exc:
        if not (exc.code == 416 and have):  # 416 to a range from the .part's end: it was complete, verify it
            raise DownloadError(f"download of {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ConnectionError) as exc:
        raise DownloadError(
            f"download of {url} broke off after {have} bytes ({exc}); run the same command again to resume "
            f"from {part}"
        ) from None
    size = part.stat().st_size
    if total is not None and size < total:
        raise DownloadError(f"download of {url} stopped at {size} of {total} bytes; run again to resume from {part}")
    if expected_size is not None and size != expected_size:
        raise DownloadError(f"{part}: {size} bytes, expected {expected_size}; delete it to start over")
    if expected_sha256:
        digest = file_sha256(part)
        if digest != expected_sha256.lower():
            bad = part.with_name(part.name + ".corrupt")
            os.replace(part, bad)
            raise DownloadError(f"{url}: SHA-256 {digest} does not match {expected_sha256}; kept as {bad}")
    from .science.model.dataset import validate_dataset

    try:
        validate_dataset(part)
    except DatasetError as exc:
        bad = part.with_name(part.name + ".corrupt")
        os.replace(part, bad)
        raise DownloadError(f"the downloaded file is not a valid Ag dataset ({exc}); kept as {bad}") from None
    return _place(part, dest, expected_md5)


def _place(part: Path, dest: Path, expected_md5) -> Path:
    """The checked `.part` becomes `dest`, unless its MD5 is not the expected one and a file is already there: that
    file stays, and the new one waits beside it as `.new`."""
    try:
        check_md5(part, expected_md5)
    except DatasetError as exc:
        if dest.exists():
            kept = dest.with_name(dest.name + ".new")
            os.replace(part, kept)
            raise DownloadError(f"{exc}".replace(str(part), str(kept)) + f"; {dest} was left as it was") from None
        os.replace(part, dest)
        raise DownloadError(str(exc).replace(str(part), str(dest))) from None
    os.replace(part, dest)
    return dest


def _total_size(response, offset):
    length = response.headers.get("Content-Length")
    return offset + int(length) if length is not None else None


def main(argv=None):
    parser = ArgumentParser(prog="python -m mlmd_parsl fetch-data", description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--dest", default=f"data/{DEFAULT_NAME}",
                        help=f"where to put it (a folder: {DEFAULT_NAME} in it)")
    parser.add_argument("--sha256", help="expected SHA-256 of the file")
    parser.add_argument("--size", type=int, help="expected size in bytes")
    parser.add_argument("--md5", default="auto",
                        help="expected MD5: auto (default: the seed's file when --dest is named Ag_warm_nospin.xyz), "
                             "none, or a digest")
    args = parser.parse_args(argv)

    def progress(have, total):
        if total:
            print(f"\r{have / 1e6:8.1f} / {total / 1e6:.1f} MB", end="", flush=True)

    dest = Path(args.dest) / DEFAULT_NAME if Path(args.dest).is_dir() else Path(args.dest)
    try:
        path = download(args.url, dest, args.size, args.sha256, progress=progress,
                        expected_md5=expected_md5(dest, args.md5))
    except MlmdError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    print(f"\nsaved and verified: {path.resolve()}\nuse it: --set dataset.path={path.resolve()}")
    return 0
