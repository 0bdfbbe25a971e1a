"""The scratch folders of evaluations name their owner, and the sweep at the start of a run removes those a
killed autotrace left behind: never a live process's, another user's, or anything that is not a folder."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from helpers import evaluating, wait_until

from autotrace.runners.executor import Executor
from autotrace.runners.sandbox import Limits
from autotrace.runners.scratch import MARKER, UNMARKED_AGE, Owner, scratch_folder, sweep


def dead_owner() -> Owner:
    """The owner a killed (and reaped) process would be named as."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        owner = Owner(child.pid, _started(child.pid), Owner.current().namespace)
        assert owner.alive()
    finally:
        child.kill()
        child.wait()
    assert not owner.alive()
    return owner


def _started(pid: int) -> int:
    text = Path(f"/proc/{pid}/stat").read_bytes()
    return int(text[text.rfind(b")") + 2:].split()[19])


def folder(temp: Path, name: str, owner: Owner | None) -> Path:
    made = temp / name
    made.mkdir()
    (made / "job.json").write_text("{}")
    if owner is not None:
        (made / MARKER).write_text(owner.to_json())
    return made


def test_a_dead_owners_folder_goes_a_live_ones_and_another_users_stay(tmp_path):
    me = Owner.current()
    dead = dead_owner()
    gone = folder(tmp_path, "autotrace-eval-dead", dead)
    tests = folder(tmp_path, "autotrace-tests-dead", dead)
    live = folder(tmp_path, "autotrace-eval-live", me)
    reused = folder(tmp_path, "autotrace-eval-reused", Owner(me.pid, (me.started or 0) + 1, me.namespace))
    elsewhere = folder(tmp_path, "autotrace-eval-ns", Owner(dead.pid, dead.started, "pid:[1]"))
    other = folder(tmp_path, "other-dead", dead)  # not one of autotrace's names
    assert sorted(sweep(tmp_path)) == sorted([gone, tests, reused])  # a reused pid is not the owner
    assert live.is_dir() and elsewhere.is_dir() and other.is_dir()
    # a folder of another user (as sweep's uid sees it) stays, whoever its owner was
    theirs = folder(tmp_path, "autotrace-eval-theirs", dead)
    assert sweep(tmp_path, uid=os.getuid() + 1) == [] and theirs.is_dir()
    assert sweep(tmp_path) == [theirs]


def test_an_unmarked_folder_goes_after_a_day_and_a_symlink_is_never_followed(tmp_path):
    old, young = folder(tmp_path, "autotrace-eval-old", None), folder(tmp_path, "autotrace-eval-young", None)
    day_ago = time.time() - UNMARKED_AGE - 60
    os.utime(old, (day_ago, day_ago))
    garbled = folder(tmp_path, "autotrace-eval-garbled", None)
    (garbled / MARKER).write_text("not json")  # judged by its age, as an unmarked one
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("keep")
    (tmp_path / "autotrace-eval-link").symlink_to(precious)
    inside = folder(tmp_path, "autotrace-eval-inside", dead_owner())
    (inside / "link").symlink_to(precious)
    assert sorted(sweep(tmp_path)) == sorted([old, inside])
    assert young.is_dir() and garbled.is_dir() and (tmp_path / "autotrace-eval-link").is_symlink()
    assert (precious / "keep.txt").read_text() == "keep"
    assert sorted(sweep(tmp_path, now=time.time() + UNMARKED_AGE + 60)) == sorted([garbled, young])
    assert (tmp_path / "autotrace-eval-link").is_symlink() and (precious / "keep.txt").read_text() == "keep"


def test_a_scratch_folder_names_this_process_and_goes_when_it_ends(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with scratch_folder("autotrace-eval-") as made:
        assert made.parent == tmp_path and Owner.from_json((made / MARKER).read_text()) == Owner.current()
        assert sweep(tmp_path) == [] and made.is_dir()
    assert not made.exists()


def test_the_folder_a_killed_autotrace_left_is_swept_when_the_next_run_starts(tmp_path, outside):
    """As test_worker_dies_when_autotrace_is_killed: the evaluating process is killed mid-evaluation; its
    scratch folder stays in the temp folder (``outside``) until an executor starts."""
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "app.py").write_text("def main():\n    while True:\n        pass\n")
    (tmp_path / "judge.py").write_text("def feedback(output):\n    return 1.0\n")
    parent = evaluating(tmp_path)
    assert wait_until(lambda: any(m.read_text() for m in outside.glob(f"autotrace-eval-*/{MARKER}")))  # written
    (left,) = [m.parent for m in outside.glob(f"autotrace-eval-*/{MARKER}")]
    assert Owner.from_json((left / MARKER).read_text()).pid == parent.pid
    assert sweep(outside) == [] and left.is_dir()  # its owner runs
    parent.kill()
    parent.wait()
    assert left.is_dir()  # a SIGKILLed process removes nothing
    Executor(Limits(), kind="spawn", jobs=1).close()
    assert not left.exists()
