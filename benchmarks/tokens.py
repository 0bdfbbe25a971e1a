"""Counting prompt tokens with the served model's own tokenizer (llama.cpp's ``/tokenize``).

Both sides' prompts are counted the same way: the text of every message, joined; the chat template's
few tokens per message are left out. Without a server, :func:`count` returns None and the callers
fall back to autotrace's estimate (``estimate_tokens``), saying so.
"""

from __future__ import annotations

import json
import urllib.request


def count(text: str, base_url: str | None) -> int | None:
    if not base_url:
        return None
    root = base_url.rstrip("/").removesuffix("/v1")
    request = urllib.request.Request(f"{root}/tokenize", json.dumps({"content": text}).encode(),
                                     {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return len(json.load(response)["tokens"])
    except (OSError, ValueError, KeyError):
        return None


def messages_text(messages: list[dict]) -> str:
    return "\n".join(str(m["content"]) for m in messages)
