"""Write optimized parameter values back into the user's source files, as a reviewable patch.

Each file is rewritten by :mod:`autotrace.transforms.rewrite` (only the values change, everything else
stays byte-for-byte) and diffed against the original.

A run's patch is saved as ``patch.diff`` (for review, ``git apply`` or ``patch -p1``), ``backup/REL``
(original bytes), ``new/REL`` (patched bytes) and ``manifest.json`` (hashes). :func:`apply_saved` and
:func:`revert_saved` write all files or none, and only over the exact content the patch was made from.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from autotrace.atomic import atomic_write
from autotrace.params import ParamKind, ParamSpec
from autotrace.transforms.rewrite import CodeValue, LiteralValue, Replacement, RewriteError, rewrite_file


class PatchError(Exception):
    """A value cannot be written back, or a saved patch cannot be applied or reverted as asked."""


@dataclass(frozen=True)
class FileChange:
    """One rewritten file; ``old``/``new`` are exact bytes, ``mode`` the file's permission bits."""

    relpath: str
    old: bytes
    new: bytes
    old_sha256: str
    mode: int = 0o644


@dataclass(frozen=True)
class Patch:
    """Changed files and their unified diff (``a/REL`` / ``b/REL``, ``-p1``).

    ``diff`` holds each file's bytes decoded as UTF-8 with ``surrogateescape``, so a latin-1 file's bytes
    survive the round trip: use :attr:`diff_bytes` to write or pipe it.
    """

    files: list[FileChange]
    diff: str

    @property
    def diff_bytes(self) -> bytes:
        return self.diff.encode("utf-8", "surrogateescape")


def make_patch(root: Path, changes: Sequence[tuple[ParamSpec, Any]]) -> Patch:
    """Rewrite every file that holds one of ``changes`` (in memory) and diff it against the original.

    Code parameters (:attr:`ParamKind.CODE`) take source text, literal parameters Python values.
    Files whose bytes come out unchanged are left out, so no changes give an empty diff.
    """
    root = root.resolve()  # the scanner's ParamSpec.path is resolved too
    by_file: dict[Path, dict[str, Replacement]] = {}
    for spec, value in changes:
        replacement = CodeValue(value) if spec.kind is ParamKind.CODE else LiteralValue(value)
        by_file.setdefault((root / spec.path).resolve(), {})[spec.qualname] = replacement
    files: list[FileChange] = []
    for path, file_changes in sorted(by_file.items()):
        try:
            relpath = path.relative_to(root).as_posix()
        except ValueError:
            raise PatchError(f"{path}: outside the project root {root}") from None
        try:
            old = path.read_bytes()
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError as error:
            raise PatchError(f"{relpath}: cannot read: {error}") from None
        try:
            new = rewrite_file(old, file_changes, filename=relpath)
        except RewriteError as error:
            raise PatchError(str(error)) from None
        if new != old:
            files.append(FileChange(relpath, old, new, hashlib.sha256(old).hexdigest(), mode))
    return Patch(files, "".join(_unified_diff(change) for change in files))


def _unified_diff(change: FileChange) -> str:
    """A ``-p1`` unified diff that reproduces the bytes: only ``\\n`` ends a line, ``\\r`` stays content.

    A name with a space gets a trailing tab, as git writes it, or ``patch`` would cut the name there.
    """
    end = "\t" if " " in change.relpath else ""
    lines = difflib.unified_diff(
        _split_lines(change.old), _split_lines(change.new), f"a/{change.relpath}{end}", f"b/{change.relpath}{end}"
    )
    return "".join(line if line.endswith("\n") else f"{line}\n\\ No newline at end of file\n" for line in lines)


