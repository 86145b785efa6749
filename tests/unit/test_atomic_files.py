"""The one helper every run file (manifest, done-records, results.csv, datasets, placement) is written with."""
import pytest

from mlmd_parsl.atomic_files import replaced_atomically, write_text_atomically


def test_the_file_is_replaced_whole_and_no_temporary_file_stays(tmp_path):
    path = write_text_atomically(tmp_path / "results.csv", "a,b\n1,2\n")
    assert path.read_text() == "a,b\n1,2\n"
    write_text_atomically(path, "new\n")
    assert path.read_text() == "new\n" and [p.name for p in tmp_path.iterdir()] == ["results.csv"]


def test_an_error_while_writing_keeps_the_old_file_and_removes_the_partial_one(tmp_path):
    path = write_text_atomically(tmp_path / "manifest.json", "old")
    with pytest.raises(RuntimeError):
        with replaced_atomically(path) as tmp:
            tmp.write_text("half of the ne")
            raise RuntimeError("disk full")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["manifest.json"]
