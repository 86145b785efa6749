"""Error classes. Each one names what was wrong and where, so the CLI can print one line and exit 2."""


class MlmdError(Exception):
    """Base class for errors this package reports to the user without a traceback."""

    exit_code = 1


class UserInputError(MlmdError):
    """Bad input from the user (config, dataset, model, flags): exit code 2."""

    exit_code = 2


class ConfigError(UserInputError):
    """A site config file or a command-line override is invalid."""


class DatasetError(UserInputError):
    """The dataset file is missing or not a valid Ag extxyz set."""


class ModelError(UserInputError):
    """A model or box file is not what the engine needs."""


class LammpsBuildError(UserInputError):
    """The chosen MD engine cannot run with the LAMMPS build at hand (missing binary or packages)."""


def report_error(exc: MlmdError) -> int:
    """The one way a command fails on what it can name: one line on stderr, no traceback; returns the exit code."""
    import sys

    print(f"error: {exc}", file=sys.stderr, flush=True)
    return exc.exit_code
