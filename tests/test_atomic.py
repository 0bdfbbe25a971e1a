"""atomic_write: the one way autotrace replaces a file, synced or (for caches) not."""

from pathlib import Path

import pytest

from autotrace.atomic import atomic_write


@pytest.mark.parametrize("durable", [True, False])
def test_the_file_is_replaced_whole_and_no_temporary_file_stays(tmp_path: Path, durable: bool) -> None:
    target = tmp_path / "result.json"
    target.write_bytes(b"old")
    target.chmod(0o640)
    atomic_write(target, b"new contents", durable=durable)
    assert target.read_bytes() == b"new contents" and target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_a_missing_folder_raises_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "no" / "file", b"x", durable=False)
    assert list(tmp_path.iterdir()) == []
