"""ruff over the whole repository with the settings in pyproject.toml ([tool.ruff]): the package, its tests,
benchmarks and scripts stay free of unused or undefined names and of lines over 120 characters."""
import subprocess
import sys

from tests.conftest import REPO


def ruff(*args, cwd=REPO):
    try:
        import ruff  # noqa: F401  (installed by the test extra: scripts/bootstrap.sh)
    except ImportError:
        raise AssertionError("ruff is not installed: run scripts/bootstrap.sh (pip install -e '.[test]')") from None
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_the_repository_passes_ruff():
    result = ruff("check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]


def test_the_settings_catch_what_they_are_there_to_catch(tmp_path):
    """The repository's settings applied to a file with an unused import, an undefined name and a long line."""
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n\n\ndef f():\n    return undefined_name + '" + "x" * 120 + "'\n")
    result = ruff("check", "--no-cache", "--config", str(REPO / "pyproject.toml"), str(bad), cwd=tmp_path)
    assert result.returncode == 1
    for code in ("F401", "F821", "E501"):
        assert code in result.stdout, result.stdout
