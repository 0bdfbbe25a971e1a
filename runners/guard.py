"""The parent's side of a confined evaluation: what the candidate may write, and proof afterwards that
the user's project is as it was.

With Landlock (:mod:`.confine`) no project file can be written, truncated, created, deleted or renamed,
but Landlock does not cover ``chmod``: the file modes are recorded before the evaluation and any change
is undone after it. Without Landlock the evaluation runs in a private copy of the project, and every
project file is compared by hash afterwards; a changed or deleted file is restored (atomically) from
the bytes read before. Either way each change is reported, so the feedback says what the candidate
tried.

"Project files" are the files beneath the project root except version-control internals, virtual
environments and caches (:data:`SKIPPED`), which are not copied either.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from autotrace.atomic import atomic_write

from .confine import Confinement, bytecode_cache, mechanism
from .job import Job, PathMap

#: Folder names never copied, checked or restored (version control, environments, caches, autotrace's store).
SKIPPED = frozenset({".git", ".hg", ".svn", ".autotrace", "__pycache__", ".venv", "venv", "node_modules",
                     ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache"})


@dataclass(frozen=True)
class FileState:
    mode: int
    digest: bytes | None = None  # sha256 of the content, when contents are kept
    data: bytes | None = field(default=None, repr=False)


def project_files(root: Path, folders: dict[str, int] | None = None) -> Iterator[Path]:
    """Every regular file beneath ``root`` that is the user's (symlinks and :data:`SKIPPED` folders left out),
    folder by folder from the top; ``folders`` receives each folder walked with its modification time, read
    before the folder is listed (so an entry added meanwhile changes it)."""
    yield from (path for path, _ in _entries(str(root), folders))


def _entries(folder: str, folders: dict[str, int] | None) -> Iterator[tuple[Path, os.DirEntry[str]]]:
    below, files = [], []
    try:  # a folder that cannot be read is left out, as os.walk leaves it
        if folders is not None:
            folders[folder] = os.lstat(folder).st_mtime_ns
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in SKIPPED and not os.path.exists(os.path.join(entry.path, "pyvenv.cfg")):
                        below.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    files.append(entry)
    except OSError:
        return
    for entry in files:
        yield Path(entry.path), entry
    for path in below:
        yield from _entries(path, folders)


def snapshot(root: Path, *, contents: bool) -> dict[Path, FileState]:
    """Each project file's mode, and with ``contents`` its bytes and their hash."""
    return _snapshot(root, contents, None)


def _snapshot(root: Path, contents: bool, folders: dict[str, int] | None) -> dict[Path, FileState]:
    states = {}
    for path, entry in _entries(str(root), folders):
        mode = stat.S_IMODE(entry.stat(follow_symlinks=False).st_mode)
        if contents:
            data = path.read_bytes()
            states[path.relative_to(root)] = FileState(mode, hashlib.sha256(data).digest(), data)
        else:
            states[path.relative_to(root)] = FileState(mode)
    return states


@dataclass(frozen=True)
class Modes:
    """The project's file modes, with the modification time of each of its folders: adding, removing or
    renaming an entry changes its folder's time, so while no folder's changed the files are the same ones
    and taking the modes again is a stat of each (:meth:`refreshed`), not a walk of the tree."""

    root: Path
    states: dict[Path, FileState]
    folders: dict[str, int]

    @classmethod
    def taken(cls, root: Path) -> Modes:
        folders: dict[str, int] = {}
        return cls(root, _snapshot(root, False, folders), folders)

    def refreshed(self) -> Modes:
        """The modes as they are now (the user may have changed one since): read file by file while no
        folder changed, else taken again by a walk."""
        try:
            if any(os.lstat(folder).st_mtime_ns != time for folder, time in self.folders.items()):
                return Modes.taken(self.root)
            states = {}
            for rel in self.states:
                info = os.lstat(self.root / rel)
                if not stat.S_ISREG(info.st_mode):
                    return Modes.taken(self.root)
                states[rel] = FileState(stat.S_IMODE(info.st_mode))
        except OSError:  # a folder or a file gone
            return Modes.taken(self.root)
        return Modes(self.root, states, self.folders)


def restore(root: Path, before: dict[Path, FileState]) -> list[str]:
    """Put every file of ``before`` back as it was beneath ``root``; one line per change undone."""
    notes = []
    for rel, state in before.items():
        path = root / rel
        try:
            info = path.lstat()
        except FileNotFoundError:
            info = None
        if state.data is not None:
            if info is None or not stat.S_ISREG(info.st_mode):
                what = "deleted" if info is None else "replaced"
                if info is not None:
                    path.unlink()
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(path, state.data)
                os.chmod(path, state.mode)
                notes.append(f"tried to change {rel}: {what} it; restored")
                continue
            if hashlib.sha256(path.read_bytes()).digest() != state.digest:
                atomic_write(path, state.data)
                notes.append(f"tried to change {rel}: wrote it; restored")
        elif info is None:
            notes.append(f"{rel} is gone")  # cannot happen under Landlock; said rather than hidden
            continue
        if stat.S_IMODE(path.lstat().st_mode) != state.mode:
            os.chmod(path, state.mode)
            notes.append(f"tried to chmod {rel}: undone")
    return notes


