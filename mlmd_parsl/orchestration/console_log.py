"""A run folder's console.log: everything the driver prints while it runs a campaign, so a shared run keeps what
its user saw."""
import contextlib
import sys


@contextlib.contextmanager
def console_log(path):
    """Everything this process prints from here on also goes to `path` (appended on --resume)."""
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
