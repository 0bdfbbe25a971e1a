"""How one evaluation in a worker ended, as a union of frozen dataclasses, and its one JSON codec.

:class:`Examples` is the normal end; the others say why there is nothing to judge: the judge is
broken (:class:`JudgeFailed`, bad input), the entry function is missing (:class:`EntryMissing`, bad
input), the program did not import or the worker failed (:class:`SetupFailed`, feedback for the
optimizer), or the worker process died or timed out before it reported (:class:`Crashed`). Each
carries what the confined program tried to change outside its folders (``attempts``) and the end of
what it printed (``output_tail``). :func:`outcome_to_json` and :func:`outcome_from_json` are the only
code that knows the result file's layout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from autotrace.evaluation import ExampleResult, examples_from_dicts


@dataclass(frozen=True, kw_only=True)
class _Ended:
    tag: ClassVar[str]
    attempts: tuple[str, ...] = ()  # what the program tried to change outside its writable folders
    output_tail: str = ""  # the end of what the worker printed


@dataclass(frozen=True, kw_only=True)
class Examples(_Ended):
    """The entry ran on every example and each was judged."""

    tag: ClassVar[str] = "examples"
    examples: tuple[ExampleResult, ...]
    #: The worker's seconds running the examples and judging them (not starting, not importing): what
    #: splitting them over several workers can save (:mod:`runners.shards`).
    seconds: float = 0.0


@dataclass(frozen=True)
class JudgeFailed(_Ended):
    """The judge could not be loaded, gave bad examples or raised: the user's input is wrong."""

    tag: ClassVar[str] = "judge_failed"
    reason: str


@dataclass(frozen=True)
class EntryMissing(_Ended):
    """The target module has no such entry function: no candidate can add it."""

    tag: ClassVar[str] = "entry_missing"
    reason: str


@dataclass(frozen=True)
class SetupFailed(_Ended):
    """The program did not import (or the worker itself failed): feedback, ranked below everything."""

    tag: ClassVar[str] = "setup_failed"
    reason: str
    traceback: str = ""


@dataclass(frozen=True)
class Crashed(_Ended):
    """The worker process ended (a signal, ``os._exit``, the timeout) before it reported a result."""

    tag: ClassVar[str] = "crashed"
    reason: str


WorkerOutcome = Examples | JudgeFailed | EntryMissing | SetupFailed | Crashed

_KINDS: dict[str, type[WorkerOutcome]] = {kind.tag: kind for kind in (Examples, JudgeFailed, EntryMissing,
                                                                       SetupFailed, Crashed)}


def outcome_to_json(outcome: WorkerOutcome) -> str:
    """``{"outcome": tag, field: value, ...}``, examples in :meth:`ExampleResult.to_dict`'s form."""
    data: dict[str, Any] = {"outcome": outcome.tag}
    for field in fields(outcome):
        value = getattr(outcome, field.name)
        data[field.name] = [e.to_dict() for e in value] if field.name == "examples" else value
    return json.dumps(data, default=str)  # a graph attribute that is no JSON type becomes its text


def outcome_from_json(text: str) -> WorkerOutcome:
    """Read :func:`outcome_to_json`'s text back; anything else raises ``ValueError``."""
    data = json.loads(text)
    kind = _KINDS.get(data.pop("outcome", None)) if isinstance(data, dict) else None
    if kind is None:
        raise ValueError(f"not a worker outcome: {text[:80]!r}")
    if "examples" in data:
        data["examples"] = examples_from_dicts(data["examples"])
    data["attempts"] = tuple(data.get("attempts", ()))
    try:
        return kind(**data)
    except TypeError as exc:
        raise ValueError(f"not a worker outcome: {exc}") from None
