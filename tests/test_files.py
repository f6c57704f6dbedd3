"""``metastyle.infra.files``: every file the package writes goes through ``atomic_path``; a failed write keeps
the previous file and leaves no temporary behind, a successful one replaces it."""
from __future__ import annotations

import csv
import json
import os

import pytest

from metastyle.errors import MetaStyleError
from metastyle.infra import files


def _leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith(files.TMP_SUFFIX)]


def test_writers_replace_the_file_and_leave_no_temporary(tmp_path):
    (tmp_path / "a.txt").write_text("old")
    assert files.write_text(tmp_path / "a.txt", "new\n") == tmp_path / "a.txt"
    assert (tmp_path / "a.txt").read_text() == "new\n"
    files.write_json(tmp_path / "b.json", {"z": 1, "a": (1, 2), "p": tmp_path}, sort_keys=True)
    assert (tmp_path / "b.json").read_text() == json.dumps({"a": [1, 2], "p": str(tmp_path), "z": 1}, indent=1)
    files.write_csv(tmp_path / "c.csv", [{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.25}])
    with (tmp_path / "c.csv").open(newline="") as f:
        assert list(csv.DictReader(f)) == [{"step": "1", "loss": "0.5"}, {"step": "2", "loss": "0.25"}]
    assert _leftovers(tmp_path) == []


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("the previous table\n")
    with pytest.raises(ValueError):  # a column the header lacks is an error, never silently dropped
        files.write_csv(target, [{"step": 1}, {"step": 2, "extra": 3}])
    with pytest.raises(RuntimeError):
        with files.atomic_path(target) as tmp:
            tmp.write_text("half a table")
            raise RuntimeError("the writer crashed")
    assert target.read_text() == "the previous table\n"
    assert _leftovers(tmp_path) == []


def test_a_missing_folder_is_one_line_and_creates_nothing(tmp_path):
    with pytest.raises(MetaStyleError, match=r"^output folder does not exist: .*missing$"):
        files.write_json(tmp_path / "missing" / "run.json", {})
    assert not (tmp_path / "missing").exists()


def test_written_files_get_the_usual_mode(tmp_path):
    old = os.umask(0o022)
    try:
        files.write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644
