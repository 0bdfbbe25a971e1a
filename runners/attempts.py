"""Naming what a confined program tried to change, for its feedback ("tried to write judge.py: denied").

An audit hook (:func:`sys.addaudithook`) sees each file operation the program makes through Python
before it happens: a write-mode ``open``, ``os.remove``, ``os.rename``, ``os.truncate``, ``chmod``,
``shutil.rmtree`` and the like aimed outside the writable folders is noted and refused with the
``PermissionError`` Landlock would give (and gives to code that bypasses the hook). The hook is not the
protection -- ctypes or a subprocess bypass it; the kernel and the parent's check (:mod:`.guard`) are
-- it lets the feedback say what was tried, and it refuses ``chmod``, which Landlock does not cover.
Operations on file descriptors are not named.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import Any

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
#: audit event -> (what the note calls it, indexes of its path arguments)
_CHANGES: dict[str, tuple[str, tuple[int, ...]]] = {
    "os.remove": ("delete", (0,)), "os.rmdir": ("delete", (0,)), "shutil.rmtree": ("delete", (0,)),
    "os.rename": ("rename", (0, 1)), "os.truncate": ("truncate", (0,)), "os.mkdir": ("create", (0,)),
    "os.symlink": ("create", (1,)), "os.link": ("create", (1,)), "os.chmod": ("chmod", (0,)),
    "os.chown": ("chown", (0,)),
}
_MOST = 20


class Attempts:
    """The notes, in order, without repeats; ``protected`` names paths relative to the project."""

    def __init__(self, writable: tuple[Path, ...], protected: Path) -> None:
        self.writable = tuple(os.path.realpath(p) for p in writable)
        self.protected = os.path.realpath(protected)
        self.notes: list[str] = []

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path, mode, flags = args
            writes = (any(c in mode for c in "wax+") if isinstance(mode, str)
                      else isinstance(flags, int) and bool(flags & _WRITE_FLAGS))
            if writes:
                self._check("write", path)
        elif event in _CHANGES:
            what, places = _CHANGES[event]
            for i in places:
                self._check(what, args[i])

    def _check(self, what: str, path: Any) -> None:
        """Note and refuse the attempt when ``path`` is outside the writable folders."""
        if isinstance(path, int) or path is None:
            return
        try:
            real = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return
        if any(real == w or real.startswith(w + os.sep) for w in self.writable):
            return
        inside = real.startswith(self.protected + os.sep)
        note = f"tried to {what} {os.path.relpath(real, self.protected) if inside else real}: denied"
        if note not in self.notes and len(self.notes) < _MOST:
            self.notes.append(note)
        raise PermissionError(errno.EACCES, "Permission denied (autotrace: outside the writable folders)",
                              os.fsdecode(path))


def watch(writable: tuple[Path, ...], protected: Path) -> Attempts:
    """Start noting this process's attempts (for the rest of its life: audit hooks cannot be removed)."""
    attempts = Attempts(writable, protected)
    sys.addaudithook(attempts.hook)
    return attempts