@dataclass(frozen=True)
class Guarded:
    """One guarded evaluation: where the program runs (``root``: the project, or its private copy), the
    policy for the confined process, and ``mechanism`` as :func:`.confine.mechanism` names it."""

    project: Path
    root: Path
    policy: Confinement
    mechanism: str

    def cwd(self) -> Path:
        """Where the program starts: the current folder, moved into the copy when it lies in the project."""
        return Path(relocate(os.getcwd(), self.project, self.root))


def writable_folders(scratch: Path, project: Path) -> tuple[Path, ...]:
    """The scratch folder, ``/dev`` (``/dev/null``, ``/dev/shm``), the bytecode cache, and the system temp
    folder unless it holds the project (a project under /tmp must not become writable with it)."""
    system_temp = Path(tempfile.gettempdir()).resolve()
    folders = [scratch, Path("/dev"), bytecode_cache()]
    if not project.resolve().is_relative_to(system_temp):
        folders.append(system_temp)
    return tuple(folders)


class Baseline:
    """The project's state shared by the evaluations that run at the same time (``--jobs``): taken when the
    first of them starts, while none runs (so it is the project as the user left it; the modes are
    refreshed from the last evaluation's by change, :class:`Modes`), and restored by each when it ends.
    Separate snapshots would not do: one taken while another evaluation's change was still there (a chmod
    through a subprocess, a write past the private copy) would put it back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._states: dict[tuple[Path, bool], dict[Path, FileState]] = {}
        #: The modes of each project, kept from one evaluation to the next and refreshed by change.
        self._modes: dict[Path, Modes] = {}
        #: Held while one evaluation puts the project back, so that two never restore the same file at once.
        self.restoring = threading.Lock()

    @contextmanager
    def held(self, project: Path, *, contents: bool) -> Iterator[dict[Path, FileState]]:
        """The snapshot of ``project`` for one evaluation, for as long as it runs."""
        with self._lock:
            if self._running == 0:
                self._states.clear()
            self._running += 1
            try:
                states = self._states.get((project, contents))
                if states is None:
                    states = self._states[(project, contents)] = self._taken(project, contents)
            except BaseException:
                self._running -= 1
                raise
        try:
            yield states
        finally:
            with self._lock:
                self._running -= 1

    def _taken(self, project: Path, contents: bool) -> dict[Path, FileState]:
        if contents:
            return snapshot(project, contents=True)
        kept = self._modes.get(project)
        kept = self._modes[project] = kept.refreshed() if kept is not None else Modes.taken(project)
        return kept.states

    def shared(self) -> bool:
        """Whether another evaluation holds the snapshot now: a change undone then may be that one's."""
        with self._lock:
            return self._running > 1


@contextmanager
def guarded(project: Path, scratch: Path, *, network: bool = True,
            baseline: Baseline | None = None) -> Iterator[tuple[Guarded, list[str]]]:
    """Guard ``project`` for one evaluation whose scratch folder is ``scratch``; the list yielded receives
    one note per change the evaluation made to the project (and undone) once the block ends. Evaluations
    that run at the same time share one ``baseline``."""
    project = project.resolve()
    chosen = mechanism()
    copied = chosen != "landlock"
    baseline = baseline or Baseline()
    with baseline.held(project, contents=copied) as before:
        shared = baseline.shared()
        root = project
        if copied:
            root = scratch / "project" / project.name
            for rel, state in before.items():
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).write_bytes(state.data or b"")
                os.chmod(root / rel, state.mode)
        notes: list[str] = []
        try:
            yield Guarded(project, root, Confinement(writable_folders(scratch, project), network), chosen), notes
        finally:
            if copied:  # what the program did to its copy is what it would have done to the project
                notes.extend(restore(root, before))
            with baseline.restoring:
                beside = [note for note in restore(project, before) if note not in notes]
            if beside and (shared or baseline.shared()):
                beside = [f"{note} (this program's doing, or another's evaluated at the same time)" for note in beside]
            notes.extend(beside)


def relocated(job: Job, guard: Guarded) -> Job:
    """``job`` with its project paths pointing into ``guard.root`` (the same job when that is the project);
    its ``root`` stays the project's, the one the feedback names paths from."""
    return job.moved(PathMap(guard.project, guard.root))


def relocate(path: str, project: Path, root: Path) -> str:
    """``path`` as seen from ``root`` (the project's private copy) when it lies in ``project``."""
    return path if project == root else PathMap(project, root).path(path)

