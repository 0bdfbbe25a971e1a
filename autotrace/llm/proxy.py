"""A recording proxy in front of the program's model: an OpenAI-compatible HTTP server on 127.0.0.1 that
forwards each request to the real endpoint, answers a repeated request from the run store, and counts
what the calls cost.

Why a proxy and not a patched client: the program under optimization is unmodified and may call the model
through any client (``openai`` sync or async, streamed or not, ``httpx``, ``requests``); all of them honour
``OPENAI_BASE_URL``, so pointing that at this server sees every call without touching the program.

* **Model name.** With ``Upstream.model`` set, every request's ``model`` is replaced by it, so a program
  written for ``gpt-4o-mini`` is answered by the run's model.
* **Cache.** A reply is kept under a hash of the whole request (path and JSON body after the model is
  replaced). A request that samples (``temperature`` > 0, or none given: OpenAI's default is 1) is keyed
  besides with the example it was made for and its sample index, the number of identical requests made
  for that example before it in the same evaluation. The example's identity is its index and the draw's
  seed (``POST /autotrace/begin/<tag>`` names it, see below): every candidate meets the same samples on
  the same draw, as it meets the same random numbers; another draw (``--repeats``, the noise check, the
  fresh draws at the end) samples anew; and a re-run of the run, or ``--resume``, replays, whatever the
  order the evaluations ran in (``--jobs``, split evaluations). A tagged call made before the first
  example (at import) counts under the example ``import``; an untagged sampled request (``--tests``) is
  keyed with the number of identical ones this proxy saw before it. Only successful answers are kept.
  An identical request that arrives while the first is still being answered waits for it and is
  answered from the cache.
* **Meter.** Calls, cached calls, prompt and completion tokens (as the upstream reports them) and seconds
  spent waiting for the upstream, as an :class:`~autotrace.llm.appcalls.AppUsage`.

* **Calls by evaluation.** A base URL of the form ``/r/<tag>/v1`` (the worker gives its evaluation one,
  :mod:`runners.model_calls`) files each call under the tag; ``POST /autotrace/take/<tag>`` hands them
  over (and forgets them) as :class:`~autotrace.llm.appcalls.AppCall` JSON, so that each example's graph
  gets its model calls as nodes; ``POST /autotrace/begin/<tag>`` with ``{"example": ID}`` forgets them
  too and names the example the tag's next calls are made for. The tag is not part of the cache key.

The upstream is resolved on the first request (:class:`Upstream` from a callable), so that a run whose
program never calls a model never starts one.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from autotrace.llm.appcalls import AppCall, AppUsage, CachedReply
from autotrace.llm.replies import body_usage, reply_text, stream_usage
from autotrace.store import ResponseCache

#: Seconds one forwarded request may take (the local model on a busy 2-core machine is slow).
UPSTREAM_TIMEOUT = 900.0
#: The cache's key prefix: the program's calls share the store's ``responses`` table with the optimizer's.
KEY_PREFIX = "app:"
#: Calls kept per tag until taken: a worker that died never takes its own.
KEPT_PER_TAG = 200
#: The path prefix that hands a tag's calls over.
TAKE = "/autotrace/take/"
#: The path prefix that names the example a tag's next calls are made for.
BEGIN = "/autotrace/begin/"
#: The example of a tag's calls before it names one (made at import): counted per evaluation as well.
BEFORE_EXAMPLES = "import"
#: Tags whose example is kept (the oldest forgotten first): far more than evaluations ever run at once.
KEPT_TAGS = 4096


@dataclass(frozen=True)
class Upstream:
    """Where the program's requests go: an OpenAI-compatible base URL (ending in ``/v1``), its key, and
    the model name every request is given (None: the program's own). ``forward_key``: the upstream is the
    user's own endpoint, so the credentials the program sends (its ``Authorization``, else ``api_key``) and
    its ``OpenAI-*`` headers (organization, project) go with each request, as they would without the proxy."""

    base_url: str
    api_key: str
    model: str | None = None
    forward_key: bool = False


class ProxyError(RuntimeError):
    """The proxy could not start; one line."""


class RecordingProxy:
    """The proxy server, serving in a daemon thread; use it as a context manager (it stops with it)."""

    def __init__(self, upstream: Callable[[], Upstream], cache: Path | None = None) -> None:
        """``cache``: the run store's file, opened on the first request (None: nothing is cached)."""
        self._resolve = upstream
        self._upstream: Upstream | None = None
        self._failed: Exception | None = None
        self._cache_path = cache
        self._cache: ResponseCache | None = None
        self._lock = threading.Lock()
        self._resolve_lock = threading.Lock()
        self._cache_lock = threading.Lock()
        self._usage = AppUsage()
        self._seen: Counter[str] = Counter()  # sampled requests made for no named example, by request
        self._examples: OrderedDict[str, _Example] = OrderedDict()  # tag -> the example it runs now
        self._calls: dict[str, list[AppCall]] = {}
        self._asking: dict[str, tuple[threading.Lock, list[int]]] = {}  # key -> its lock, its requests
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> RecordingProxy:
        handler = type("Handler", (_Handler,), {"proxy": self})
        try:
            self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        except OSError as exc:
            raise ProxyError(f"cannot start the model proxy on 127.0.0.1: {exc.strerror or exc}") from None
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="autotrace-model-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    def __enter__(self) -> RecordingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise ProxyError("the model proxy is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """What the program's ``OPENAI_BASE_URL`` is set to."""
        return f"http://127.0.0.1:{self.port}/v1"

    def usage(self) -> AppUsage:
        """The calls answered so far (a snapshot)."""
        with self._lock:
            return self._usage

    @property
    def cache(self) -> ResponseCache | None:
        """The reply cache, opened when first needed: a run that stops on bad input writes nothing."""
        with self._cache_lock:
            if self._cache is None and self._cache_path is not None:
                self._cache = ResponseCache(self._cache_path)
            return self._cache

    def upstream(self) -> Upstream:
        """The upstream, resolved once (the first request may start the local model; a start that failed
        is not tried again for every later request: each would wait as long to fail the same way)."""
        with self._resolve_lock:
            if self._failed is not None:
                raise self._failed
            if self._upstream is None:
                try:
                    self._upstream = self._resolve()
                except Exception as exc:
                    self._failed = exc
                    raise
            return self._upstream

    def key(self, path: str, body: dict[str, Any], tag: str = "") -> str:
        """The cache key of a request made under ``tag`` (see the module's docstring); counts a sampled
        request as seen."""
        material = json.dumps({"path": path, "body": body}, sort_keys=True, ensure_ascii=False)
        if _samples(body):
            request = hashlib.sha256(material.encode("utf-8")).hexdigest()
            with self._lock:
                example = (self._examples.get(tag) or self._keep(tag, _Example(BEFORE_EXAMPLES, Counter()))) if tag \
                    else None
                seen = example.seen if example is not None else self._seen
                index = seen[request]
                seen[request] += 1
            if example is not None:
                material += f"\nexample {example.identity}"
            material += f"\nsample {index}"
        return KEY_PREFIX + hashlib.sha256(material.encode("utf-8")).hexdigest()

    def begin(self, tag: str, example: str) -> None:
        """``tag``'s next calls are made for ``example`` (an identity stable across runs): its sampled
        requests count from sample 0; the calls filed under the tag so far are forgotten."""
        with self._lock:
            self._calls.pop(tag, None)
            self._keep(tag, _Example(example, Counter()))

    def _keep(self, tag: str, example: _Example) -> _Example:
        """``example`` as ``tag``'s, the oldest tags' forgotten past :data:`KEPT_TAGS` (under the lock)."""
        self._examples.pop(tag, None)
        self._examples[tag] = example
        while len(self._examples) > KEPT_TAGS:
            self._examples.popitem(last=False)
        return example

    @contextlib.contextmanager
    def alone(self, key: str) -> Iterator[None]:
        """For the block, no other request with ``key`` is answered: an identical request that arrives
        while the first is still asked waits for its answer and gets it from the cache, so that evaluations
        running at once (``--jobs``) pay for a request once, as they do one after another."""
        with self._lock:
            entry = self._asking.setdefault(key, (threading.Lock(), [0]))
            entry[1][0] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._lock:
                entry[1][0] -= 1
                if not entry[1][0]:
                    del self._asking[key]

    def count(self, usage: AppUsage) -> None:
        with self._lock:
            self._usage = self._usage + usage

    def remember(self, tag: str, call: AppCall) -> None:
        with self._lock:
            kept = self._calls.setdefault(tag, [])
            if len(kept) < KEPT_PER_TAG:
                kept.append(call)

    def take(self, tag: str) -> list[AppCall]:
        """The calls filed under ``tag`` since it was last taken."""
        with self._lock:
            return self._calls.pop(tag, [])


@dataclass
class _Example:
    """The example a tag's calls are made for now, and its sampled requests so far (by request hash)."""

    identity: str
    seen: Counter[str]


def _samples(body: dict[str, Any]) -> bool:
    temperature = body.get("temperature", 1.0)
    return not isinstance(temperature, (int, float)) or temperature > 0


class _Handler(BaseHTTPRequestHandler):
    proxy: RecordingProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silent: the program's output and autotrace's progress line are what the user reads."""

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        _, path = _untag(self.path)
        upstream = self._upstream()
        if upstream is None:
            return
        if path.rstrip("/") == "/v1/models" and upstream.model:
            model = {"id": upstream.model, "object": "model", "created": 0, "owned_by": "autotrace"}
            self._send(CachedReply(200, "application/json", json.dumps({"object": "list", "data": [model]})))
            return
        self._send(self._forward(upstream, "GET", path, None)[0])

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith(TAKE):
            calls = self.proxy.take(self.path[len(TAKE):])
            self._send(CachedReply(200, "application/json", json.dumps([c.to_json() for c in calls])))
            return
        if self.path.startswith(BEGIN):
            self._begin(self.path[len(BEGIN):], raw)
            return
        tag, path = _untag(self.path)
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self._send(_error(400, "the request body must be a JSON object"))
            return
        upstream = self._upstream()
        if upstream is None:
            return
        if upstream.model:
            body["model"] = upstream.model
        proxy = self.proxy
        key = proxy.key(path, body, tag)
        with proxy.alone(key) if proxy.cache is not None else contextlib.nullcontext():
            self._answer(proxy, tag, path, body, upstream, key)

    def _begin(self, tag: str, raw: bytes) -> None:
        try:
            example = json.loads(raw).get("example")
        except (ValueError, AttributeError):
            example = None
        if not tag or not isinstance(example, str):
            self._send(_error(400, 'begin takes a tag and {"example": ID}'))
            return
        self.proxy.begin(tag, example)
        self._send(CachedReply(200, "application/json", "{}"))

    def _answer(self, proxy: RecordingProxy, tag: str, path: str, body: dict[str, Any], upstream: Upstream,
                key: str) -> None:
        """Answer from the cache, else from the upstream (and cache the answer)."""
        cache = proxy.cache
        if cache is not None and (stored := cache.get(key)) is not None:
            proxy.count(AppUsage(calls=1, cached=1))
            reply = CachedReply.from_json(stored)
            if tag:
                proxy.remember(tag, _call(path, body, reply, 0.0, cached=True))
            self._send(reply)
            return
        started = time.perf_counter()
        reply, streamed = self._forward(upstream, "POST", path, body)
        seconds = time.perf_counter() - started
        proxy.count(AppUsage(1, 0, reply.prompt_tokens, reply.completion_tokens, seconds))
        if reply.status == 200 and cache is not None:
            cache.put(key, reply.to_json())
        if tag:
            proxy.remember(tag, _call(path, body, reply, seconds, cached=False))
        if not streamed:
            self._send(reply)

    def _upstream(self) -> Upstream | None:
        try:
            return self.proxy.upstream()
        except Exception as exc:  # the local model could not start: the program sees why
            self._send(_error(503, f"autotrace could not start the program's model: {exc}"))
            return None

    def _forward(self, upstream: Upstream, method: str, path: str, body: dict[str, Any] | None
                 ) -> tuple[CachedReply, bool]:
        """Send the request upstream; a streamed answer is relayed to the client as it arrives (then the
        second value is True: it was sent). Returns the whole answer as it can be served again."""
        target = urlsplit(upstream.base_url)
        rest = path[len("/v1"):] if path.startswith("/v1") else path
        connection_type = http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
        connection = connection_type(target.hostname or "127.0.0.1", target.port, timeout=UPSTREAM_TIMEOUT)
        headers = {"Authorization": f"Bearer {upstream.api_key}", "Accept": self.headers.get("Accept", "*/*")}
        if upstream.forward_key:
            sent = {name: value for name, value in self.headers.items()
                    if name.lower() == "authorization" or name.lower().startswith("openai-")}
            if any(name.lower() == "authorization" for name in sent):
                del headers["Authorization"]
            headers.update(sent)
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        try:
            connection.request(method, target.path.rstrip("/") + rest, body=data, headers=headers)
            response = connection.getresponse()
            content_type = response.getheader("Content-Type") or "application/json"
            if response.status == 200 and content_type.startswith("text/event-stream"):
                text = self._relay(response, content_type)
                return CachedReply(200, content_type, text, *stream_usage(text)), True
            text = response.read().decode("utf-8", errors="replace")
        except (OSError, http.client.HTTPException) as exc:
            return _error(502, f"the program's model at {upstream.base_url} did not answer: {exc}"), False
        finally:
            connection.close()
        return CachedReply(response.status, content_type, text, *body_usage(text)), False

    def _relay(self, response: http.client.HTTPResponse, content_type: str) -> str:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        pieces = []
        for line in _lines(response):
            pieces.append(line)
            self.wfile.write(line)
            self.wfile.flush()
        return b"".join(pieces).decode("utf-8", errors="replace")

    def _send(self, reply: CachedReply) -> None:
        data = reply.body.encode("utf-8")
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            if reply.content_type.startswith("text/event-stream"):
                self.send_header("Connection", "close")
                self.close_connection = True
            else:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the program gave up on this request


def _untag(path: str) -> tuple[str, str]:
    """``/r/<tag>/v1/chat/completions`` -> (tag, ``/v1/chat/completions``); an untagged path has tag ""."""
    if path.startswith("/r/"):
        tag, _, rest = path[3:].partition("/")
        return tag, "/" + rest
    return "", path


def _call(path: str, body: dict[str, Any], reply: CachedReply, seconds: float, *, cached: bool) -> AppCall:
    asked = next((body[k] for k in ("messages", "prompt", "input") if k in body), None)
    return AppCall(path.removeprefix("/v1"), str(body.get("model") or ""), asked, reply_text(reply),
                   reply.prompt_tokens, reply.completion_tokens, seconds, cached)


def _lines(response: http.client.HTTPResponse) -> Iterator[bytes]:
    while line := response.readline():
        yield line


def _error(status: int, message: str) -> CachedReply:
    return CachedReply(status, "application/json",
                       json.dumps({"error": {"message": message, "type": "autotrace_proxy_error", "code": status}}))
