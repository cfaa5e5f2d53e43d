import hashlib
import sys

import pytest

from forecasting.store import atomic
from tests import services


def test_sha256_file_matches_hashlib(tmp_path):
    data = b"x" * ((1 << 20) + 17)  # more than one read block
    (tmp_path / "f").write_bytes(data)
    assert atomic.sha256_file(tmp_path / "f") == hashlib.sha256(data).hexdigest()


def test_file_table_lists_nested_files_in_name_order_except_the_excluded(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.pkl").write_bytes(b"bb")
    (tmp_path / "a.pkl").write_bytes(b"a")
    (tmp_path / "model_info.json").write_text("{}")
    table = atomic.file_table(tmp_path, exclude={"model_info.json"})
    assert list(table) == ["a.pkl", "sub/b.pkl"]
    assert table["sub/b.pkl"] == {"sha256": hashlib.sha256(b"bb").hexdigest(), "bytes": 2}
    assert "model_info.json" in atomic.file_table(tmp_path)


def test_fsync_dir_accepts_a_folder_and_refuses_a_missing_one(tmp_path):
    atomic.fsync_dir(tmp_path)
    with pytest.raises(FileNotFoundError):
        atomic.fsync_dir(tmp_path / "missing")


def test_exchange_swaps_two_folders_in_one_step(tmp_path):
    services.require(sys.platform.startswith("linux"), "renameat2 is Linux-only")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x").write_text("a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x").write_text("b")
    assert atomic.exchange(tmp_path / "a", tmp_path / "b") is True
    assert (tmp_path / "a" / "x").read_text() == "b" and (tmp_path / "b" / "x").read_text() == "a"


def test_exchange_with_a_missing_path_raises(tmp_path):
    services.require(sys.platform.startswith("linux"), "renameat2 is Linux-only")
    (tmp_path / "a").mkdir()
    with pytest.raises(FileNotFoundError):
        atomic.exchange(tmp_path / "a", tmp_path / "missing")
    assert (tmp_path / "a").is_dir()


def test_exchange_reports_false_without_renameat2(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, "_renameat2", lambda: None)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert atomic.exchange(tmp_path / "a", tmp_path / "b") is False