def _split_lines(data: bytes) -> list[str]:
    text = data.decode("utf-8", "surrogateescape")
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def _sha256(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------------------------
# Saved patches


def save_patch(run_dir: Path, patch: Patch) -> None:
    """Store ``patch`` in ``run_dir``; the manifest is written last, so it only exists for a complete save."""
    entries = []
    for change in patch.files:
        _store(_inside(run_dir / "backup", change.relpath), change.old)
        _store(_inside(run_dir / "new", change.relpath), change.new)
        entries.append(
            {
                "relpath": change.relpath,
                "old_sha256": change.old_sha256,
                "new_sha256": _sha256(change.new),
                "mode": change.mode,
            }
        )
    _store(run_dir / "patch.diff", patch.diff_bytes)
    _store(run_dir / "manifest.json", json.dumps({"version": 1, "files": entries}, indent=2).encode() + b"\n")


def apply_saved(root: Path, run_dir: Path) -> list[str]:
    """Apply the patch saved in ``run_dir`` to the files under ``root``; return the paths written.

    Refuses, writing nothing, unless every file still has exactly the content the patch was made from.
    """
    entries = _load_manifest(run_dir)
    plan: list[tuple[str, bytes, bytes]] = []
    changed: list[str] = []
    already_patched = 0
    for entry in entries:
        relpath = entry["relpath"]
        data = _read(_inside(root, relpath))
        digest = _sha256(data)
        if data is not None and digest == entry["old_sha256"]:
            plan.append((relpath, data, _saved(run_dir / "new", entry, "new_sha256")))
        else:
            changed.append(relpath)
            already_patched += digest == entry["new_sha256"]
    if changed and already_patched == len(entries):
        raise PatchError(f"patch in {run_dir} is already applied")
    if changed:
        raise PatchError(f"files changed since the patch was made, nothing applied: {', '.join(changed)}")
    return _write_all(root, plan)


def revert_saved(root: Path, run_dir: Path) -> list[str]:
    """Put back the original bytes of the files the saved patch changed; return the paths written.

    Files already equal to their backup are skipped; any other file that is not exactly the patched
    content makes it refuse, writing nothing.
    """
    entries = _load_manifest(run_dir)
    plan: list[tuple[str, bytes, bytes]] = []
    changed: list[str] = []
    for entry in entries:
        relpath = entry["relpath"]
        data = _read(_inside(root, relpath))
        digest = _sha256(data)
        if data is not None and digest == entry["new_sha256"]:
            plan.append((relpath, data, _saved(run_dir / "backup", entry, "old_sha256")))
        elif digest != entry["old_sha256"]:
            changed.append(relpath)
    if changed:
        raise PatchError(f"files changed since the patch was applied, nothing reverted: {', '.join(changed)}")
    return _write_all(root, plan)


def _write_all(root: Path, plan: list[tuple[str, bytes, bytes]]) -> list[str]:
    """Write each ``(relpath, before, after)``; if one write fails, restore the ones already written."""
    written: list[tuple[str, bytes]] = []
    try:
        for relpath, before, after in plan:
            atomic_write(_inside(root, relpath), after)
            written.append((relpath, before))
    except BaseException as error:
        lost = _roll_back(root, written)
        if not isinstance(error, OSError):
            raise
        failed = plan[len(written)][0]
        outcome = f"could not restore {', '.join(lost)}" if lost else "the other files were restored"
        raise PatchError(f"cannot write {failed} ({error}); {outcome}") from error
    return [relpath for relpath, _ in written]


def _roll_back(root: Path, written: list[tuple[str, bytes]]) -> list[str]:
    """Restore files from their in-memory previous bytes; return those that could not be restored."""
    lost = []
    for relpath, before in reversed(written):
        try:
            atomic_write(_inside(root, relpath), before)
        except OSError:
            lost.append(relpath)
    return lost


def _load_manifest(run_dir: Path) -> list[dict[str, Any]]:
    try:
        files: list[dict[str, Any]] = json.loads((run_dir / "manifest.json").read_bytes())["files"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise PatchError(f"no readable saved patch in {run_dir}: {error}") from None
    return files


def _saved(directory: Path, entry: dict[str, Any], hash_key: str) -> bytes:
    """Stored bytes of one file, checked against the manifest so a damaged run dir is never written out."""
    data = _read(_inside(directory, entry["relpath"]))
    if data is None or _sha256(data) != entry[hash_key]:
        raise PatchError(f"{directory / entry['relpath']}: missing or does not match the manifest")
    return data


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _store(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, data)


def _inside(base: Path, relpath: str) -> Path:
    """``base / relpath``, refusing paths (from a manifest) that could point outside ``base``."""
    parts = PurePosixPath(relpath).parts
    if not parts or PurePosixPath(relpath).is_absolute() or ".." in parts:
        raise PatchError(f"unsafe path in patch: {relpath!r}")
    return base.joinpath(*parts)
