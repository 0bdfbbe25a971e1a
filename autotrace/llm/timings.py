"""What the server says a call cost: prompt tokens it evaluated and took from its prefix cache, tokens it
generated, and the seconds of each, read from the answer itself.

Two forms are read. llama.cpp's server (the embedded model's) adds ``timings`` to each answer:
``prompt_n`` (prompt tokens evaluated), ``cache_n`` (taken from the cache), ``prompt_ms``, ``predicted_n``
and ``predicted_ms``. OpenAI-style servers say ``usage.prompt_tokens_details.cached_tokens`` (no seconds).
A server that says neither gives :data:`UNREPORTED`; sums keep whether anything was reported, so a step
of such a server shows no cache share rather than 0 %.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ServerTimings:
    """One call's (or a sum of calls') costs as the server reported them."""

    evaluated: int = 0  # prompt tokens the server computed
    reused: int = 0  # prompt tokens taken from its cache of earlier prompts
    generated: int = 0  # completion tokens
    prompt_seconds: float = 0.0  # spent evaluating the prompt (0 when the server does not say)
    generation_seconds: float = 0.0  # spent generating (0 when the server does not say)
    reported: bool = False  # the server said how much of the prompt it reused

    def __add__(self, other: ServerTimings) -> ServerTimings:
        return ServerTimings(self.evaluated + other.evaluated, self.reused + other.reused,
                             self.generated + other.generated, self.prompt_seconds + other.prompt_seconds,
                             self.generation_seconds + other.generation_seconds, self.reported or other.reported)

    @property
    def cache_share(self) -> float | None:
        """The share of the prompt tokens taken from the cache; None when the server did not say."""
        total = self.evaluated + self.reused
        return self.reused / total if self.reported and total else None

    def describe(self) -> str:
        """``cache 72%`` for the progress line; "" when the server did not say."""
        share = self.cache_share
        return "" if share is None else f"cache {share:.0%}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["prompt_seconds"] = round(self.prompt_seconds, 3)
        data["generation_seconds"] = round(self.generation_seconds, 3)
        data["cache_share"] = None if self.cache_share is None else round(self.cache_share, 4)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ServerTimings:
        """Read :meth:`to_json`'s form back (None or a missing key: nothing reported)."""
        if not data:
            return UNREPORTED
        return cls(int(data.get("evaluated") or 0), int(data.get("reused") or 0), int(data.get("generated") or 0),
                   float(data.get("prompt_seconds") or 0.0), float(data.get("generation_seconds") or 0.0),
                   bool(data.get("reported")))


UNREPORTED = ServerTimings()


def total(timings: Iterable[ServerTimings]) -> ServerTimings:
    """The sum of several calls' timings."""
    result = UNREPORTED
    for item in timings:
        result = result + item
    return result


def read_timings(body: Mapping[str, Any], prompt_tokens: int, completion_tokens: int) -> ServerTimings:
    """The timings in an answer's JSON ``body`` (its top level, as the server sent it); ``prompt_tokens``
    and ``completion_tokens``: its ``usage``, for a server that reports only cached tokens."""
    timings = body.get("timings")
    if isinstance(timings, Mapping) and _number(timings.get("prompt_n")) is not None:
        evaluated = int(_number(timings.get("prompt_n")) or 0)
        reused = _number(timings.get("cache_n"))
        if reused is None:  # an older llama.cpp: what the usage counts beyond the evaluated tokens was reused
            reused = max(prompt_tokens - evaluated, 0)
        return ServerTimings(evaluated, int(reused), int(_number(timings.get("predicted_n")) or completion_tokens),
                             (_number(timings.get("prompt_ms")) or 0.0) / 1000,
                             (_number(timings.get("predicted_ms")) or 0.0) / 1000, True)
    usage = body.get("usage")
    details = usage.get("prompt_tokens_details") if isinstance(usage, Mapping) else None
    cached = _number(details.get("cached_tokens")) if isinstance(details, Mapping) else None
    if cached is None:
        return ServerTimings(prompt_tokens, 0, completion_tokens)
    return ServerTimings(max(prompt_tokens - int(cached), 0), int(cached), completion_tokens, reported=True)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 else None
