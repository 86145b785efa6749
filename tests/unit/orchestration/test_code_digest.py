"""Each task's key follows the source that computes it: an engine change reruns MD, a report change reruns nothing."""
import shutil

import pytest

from mlmd_parsl.orchestration.code_digest import (PACKAGE_DIR, TASK_SOURCES, git_state, module_closure,
                                                  modules_digest, source_digest)
from mlmd_parsl.orchestration.md_backends import BACKENDS


@pytest.fixture
def package_copy(tmp_path):
    copy = tmp_path / "mlmd_parsl"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def digests(package_dir):
    """Each task's digest, the MD cases' under md_<engine> (their back-end's code_modules)."""
    return {**{task: source_digest(task, package_dir) for task in TASK_SOURCES},
            **{f"md_{engine}": modules_digest(backend.code_modules, package_dir)
               for engine, backend in BACKENDS.items()}}


def append(path, text):
    path.write_text(path.read_text() + text)


def test_closure_follows_imports_inside_functions_and_stays_out_of_reporting_and_orchestration():
    training = module_closure(TASK_SOURCES["training"])
    assert "mlmd_parsl.science.model.lean_training" in training  # imported inside _train_lean only
    md = module_closure(BACKENDS["embedded"].code_modules)
    assert "mlmd_parsl.science.embedded.pairs" in md
    assert not [m for m in {**training, **md} if ".orchestration" in m or m.endswith("report_md")]


def test_an_engine_change_moves_md_and_validation_only(package_copy):
    before = digests(package_copy)
    append(package_copy / "science" / "embedded" / "pairs.py", "\nEXTRA_SKIN = 0.0\n")
    after = digests(package_copy)
    changed = {task for task in before if before[task] != after[task]}
    assert changed == {"md_embedded", "validation"}


def test_a_report_fix_or_a_comment_moves_no_key(package_copy):
    before = digests(package_copy)
    append(package_copy / "science" / "reporting" / "report_md.py", "\n\ndef new_section():\n    return []\n")
    append(package_copy / "science" / "model" / "training.py", "\n# a comment, no code\n")
    assert digests(package_copy) == before


def test_a_training_change_moves_training_and_not_md(package_copy):
    before = digests(package_copy)
    append(package_copy / "science" / "model" / "lean_training.py", "\nEPOCH_LOG_EVERY = 1\n")
    after = digests(package_copy)
    assert after["training"] != before["training"] and after["md_embedded"] == before["md_embedded"]


def test_git_state_says_commit_and_dirty_or_none_outside_a_checkout(package_copy):
    state = git_state()
    assert state["commit"] is None or len(state["commit"]) == 40 and isinstance(state["dirty"], bool)
    outside = git_state(package_copy)  # under tmp_path: no checkout
    assert outside["commit"] is None and outside["dirty"] is None
