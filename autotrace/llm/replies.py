"""Reading an OpenAI-compatible reply as the recording proxy (:mod:`.proxy`) passed it on: its text and its
token counts, for chat completions, completions and the responses API, streamed or not. Best effort: a
reply of another shape gives its raw body as text and no tokens, never an error (the program gets the
reply whatever autotrace makes of it)."""

from __future__ import annotations

import json
from typing import Any

from autotrace.llm.appcalls import CachedReply


def reply_text(reply: CachedReply) -> str:
    """The text a reply carries (a chat message's content, a completion's text, the responses API's
    output text, a stream's deltas joined), or its error message."""
    if reply.content_type.startswith("text/event-stream"):
        parts = []
        for line in reply.body.splitlines():
            if line.startswith("data:") and line[5:].strip() != "[DONE]":
                try:
                    event = json.loads(line[5:])
                except ValueError:
                    continue
                for choice in (event.get("choices") or []) if isinstance(event, dict) else []:
                    delta = choice.get("delta") or {}
                    parts.append(str(delta.get("content") or choice.get("text") or ""))
                if isinstance(event, dict) and event.get("type") == "response.output_text.delta":
                    parts.append(str(event.get("delta") or ""))
        return "".join(parts)
    try:
        data = json.loads(reply.body)
    except ValueError:
        return reply.body
    if not isinstance(data, dict):
        return reply.body
    if "error" in data and reply.status != 200:
        return f"error {reply.status}: {(data['error'] or {}).get('message', '')}"
    choices = data.get("choices") or []
    if choices and isinstance(choices[0], dict):
        first = choices[0]
        return str((first.get("message") or {}).get("content") or first.get("text") or "")
    texts = [part.get("text", "") for item in data.get("output") or [] if isinstance(item, dict)
             for part in item.get("content") or [] if isinstance(part, dict)]
    return "".join(texts)


def _tokens(usage: Any) -> tuple[int, int]:
    """Prompt and completion tokens of a ``usage`` object (chat and completions, or the responses API's)."""
    if not isinstance(usage, dict):
        return 0, 0
    prompt = usage.get("prompt_tokens", usage.get("input_tokens")) or 0
    completion = usage.get("completion_tokens", usage.get("output_tokens")) or 0
    return (int(prompt), int(completion)) if isinstance(prompt, int) and isinstance(completion, int) else (0, 0)


def body_usage(text: str) -> tuple[int, int]:
    try:
        data = json.loads(text)
    except ValueError:
        return 0, 0
    return _tokens(data.get("usage")) if isinstance(data, dict) else (0, 0)


def stream_usage(text: str) -> tuple[int, int]:
    """The usage a stream reports (its last chunk with one: ``stream_options.include_usage``, or the
    responses API's ``response.completed`` event); (0, 0) when it reports none."""
    found = (0, 0)
    for line in text.splitlines():
        if not line.startswith("data:") or line[5:].strip() == "[DONE]":
            continue
        try:
            event = json.loads(line[5:])
        except ValueError:
            continue
        if isinstance(event, dict):
            usage = event.get("usage") or (event.get("response") or {}).get("usage")
            if usage:
                found = _tokens(usage)
    return found
