"""What the program's own model calls are, as the run store keeps them: one reply the recording proxy
(:mod:`autotrace.llm.proxy`) can serve again (:class:`CachedReply`), and what a run's calls cost
(:class:`AppUsage`, per run and per step in :class:`AppUsageRecord`).

They are kept apart from the optimizer's tokens because they are a different cost: the program's calls
grow with examples x candidates, the optimizer's with steps. Each type's ``to_json``/``from_json`` is its
one codec between the proxy, the store and ``autotrace show``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class CachedReply:
    """One upstream answer exactly as it was sent back (status, content type, the body's text: a JSON
    document, or a whole ``text/event-stream`` when the request was streamed), with its token counts."""

    status: int
    content_type: str
    body: str
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "content_type": self.content_type, "body": self.body,
                "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CachedReply:
        return cls(int(data["status"]), str(data["content_type"]), str(data["body"]),
                   int(data.get("prompt_tokens") or 0), int(data.get("completion_tokens") or 0))


@dataclass(frozen=True)
class AppUsage:
    """The program's model calls over some span: requests answered (``calls``, cached ones included),
    how many of them the cache answered, the tokens the model spent on the others, and their seconds."""

    calls: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    def __add__(self, other: AppUsage) -> AppUsage:
        return AppUsage(self.calls + other.calls, self.cached + other.cached,
                        self.prompt_tokens + other.prompt_tokens, self.completion_tokens + other.completion_tokens,
                        self.seconds + other.seconds)

    def __sub__(self, other: AppUsage) -> AppUsage:
        return AppUsage(self.calls - other.calls, self.cached - other.cached,
                        self.prompt_tokens - other.prompt_tokens, self.completion_tokens - other.completion_tokens,
                        self.seconds - other.seconds)

    def describe(self) -> str:
        """``12 calls (4 cached), 830+96 tok, 3.1s``: how the progress line, ``show`` and ``runs`` say it."""
        cached = f" ({self.cached} cached)" if self.cached else ""
        return (f"{self.calls} call{'' if self.calls == 1 else 's'}{cached}, "
                f"{self.prompt_tokens:,}+{self.completion_tokens:,} tok, {self.seconds:.1f}s")

    def to_json(self) -> dict[str, Any]:
        return {"calls": self.calls, "cached": self.cached, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "seconds": round(self.seconds, 3)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AppUsage:
        return cls(int(data.get("calls") or 0), int(data.get("cached") or 0), int(data.get("prompt_tokens") or 0),
                   int(data.get("completion_tokens") or 0), float(data.get("seconds") or 0.0))


@dataclass(frozen=True)
class AppUsageRecord:
    """A run's program calls: in all, and by the step whose progress line they were counted in (step 0:
    the initial values' evaluation). Stored once per run (``RunStore.set_app_usage``)."""

    total: AppUsage = field(default_factory=AppUsage)
    steps: Mapping[int, AppUsage] = field(default_factory=dict)

    def plus(self, step: int, usage: AppUsage) -> AppUsageRecord:
        """This record with ``usage`` counted at ``step`` (added to what the step had: a resumed run)."""
        steps = dict(self.steps)
        steps[step] = steps.get(step, AppUsage()) + usage
        return replace(self, total=self.total + usage, steps=steps)

    def to_json(self) -> dict[str, Any]:
        return {"total": self.total.to_json(), "steps": {str(k): v.to_json() for k, v in sorted(self.steps.items())}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AppUsageRecord:
        return cls(AppUsage.from_json(data.get("total") or {}),
                   {int(k): AppUsage.from_json(v) for k, v in (data.get("steps") or {}).items()})


@dataclass(frozen=True)
class AppCall:
    """One model call of the program as the proxy saw it, for the example's graph: the endpoint path
    (``/chat/completions``), the model that answered, what was asked (the messages, or the prompt or
    input) and the reply's text, its tokens and seconds, and whether the cache answered it."""

    path: str
    model: str
    request: Any  # the request's messages (or prompt, or input), JSON as sent
    reply: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "model": self.model, "request": self.request, "reply": self.reply,
                "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "seconds": round(self.seconds, 3), "cached": self.cached}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AppCall:
        return cls(str(data["path"]), str(data.get("model") or ""), data.get("request"), str(data.get("reply") or ""),
                   int(data.get("prompt_tokens") or 0), int(data.get("completion_tokens") or 0),
                   float(data.get("seconds") or 0.0), bool(data.get("cached")))
