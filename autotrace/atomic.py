"""Crash-safe file replacement: a reader (or a crash) sees the old bytes or the new bytes, never half a file.

autotrace writes into the user's source tree; a torn write there would cost the user their code, so every
write goes through :func:`atomic_write`.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path


def atomic_write(path: Path | str, data: bytes, *, durable: bool = True) -> None:
    """Replace the file at ``path`` with ``data`` in one step, keeping its permission bits.

    The bytes go to a temporary file in the same directory (``os.replace`` is atomic only within one file
    system) and reach the disk before the rename; the directory is synced after it, so the rename itself
    survives a power cut. The temporary file is removed on any error. A symlink is written through, not
    replaced by a regular file. A new file gets the default mode (0o666 less the umask). ``durable=False``
    skips the syncs, for files that can be made again (a cache): still never half-written, not
    guaranteed to survive a power cut.
    """
    target = Path(os.path.realpath(path))
    try:
        mode: int | None = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = None
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            if durable:
                os.fsync(stream.fileno())
        if mode is not None:
            os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    if durable:
        _fsync_directory(target.parent)


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (POSIX only: Windows cannot open a directory, NTFS journals it)."""
    if os.name == "nt":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
