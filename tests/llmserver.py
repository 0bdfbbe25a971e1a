"""A scripted, OpenAI-compatible HTTP server for tests: real sockets, canned answers, injected faults.

Tests drive the real ``openai`` client against it, so the whole network path (HTTP framing, status
codes, headers, timeouts, half-sent bodies) is exercised instead of a mocked client object.

Usage::

    with ScriptedLLMServer() as server:
        server.script('{"x": 1}', Fault.status(503, retry_after=0.1), {"x": 2})
        client = openai.OpenAI(base_url=server.base_url, api_key="k")
        ...
        assert server.requests[0].json["model"] == "m"

Replies are consumed one per chat-completion request, in order. An empty queue answers HTTP 500
"script exhausted" so a test that makes more calls than it scripted fails loudly.

``prefix_cache="llama"`` keeps the last prompt as llama.cpp's single slot does and reports, as its
server does, ``timings`` (``prompt_n`` evaluated, ``cache_n`` reused: the prompt's common prefix with the
previous request's, at four characters a token; ``prompt_ms``, ``predicted_n``, ``predicted_ms`` at
:data:`PROMPT_MS_PER_TOKEN` and :data:`PREDICTED_MS_PER_TOKEN`); ``prefix_cache="openai"`` reports the same
reuse as ``usage.prompt_tokens_details.cached_tokens``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: Prompt-side overhead per message, roughly what chat templates add.
_TOKENS_PER_MESSAGE = 4
#: Milliseconds the ``prefix_cache="llama"`` server reports per prompt token evaluated and per token generated.
PROMPT_MS_PER_TOKEN = 2.0
PREDICTED_MS_PER_TOKEN = 50.0


@dataclass(frozen=True)
class Fault:
    """A failure to inject instead of (or before) a normal answer.

    To simulate a refused connection, stop the server: nothing listens on its port afterwards.
    """

    kind: str
    seconds: float = 0.0
    status_code: int = 0
    retry_after: float | None = None
    then: Reply | None = None

    @staticmethod
    def delay(seconds: float, then: Reply = "late answer") -> Fault:
        """Sleep ``seconds`` before answering with ``then`` (a client with a shorter timeout gives up)."""
        return Fault("delay", seconds=seconds, then=then)

    @staticmethod
    def status(code: int, retry_after: float | None = None) -> Fault:
        """Answer with an OpenAI-style error body and HTTP ``code``, optionally with ``Retry-After``."""
        return Fault("status", status_code=code, retry_after=retry_after)

    @staticmethod
    def cut() -> Fault:
        """Send status and headers announcing a full body, write part of it, then close the socket."""
        return Fault("cut")


Reply = str | dict | Fault | Callable[[dict], Any]


@dataclass
class RecordedRequest:
    """One request as the server saw it; ``headers`` keys are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    json: dict | None
    at: float = field(default_factory=time.monotonic)


