"""Shared fixtures. ``llm_server`` is a real OpenAI-compatible HTTP server on 127.0.0.1 (see llmserver.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llmserver import ScriptedLLMServer


@pytest.fixture
def llm_server() -> Iterator[ScriptedLLMServer]:
    """A started scripted server; queue answers with ``llm_server.script(...)``. Stopped after the test."""
    with ScriptedLLMServer() as server:
        yield server
