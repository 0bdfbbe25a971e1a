"""Scratch folders of evaluations (``autotrace-eval-*``, ``autotrace-tests-*`` in the temp folder), and
the sweep that removes the ones a killed autotrace left behind.

A scratch folder is a :class:`tempfile.TemporaryDirectory`: removed when its evaluation ends, but not when
autotrace is killed with SIGKILL (a user's ``kill -9``, the OOM killer, a CI timeout), which leaves it in
the temp folder for good. So each folder holds a marker naming its owner: the process id and that
process's start time (``/proc/PID/stat``), so a process that later got the same id is not taken for the
owner. At the start of each run (:class:`.executor.Executor`), :func:`sweep` removes the folders of the
current user whose owner is gone; never a folder whose owner runs, nor one of another user, nor one
whose owner is in another PID namespace (its ids are not this one's to look up), nor anything that is
not a plain folder (a symlink named like one is left alone, and removal does not follow symlinks).

A folder without a marker (made by an autotrace before markers, or one whose marker is not written
yet: it is written right after the folder is made) is removed only when it was last changed more than
:data:`UNMARKED_AGE` ago: an evaluation lasts its timeout (minutes), so a day-old unmarked folder has
no evaluation left, while a young one may belong to a running older autotrace.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: The prefixes of the scratch folders autotrace makes: an evaluation's (:mod:`.sandbox`) and a test
#: suite run's (:mod:`.tests_eval`).
PREFIXES = ("autotrace-eval-", "autotrace-tests-")
#: The marker file inside each scratch folder.
MARKER = ".autotrace-owner"
#: Seconds after which a folder without a marker counts as stale.
UNMARKED_AGE = 24 * 3600
_MARKER_BYTES = 4096  # a marker is a few dozen bytes; more is not one autotrace wrote


@dataclass(frozen=True)
class Owner:
    """The process that made a scratch folder: its id, its start time (clock ticks after boot; None where
    there is no ``/proc``) and its PID namespace (None where there is none to read)."""

    pid: int
    started: int | None
    namespace: str | None

    @classmethod
    def current(cls) -> Owner:
        pid = os.getpid()
        return cls(pid, _start_time(pid), _namespace())

    def alive(self) -> bool:
        """Whether this process still runs (a zombie counts: its parent has not reaped it yet). Unsure
        (another namespace, no ``/proc``, no permission to ask) counts as alive."""
        if self.namespace != _namespace():
            return True
        if self.started is None or _start_time(os.getpid()) is None:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return False
            except OSError:
                return True
            return True
        return _start_time(self.pid) == self.started

    def to_json(self) -> str:
        return json.dumps({"pid": self.pid, "started": self.started, "namespace": self.namespace})

    @classmethod
    def from_json(cls, text: str) -> Owner:
        """Read :meth:`to_json`'s form back; ValueError when it is not one."""
        try:
            data = json.loads(text)
            pid, started, namespace = data["pid"], data["started"], data["namespace"]
        except (json.JSONDecodeError, TypeError, KeyError) as exc:
            raise ValueError(f"not an owner marker: {exc}") from None
        if type(pid) is not int or not (started is None or type(started) is int) \
                or not (namespace is None or isinstance(namespace, str)):
            raise ValueError("not an owner marker: wrong types")
        return cls(pid, started, namespace)


@contextmanager
def scratch_folder(prefix: str) -> Iterator[Path]:
    """A new folder in the temp folder, marked with this process as its owner, removed on exit."""
    assert prefix in PREFIXES, prefix
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        folder = Path(tmp)
        (folder / MARKER).write_text(Owner.current().to_json(), encoding="utf-8")
        yield folder


def sweep(temp: Path | None = None, *, uid: int | None = None, now: float | None = None) -> list[Path]:
    """Remove the stale scratch folders in ``temp`` (default: the temp folder) that belong to ``uid``
    (default: this user); the ones removed. Errors (a folder gone meanwhile, one it cannot remove) leave
    that folder as it is: the sweep is housekeeping and never fails a run."""
    folder = Path(temp if temp is not None else tempfile.gettempdir())
    uid = os.getuid() if uid is None else uid
    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(PREFIXES)]
    except OSError:
        return removed
    for entry in entries:
        try:
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid or not _stale(Path(entry.path), info, now):
                continue
            shutil.rmtree(entry.path)  # does not follow symlinks (shutil.rmtree.avoids_symlink_attacks)
        except OSError:
            continue
        removed.append(Path(entry.path))
    return removed


def _stale(folder: Path, info: os.stat_result, now: float) -> bool:
    owner = _owner(folder / MARKER)
    if owner is None:
        return now - info.st_mtime > UNMARKED_AGE
    return not owner.alive()


def _owner(marker: Path) -> Owner | None:
    """The owner a marker names; None when there is no marker, or none that autotrace wrote (not a plain
    file, too long, not its form): such a folder is judged by its age."""
    try:
        fd = os.open(marker, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        text = os.read(fd, _MARKER_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(text) > _MARKER_BYTES:
        return None
    try:
        return Owner.from_json(text.decode("utf-8", "replace"))
    except ValueError:
        return None


def _start_time(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks after boot (``/proc/PID/stat`` field 22); None when
    there is no such process or no ``/proc``."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            text = handle.read()
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold spaces and parentheses itself
    fields = text[text.rfind(b")") + 2:].split()
    try:
        return int(fields[19])  # field 22 of the line; fields[0] is field 3
    except (IndexError, ValueError):
        return None


def _namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
