"""The run's model, started on first use: :class:`LazyEndpoint` wraps :func:`.select.llm_endpoint`.

Why lazily: the program's own model calls (through the recording proxy, :mod:`.proxy`) may need the run's
model while the initial values are evaluated, before the optimizer asks anything; a program that never
calls a model, or input that is bad, should not pay for starting one. Whoever asks first (the proxy's
thread or the loop) starts it; it stops when the block ends.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import replace

from .client import LLMConfig
from .select import LOCAL, llm_endpoint


class LazyEndpoint:
    """``with LazyEndpoint(config, ...) as endpoint: ... endpoint.get()`` -> the ready :class:`LLMConfig`.

    The user's ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` are read when this is made: the run may point
    those variables at its proxy afterwards, for the program's sake, and the optimizer must not follow."""

    def __init__(self, config: LLMConfig, *, gguf: str | None = None, say: Callable[[str], None] = lambda t: None,
                 slots: int = 1) -> None:
        if config.model != LOCAL:
            config = replace(config, base_url=config.base_url or os.environ.get("OPENAI_BASE_URL"),
                             api_key=config.api_key or os.environ.get("OPENAI_API_KEY") or "not-needed")
        self.config = config
        self._options = {"gguf": gguf, "say": say, "slots": slots}
        self._stack = contextlib.ExitStack()
        self._ready: LLMConfig | None = None
        self._lock = threading.Lock()

    def get(self) -> LLMConfig:
        """The endpoint, started on the first call (every later call waits for it and gets the same)."""
        with self._lock:
            if self._ready is None:
                self._ready = self._stack.enter_context(llm_endpoint(self.config, **self._options))  # type: ignore[arg-type]
            return self._ready

    def __enter__(self) -> LazyEndpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._ready = None
            self._stack.close()
