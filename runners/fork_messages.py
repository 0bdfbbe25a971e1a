"""The fork server's messages (:mod:`.forkserver`), as a union of frozen dataclasses, and their one codec.

One JSON object per line, tagged by ``"message"``. autotrace sends :class:`Warm` once, then a
:class:`Fork` per evaluation; the server answers :class:`Ready` or :class:`Unsafe` to the first, and
:class:`Ended` to each fork when its child has ended. :func:`encode` and :func:`decode` are the only code
that knows the layout; a line that is not one of these messages raises :class:`ProtocolError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any, ClassVar


class ProtocolError(ValueError):
    """A line that is no fork-server message; the text says what is wrong with it."""


@dataclass(frozen=True)
class Warm:
    """Import what every evaluation imports: the judge's libraries with the project's ``search_roots``
    on the path, the libraries the program's ``files`` import, and LibCST when evaluations ``rewrite``
    source (code parameters, no bytecode cache)."""

    tag: ClassVar[str] = "warm"
    search_roots: tuple[str, ...]
    judge: str | None
    rewrites: bool
    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ready:
    """Warmed: forking is safe."""

    tag: ClassVar[str] = "ready"


@dataclass(frozen=True)
class Unsafe:
    """Forking the warmed process is unsafe, and why (the judge started a thread)."""

    tag: ClassVar[str] = "unsafe"
    reason: str


@dataclass(frozen=True)
class Fork:
    """Fork a worker for the job prepared in ``folder`` (``job.json``, ``policy.json``), started in
    ``cwd``, under these limits (``memory`` None: no limit)."""

    tag: ClassVar[str] = "fork"
    id: int
    folder: str
    cwd: str
    timeout: float
    memory: int | None
    output: int


@dataclass(frozen=True)
class Ended:
    """Fork ``id``'s child ended with ``returncode`` (negative: the signal), killed by its timeout or not."""

    tag: ClassVar[str] = "ended"
    id: int
    returncode: int
    timed_out: bool


Message = Warm | Ready | Unsafe | Fork | Ended

_KINDS: dict[str, type[Message]] = {kind.tag: kind for kind in (Warm, Ready, Unsafe, Fork, Ended)}
#: Each field's check and what it must be, by its annotation.
_CHECKS: dict[str, tuple[str, Any]] = {
    "str": ("a string", lambda v: isinstance(v, str)),
    "str | None": ("a string or null", lambda v: v is None or isinstance(v, str)),
    "bool": ("true or false", lambda v: isinstance(v, bool)),
    "int": ("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "int | None": ("a whole number or null", lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool))),
    "float": ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
    "tuple[str, ...]": ("a list of strings", lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v)),
}


def encode(message: Message) -> bytes:
    """One line: ``{"message": tag, field: value, ...}``."""
    data: dict[str, Any] = {"message": message.tag}
    for field in fields(message):
        value = getattr(message, field.name)
        data[field.name] = list(value) if isinstance(value, tuple) else value
    return json.dumps(data).encode() + b"\n"


def decode(line: bytes | str) -> Message:
    """Read :func:`encode`'s line back; anything else raises :class:`ProtocolError`."""
    try:
        data = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"not a fork-server message (no JSON: {exc}): {line[:80]!r}") from None
    kind = _KINDS.get(str(data.get("message"))) if isinstance(data, dict) else None
    if kind is None:
        raise ProtocolError(f"not a fork-server message: {line[:80]!r}")
    values: dict[str, Any] = {}
    for field in fields(kind):
        if field.name not in data:
            raise ProtocolError(f"fork-server message {kind.tag!r} without {field.name!r}")
        what, check = _CHECKS[str(field.type)]
        value = data[field.name]
        if not check(value):
            raise ProtocolError(f"fork-server message {kind.tag!r}: {field.name} must be {what}, not {value!r}")
        values[field.name] = tuple(value) if isinstance(value, list) else value
    extra = set(data) - {"message"} - set(values)
    if extra:
        raise ProtocolError(f"fork-server message {kind.tag!r} with unknown fields: {', '.join(sorted(extra))}")
    return kind(**values)
