"""The project's file modes are kept from one evaluation to the next and refreshed by change: a stat of
each file while no folder changed, a walk of the tree when one did."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autotrace.runners.guard import Baseline, project_files, snapshot


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "a.py").write_text("a")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.py").write_text("b")
    (tmp_path / "sub" / "__pycache__").mkdir()
    (tmp_path / "sub" / "__pycache__" / "b.pyc").write_text("")
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "pyvenv.cfg").write_text("")
    (tmp_path / "link.py").symlink_to(tmp_path / "a.py")
    return tmp_path


def held(baseline: Baseline, project: Path) -> dict:
    with baseline.held(project, contents=False) as states:
        return dict(states)


def test_the_files_are_the_users_as_before(project: Path) -> None:
    walked = sorted(p.relative_to(project) for p in project_files(project))
    assert walked == [Path("a.py"), Path("sub/b.py")]  # no cache, no environment, no symlink


def test_an_unchanged_project_is_not_walked_again(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    baseline = Baseline()
    first = held(baseline, project)
    listed: list[str] = []
    scandir = os.scandir
    monkeypatch.setattr(os, "scandir", lambda path: listed.append(path) or scandir(path))
    assert held(baseline, project) == first and listed == []


def test_what_the_user_changed_between_evaluations_is_the_new_baseline(project: Path) -> None:
    baseline = Baseline()
    held(baseline, project)
    os.chmod(project / "a.py", 0o600)  # the user's own change while no evaluation runs
    assert held(baseline, project)[Path("a.py")].mode == 0o600
    (project / "sub" / "c.py").write_text("c")  # a new file: its folder changed
    now = held(baseline, project)
    assert Path("sub/c.py") in now and now == snapshot(project, contents=False)
    (project / "sub" / "b.py").unlink()
    assert held(baseline, project) == snapshot(project, contents=False)