def estimate_tokens(text: str) -> int:
    """About four characters per token, the usual rule of thumb for English and code."""
    return max(1, (len(text) + 3) // 4) if text else 0


class ScriptedLLMServer:
    """OpenAI-compatible server on 127.0.0.1 with an ephemeral port, serving in a daemon thread.

    ``supports_json_schema=False`` / ``supports_json_object=False`` make it reject those
    ``response_format`` types with HTTP 400, as many local servers do; ``supports_length_limits=False``
    rejects a ``json_schema`` holding ``minLength`` / ``maxLength``, as OpenAI's strict mode does;
    ``supports_stop=False`` rejects ``stop`` sequences, as OpenAI's reasoning models do. Such rejections
    consume no scripted reply. ``stop`` sequences end a scripted answer where a real server would.
    """

    def __init__(
        self,
        *,
        model: str = "scripted-model",
        supports_json_schema: bool = True,
        supports_json_object: bool = True,
        supports_length_limits: bool = True,
        supports_stop: bool = True,
        prefix_cache: str | None = None,
    ) -> None:
        if prefix_cache not in (None, "llama", "openai"):
            raise ValueError(f"prefix_cache must be None, 'llama' or 'openai', not {prefix_cache!r}")
        self.model = model
        self.prefix_cache = prefix_cache
        self._last_prompt = ""  # the prompt text of the previous chat request (the cached slot)
        self.supports_json_schema = supports_json_schema
        self.supports_json_object = supports_json_object
        self.supports_length_limits = supports_length_limits
        self.supports_stop = supports_stop
        self.requests: list[RecordedRequest] = []
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> ScriptedLLMServer:
        handler = type("Handler", (_Handler,), {"owner": self})
        self._httpd = _HTTPServer(("127.0.0.1", 0), handler)
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="llmserver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and drop open keep-alive connections: later requests are refused."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd.drop_connections()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ScriptedLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/v1"

    # -- scripting ---------------------------------------------------------------------------

    def script(self, *replies: Reply) -> None:
        """Queue replies for the next chat-completion requests, in order."""
        with self._lock:
            self._replies.extend(replies)

    @property
    def pending(self) -> int:
        """Scripted replies not consumed yet."""
        with self._lock:
            return len(self._replies)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _next_reply(self) -> Reply | None:
        with self._lock:
            return self._replies.popleft() if self._replies else None


class _HTTPServer(ThreadingHTTPServer):
    """Tracks live connections so :meth:`ScriptedLLMServer.stop` can cut keep-alive clients off too."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        with self._connections_lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the peer
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    owner: ScriptedLLMServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence per-request logging; tests assert on :attr:`ScriptedLLMServer.requests` instead."""

    # -- routing -----------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self.owner._record(RecordedRequest("GET", self.path, self._headers(), None))
        if self.path.rstrip("/") == "/health":
            self._send_json(200, {"status": "ok"})
        elif self.path.rstrip("/") == "/v1/models":
            model = {"id": self.owner.model, "object": "model", "created": 0, "owned_by": "autotrace-tests"}
            self._send_json(200, {"object": "list", "data": [model]})
        else:
            self._send_error(404, f"no route for GET {self.path}", "not_found_error")

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        self.owner._record(RecordedRequest("POST", self.path, self._headers(), body))
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send_error(404, f"no route for POST {self.path}", "not_found_error")
        elif not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self._send_error(400, "request body must be a JSON object with 'messages'", "invalid_request_error")
        elif (rejection := self._unsupported_format(body)) is not None:
            self._send_error(400, rejection, "invalid_request_error")
        else:
            self._answer(body, self.owner._next_reply())

    def _unsupported_format(self, body: dict) -> str | None:
        kind = (body.get("response_format") or {}).get("type")
        if kind == "json_schema" and not self.owner.supports_json_schema:
            return "response_format type 'json_schema' is not supported by this server"
        if kind == "json_schema" and not self.owner.supports_length_limits:
            schema = json.dumps(body["response_format"].get("json_schema", {}).get("schema"))
            for keyword in ("minLength", "maxLength"):
                if f'"{keyword}"' in schema:
                    return f"Invalid schema for response_format: '{keyword}' is not permitted"
        if kind == "json_object" and not self.owner.supports_json_object:
            return "response_format type 'json_object' is not supported by this server"
        if body.get("stop") and not self.owner.supports_stop:
            return "Unsupported parameter: 'stop' is not supported with this model."
        return None

    # -- answers -----------------------------------------------------------------------------

    def _answer(self, body: dict, reply: Reply | None) -> None:
        while callable(reply):
            reply = reply(body)
        if reply is None:
            self._send_error(500, "script exhausted: the test made more requests than it scripted", "server_error")
        elif isinstance(reply, Fault):
            self._fault(body, reply)
        else:
            content = reply if isinstance(reply, str) else json.dumps(reply)
            if body.get("stream"):
                self._send_stream(body, content)
            else:
                self._send_json(200, self._completion(body, content))

    def _fault(self, body: dict, fault: Fault) -> None:
        if fault.kind == "delay":
            time.sleep(fault.seconds)
            self._answer(body, fault.then)
        elif fault.kind == "status":
            headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
            self._send_error(fault.status_code, f"injected HTTP {fault.status_code}", "server_error", headers)
        elif fault.kind == "cut":
            payload = json.dumps(self._completion(body, '{"never": "complete"}')).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)  # the client sees EOF mid-body
        else:
            raise ValueError(f"unknown fault {fault.kind!r}")

    def _completion(self, body: dict, content: str) -> dict:
        content, finish, usage = self._generate(body, content)
        extra = self._cache_report(body, usage)
        return {**extra,
            "id": f"chatcmpl-{len(self.owner.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.owner.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
            "usage": usage,
        }

    def _generate(self, body: dict, content: str) -> tuple[str, str, dict]:
        """Apply ``stop`` and ``max_tokens`` like a real server (cut the text; finish_reason "length" at the
        limit) and count usage."""
        limit = body.get("max_tokens") or body.get("max_completion_tokens")
        finish = "stop"
        stops = body.get("stop") or []
        ends = [i for i in (content.find(text) for text in ([stops] if isinstance(stops, str) else stops)) if i >= 0]
        if ends:  # the text up to the first stop sequence, which is left out, as llama.cpp and OpenAI do
            content = content[: min(ends)]
        if limit and estimate_tokens(content) > limit:
            content, finish = content[: limit * 4], "length"
        prompt = sum(estimate_tokens(_text_of(m.get("content"))) + _TOKENS_PER_MESSAGE for m in body["messages"])
        completion = estimate_tokens(content)
        usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
        return content, finish, usage

    def _cache_report(self, body: dict, usage: dict) -> dict:
        """``timings`` (llama) or ``usage.prompt_tokens_details`` (openai) for this prompt, given the last."""
        text = "".join(f"<{m.get('role')}>{_text_of(m.get('content'))}" for m in body["messages"])
        with self.owner._lock:
            last, self.owner._last_prompt = self.owner._last_prompt, text
        if self.owner.prefix_cache is None:
            return {}
        common = len(os.path.commonprefix([last, text]))
        # at least one token is always evaluated, as a real server re-reads the last one to generate
        reused = min(common // 4, usage["prompt_tokens"] - 1)
        evaluated = usage["prompt_tokens"] - reused
        if self.owner.prefix_cache == "openai":
            usage["prompt_tokens_details"] = {"cached_tokens": reused}
            return {}
        generated = usage["completion_tokens"]
        return {"timings": {"cache_n": reused, "prompt_n": evaluated, "prompt_ms": evaluated * PROMPT_MS_PER_TOKEN,
                            "predicted_n": generated, "predicted_ms": generated * PREDICTED_MS_PER_TOKEN}}

    def _send_stream(self, body: dict, content: str) -> None:
        content, finish, usage = self._generate(body, content)
        base = {
            "id": f"chatcmpl-{len(self.owner.requests)}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model") or self.owner.model,
        }
        pieces = [content[i : i + 16] for i in range(0, len(content), 16)]
        chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
        chunks += [{**base, "choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
        chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            chunks.append({**base, "choices": [], "usage": usage})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        for chunk in chunks:
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    # -- plumbing ----------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.headers.items()}

    def _send_error(self, code: int, message: str, kind: str, headers: dict[str, str] | None = None) -> None:
        self._send_json(code, {"error": {"message": message, "type": kind, "code": code}}, headers)

    def _send_json(self, code: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its timeout fired during a delay)


def _text_of(content: Any) -> str:
    """Message content is a string or a list of typed parts; count only the text."""
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content or ""
