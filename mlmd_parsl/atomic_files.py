"""Write a file so that readers (a resumed run, a report, a second process) never see half of it."""
import os
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replaced_atomically(path):
    """Yield a temporary path beside `path`; when the block ends without error it replaces `path` in one step.
    After an error or a crash the old file (or none) stays, and the temporary file is removed when possible."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomically(path, text: str) -> Path:
    with replaced_atomically(path) as tmp:
        tmp.write_text(text)
    return Path(path)
