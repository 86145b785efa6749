"""argparse whose usage errors are one line, like every other bad input: `error: ...`, exit code 2."""
import argparse
import sys


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message):
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)
