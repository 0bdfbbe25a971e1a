"""Confining an evaluation's process before it imports candidate code: what it may write, whether it
may use the network, and that nothing it starts outlives it.

This branch's versions are minimal: :func:`confine` restricts nothing yet (the sandbox work replaces
this module with a Landlock one of the same signatures); :func:`become_subreaper` and
:func:`kill_descendants` work on Linux, so a candidate's daemonised grandchildren are found and killed
before the evaluation reports.
"""

from __future__ import annotations

import ctypes
import os
import signal
from dataclasses import dataclass
from pathlib import Path

_PR_SET_CHILD_SUBREAPER = 36


@dataclass(frozen=True)
class Confinement:
    """What a confined process may still do: write under ``writable``, and use the network if ``network``."""

    writable: tuple[Path, ...]
    network: bool = True


def confine(policy: Confinement) -> str:
    """Apply ``policy`` to the current process (irreversibly); a one-line description of what applies."""
    return "none: not implemented on this branch"


def become_subreaper() -> None:
    """Linux: orphaned descendants are re-parented to this process (not to init), so
    :func:`kill_descendants` still finds a grandchild whose parent exited."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the process-group kill still applies
        pass


def kill_descendants() -> None:
    """SIGKILL every process descended from this one (found through /proc), children first listed
    before their own children, so none can start a replacement unseen."""
    for pid in _descendants(os.getpid()):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _descendants(root: int) -> list[int]:
    parents = _parent_of_each()
    found: list[int] = []
    frontier = [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier and pid not in found]
        found.extend(children)
        frontier = children
    return found


def _parent_of_each() -> dict[int, int]:
    """pid -> parent pid of every process visible in /proc (empty where there is no /proc)."""
    parents: dict[int, int] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return parents
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name (field 2) may hold spaces and parentheses: the fields after it follow the last ')'.
        fields = stat[stat.rfind(b")") + 2:].split()
        parents[int(entry)] = int(fields[1])
    return parents
