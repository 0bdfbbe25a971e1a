"""The program's model calls as nodes of each example's graph.

The evaluation's worker gives the program a base URL of its own on the recording proxy
(``/r/<tag>/v1``, :mod:`autotrace.llm.proxy`), so that every call the program makes, through whatever
client, is filed under the evaluation; before each example it names the example to the proxy (the draw's
seed and the example's index: a sampled request is cached per example), after it takes that example's
calls and adds each as a
``call`` node (``chat.completions.create(model=..., messages=...)`` whose value is the reply's text) to
the example's graph: the optimizer then sees what the model was asked and what it answered, which a
prompt's effect is read from. Edges: a text parameter whose value went into the request is read by the
call (``reads``); the call's reply returns into the deepest recorded call whose result holds it, else into the
deepest one that reads such a parameter (``nested``), as a library call made inside that function would.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import networkx as nx

from autotrace import graph as g
from autotrace.llm.appcalls import AppCall
from autotrace.recorder import ParamNode

#: Set by the run for its evaluations (:mod:`.app_model`): the proxy's address, without ``/v1``.
PROXY_ENV = "AUTOTRACE_APP_PROXY"
BASE_URL_ENV = "OPENAI_BASE_URL"


class ModelCalls:
    """This evaluation's route through the proxy: :meth:`start` gives it a tag, :meth:`take` its calls."""

    def __init__(self, proxy: str, tag: str) -> None:
        self.proxy, self.tag = proxy, tag

    @classmethod
    def start(cls) -> ModelCalls | None:
        """Point the program's ``OPENAI_BASE_URL`` at this evaluation's route; None when the program's
        model is not behind autotrace's proxy (the user set their own endpoint)."""
        proxy = os.environ.get(PROXY_ENV)
        if not proxy or os.environ.get(BASE_URL_ENV) != f"{proxy}/v1":
            return None
        calls = cls(proxy, secrets.token_hex(8))
        os.environ[BASE_URL_ENV] = f"{proxy}/r/{calls.tag}/v1"
        return calls

    def stop(self) -> None:
        """Give the variable back (an in-process evaluation runs in autotrace's own process)."""
        os.environ[BASE_URL_ENV] = f"{self.proxy}/v1"

    def begin(self, example: str) -> None:
        """The next calls are made for ``example`` (its identity, the same in every run: the proxy keys
        a sampled request with it); the calls made before (at import) are no example's and are dropped."""
        self._post(f"/autotrace/begin/{self.tag}", {"example": example})

    def take(self) -> list[AppCall]:
        """The calls made since the last take ([] when the proxy cannot be asked: the graph lacks them)."""
        data = self._post(f"/autotrace/take/{self.tag}", None)
        return [AppCall.from_json(item) for item in data if isinstance(item, dict)] if isinstance(data, list) else []

    def _post(self, path: str, body: Any) -> Any:
        """The proxy's JSON answer to ``body`` at ``path`` (None when it cannot be asked)."""
        address = urlsplit(self.proxy)
        connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=30)
        try:
            connection.request("POST", path, body=b"" if body is None else json.dumps(body).encode("utf-8"))
            response = connection.getresponse()
            return json.loads(response.read()) if response.status == 200 else None
        except (OSError, http.client.HTTPException, ValueError):
            return None
        finally:
            connection.close()


def add_model_calls(graph: nx.DiGraph, calls: Sequence[AppCall], params: Sequence[ParamNode]) -> None:
    """Add ``calls`` (one example's, in order) to its ``graph`` as call nodes after the recorded ones."""
    recorded = [(node, attrs) for node, attrs in graph.nodes(data=True) if attrs.get("kind") == "call"]
    seq = 1 + max((a["seq"] for _, a in recorded if isinstance(a.get("seq"), int)), default=-1)
    for i, call in enumerate(calls):
        node = f"model:{i}"
        func = call.path.strip("/").replace("/", ".") + ".create"
        asked = {"model": g.short_repr(call.model, g.ARG_REPR_LIMIT),
                 _asked_name(call.path): g.short_repr(call.request, g.ARG_REPR_LIMIT)}
        texts = list(_strings(call.request))
        sent = [f"param:{p.name}" for p in params
                if isinstance(p.value, str) and p.value.strip() and any(p.value.strip() in text for text in texts)]
        caller = _caller(recorded, call.reply) or _reader(graph, recorded, sent)
        depth = (graph.nodes[caller].get("depth") or 0) + 1 if caller is not None else 0
        graph.add_node(node, kind="call", label=func, func=func, seq=seq + i, depth=depth, thread=0,
                       error=call.reply.startswith("error "), args=asked, value=g.short_repr(call.reply),
                       model_call=True, prompt_tokens=call.prompt_tokens, completion_tokens=call.completion_tokens,
                       seconds=call.seconds, cached=call.cached)
        graph.graph.setdefault("functions", {}).setdefault(func, {
            "source": "", "file": "", "line": 0,
            "doc": f"the program's call of its LLM ({call.model or 'the run model'}): what it was sent, and "
                   "the text of the model's reply as its result"})
        for param in sent:
            graph.add_edge(param, node, role="reads")
        if caller is not None:
            graph.add_edge(node, caller, role="nested")


def _asked_name(path: str) -> str:
    return "input" if "responses" in path else "prompt" if path.rstrip("/").endswith("/completions") \
        and "chat" not in path else "messages"


def _caller(recorded: Sequence[tuple[Any, dict[str, Any]]], reply: str) -> Any:
    """The deepest recorded call whose result holds the reply's text (None: no recorded call returned it)."""
    text = reply.strip()
    if not text:
        return None
    holding = [(attrs.get("depth") or 0, attrs.get("seq") or 0, node) for node, attrs in recorded
               if text in str(attrs.get("value", "")) or g.short_repr(reply) == attrs.get("value")]
    return max(holding)[2] if holding else None


def _reader(graph: nx.DiGraph, recorded: Sequence[tuple[Any, dict[str, Any]]], params: Sequence[str]) -> Any:
    """The deepest recorded call that reads one of ``params`` (the function that built the request, most
    likely, when no recorded result holds the reply's text as it came); None when none reads them."""
    readers = [(attrs.get("depth") or 0, attrs.get("seq") or 0, node) for node, attrs in recorded
               if any(graph.has_edge(param, node) for param in params)]
    return max(readers)[2] if readers else None


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
