"""JSON-answering chat client for any OpenAI-compatible endpoint (OpenAI, llama.cpp, vLLM, Ollama …).

The optimizer asks for one JSON object per step. This module makes that call dependable:

* the SDK's own retries (``max_retries``: timeouts, dropped connections, 408/409/429/5xx, with
  exponential backoff and jitter, honouring ``Retry-After``); what is left after them is one
  :class:`LLMError` saying how many attempts were made;
* ``response_format`` degrades per endpoint: ``json_schema`` (first with the schema's length limits,
  which llama.cpp's grammar enforces and OpenAI's strict mode refuses, then without them) →
  ``json_object`` → none, remembering what the server rejected so later calls do not pay for the
  400 again;
* ``stop`` sequences (a free-form answer that is complete once its code block closes) go to the server
  when given, and are dropped, remembered, when it rejects them;
* a bad answer (prose, truncated or broken JSON) is a normal :class:`LLMReply` with ``error``
  set, so the optimizer can show the model what went wrong; only an unusable endpoint raises
  :class:`LLMError`;
* the API key never leaves the SDK's ``Authorization`` header: messages, logs and cached replies
  are built without it and scrubbed of it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from autotrace.llm.jsonfix import extract_json
from autotrace.llm.timings import UNREPORTED, ServerTimings, read_timings

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletion

    from autotrace.store import ResponseCache

log = logging.getLogger(__name__)

#: ``response_format`` modes from most to least constrained; "text" (no response_format) always works.
#: "json_schema_lengths" sends the schema as given, "json_schema" without its length limits.
_FORMATS = ("json_schema_lengths", "json_schema", "json_object", "text")
#: Schema keywords that not every strict ``json_schema`` implementation accepts.
_LENGTH_KEYWORDS = frozenset({"minLength", "maxLength"})
#: Status codes the SDK tries again besides 5xx: request timeout, conflict, rate limit.
_RETRY_STATUS = {408, 409, 429}
#: Status codes that say "your request is wrong", fed back as a reply error rather than raised.
_REJECT_STATUS = {400, 413, 422}
#: Of those, the ones a server uses for an unsupported ``response_format``.
_FORMAT_REJECT_STATUS = {400, 422}
_HINTS = {401: " (check the API key)", 403: " (check the API key)", 404: " (check the model name and base URL)"}
_BEARER = re.compile(r"(?i)bearer\s+\S+")
_SDK_PREFIX = re.compile(r"^Error code: \d+ - ")


class LLMError(RuntimeError):
    """The endpoint gave no usable answer: retries exhausted, bad credentials, or unknown model/URL.

    The message is one line and holds neither the API key nor any header.
    """


@dataclass(frozen=True)
class LLMConfig:
    """Where and how to ask. ``api_key`` is excluded from ``repr`` and from the cache key.

    ``context_tokens`` is the model's window, for callers that budget prompt size.
    """

    model: str
    base_url: str | None
    api_key: str | None = field(repr=False)
    temperature: float = 0.0
    seed: int | None = 0
    max_tokens: int = 1024
    timeout: float = 120.0
    max_retries: int = 4
    context_tokens: int = 8192


@dataclass(frozen=True)
class Sampling:
    """The temperature and seed of one request, when a step asks for several answers to one prompt
    (``--candidates``); part of the cache key, so a run with sampled answers replays from the cache."""

    temperature: float
    seed: int | None


def derived_seed(*parts: object) -> int:
    """A request seed from the run's seed, the step and the answer's index: stable across processes
    (not ``hash()``, which is salted), and within the 31 bits every server accepts."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


@dataclass
class LLMReply:
    """One answer. ``data`` is the parsed object, or None with ``error`` saying why.

    For a cache hit (``cached=True``) the token counts are those of the original call and
    ``seconds`` is the lookup time: budget code should not count cached tokens again.
    """

    text: str
    data: dict | None
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    cached: bool = False
    error: str | None = None
    #: The answer stopped at the max_tokens limit (finish_reason "length"): its end may be missing.
    truncated: bool = False
    #: What the server said the call cost: prompt tokens evaluated and reused from its cache, seconds.
    timings: ServerTimings = UNREPORTED


class _MalformedCompletion(Exception):
    """A 200 answer without a usable choice or with an unreadable body: a reply error, like prose."""


class LLM:
    """Chat client that returns one JSON object per call; see the module docstring for the policy."""

    def __init__(self, config: LLMConfig, cache: ResponseCache | None = None) -> None:
        self.config = config
        self._cache = cache
        self._unsupported: set[str] = set()
        import openai  # here, not at the top: a run that never asks a model does not pay for its import

        self._client = openai.OpenAI(
            base_url=config.base_url,
            api_key=config.api_key or "not-needed",
            timeout=config.timeout,
            max_retries=config.max_retries,
        )

    def complete_json(
        self, messages: list[dict], schema: dict | None = None, *, schema_name: str = "answer",
        sampling: Sampling | None = None,
    ) -> LLMReply:
        """Ask for a JSON object (matching ``schema`` when given); never raises for a bad answer.

        ``schema`` goes to the server as a strict ``json_schema`` response format where supported.
        The object is not validated against it here: after a fallback the server no longer enforces
        it, and the caller knows which deviations it can tolerate and how to explain the others.
        """
        return self._complete(messages, schema, schema_name, text=False, sampling=sampling)

    def complete_text(self, messages: list[dict], *, sampling: Sampling | None = None,
                      stop: tuple[str, ...] = ()) -> LLMReply:
        """Ask for a free-form answer (no ``response_format``): for answers that hold code, which a
        JSON string would have to escape (see :mod:`autotrace.optimizers.code_answer`). ``data`` is
        None; the caller reads ``text``. ``stop``: where the server ends the answer (the stop text
        itself is not in ``text``). Never raises for a bad answer."""
        return self._complete(messages, None, "text", text=True, sampling=sampling, stop=stop)

    def _complete(self, messages: list[dict], schema: dict | None, schema_name: str, *, text: bool,
                  sampling: Sampling | None = None, stop: tuple[str, ...] = ()) -> LLMReply:
        """``sampling``: this request's temperature and seed instead of the configured ones."""
        started = time.monotonic()
        cache = self._cache
        key = (self.question_key(messages, schema, schema_name, text=text, sampling=sampling, stop=stop)
               if cache is not None else None)
        if cache is not None and key is not None and (hit := cache.get(key)) is not None:
            return LLMReply(
                text=hit["text"],
                data=hit["data"],
                prompt_tokens=hit["prompt_tokens"],
                completion_tokens=hit["completion_tokens"],
                seconds=time.monotonic() - started,
                cached=True,
                truncated=bool(hit.get("truncated", False)),
            )

        completion, rejection = self._call(messages, schema, schema_name, text=text, sampling=sampling, stop=stop)
        if completion is None:
            return LLMReply("", None, 0, 0, time.monotonic() - started, error=rejection)
        choice = completion.choices[0]
        answer = choice.message.content or ""
        data, error = (None, None if answer.strip() else "the answer is empty") if text else extract_json(answer)
        if error is not None and choice.finish_reason == "length":
            error = f"{error}; the answer stopped at the max_tokens limit ({self.config.max_tokens})"
        usage = completion.usage
        prompt_tokens = (usage.prompt_tokens or 0) if usage else 0
        completion_tokens = (usage.completion_tokens or 0) if usage else 0
        body = {**(completion.model_extra or {}), "usage": usage.model_dump() if usage else None}
        reply = LLMReply(
            text=answer,
            data=data,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            seconds=time.monotonic() - started,
            error=error,
            truncated=choice.finish_reason == "length",
            timings=read_timings(body, prompt_tokens, completion_tokens),
        )
        if cache is not None and key is not None and error is None:
            entry = {"text": answer, "data": data, "prompt_tokens": reply.prompt_tokens}
            entry["completion_tokens"] = reply.completion_tokens
            entry["truncated"] = reply.truncated
            cache.put(key, self._redact_value(entry))
        return reply

    @property
    def sampling(self) -> Sampling:
        """The configured temperature and seed."""
        return Sampling(self.config.temperature, self.config.seed)

    @property
    def repeats_itself(self) -> bool:
        """Whether asking the same question again would give the same answer: with the cache on it is
        answered from the cache; at temperature 0 the model decodes greedily, so only floating-point
        noise (a server's batching and prompt cache) can change it, and a step is no way to buy noise."""
        return self.config.temperature == 0 or self._cache is not None

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> LLM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the network loop ----------------------------------------------------------------------

    def _call(
        self, messages: list[dict], schema: dict | None, schema_name: str, *, text: bool = False,
        sampling: Sampling | None = None, stop: tuple[str, ...] = (),
    ) -> tuple[ChatCompletion | None, str | None]:
        """Return ``(completion, None)``, or ``(None, reason)`` when the endpoint rejects the request;
        ``text``: no ``response_format`` at all. A server that rejects ``stop`` is asked again without
        it (some reasoning models take none), and not sent it again.

        Raises :class:`LLMError` when the SDK's retries run out or the endpoint refuses us (401/403/404).
        """
        import openai
        from openai.types.chat import ChatCompletion

        # The schema each mode sends, worked out once; without limits to drop, "json_schema_lengths"
        # would send what "json_schema" sends, so it is left out.
        sent: dict[str, dict | None] = {}
        if schema is not None:
            plain = _without_lengths(schema)
            if plain != schema:
                sent["json_schema_lengths"] = schema
            sent["json_schema"] = plain
        if not text:
            sent["json_object"] = None
        sent["text"] = None
        modes = [m for m in _FORMATS if m in sent and m not in self._unsupported]
        rejected: list[str] = []
        attempts = f"after {self.config.max_retries + 1} attempts"
        while True:
            mode = modes[len(rejected)]
            try:
                request = self._request(messages, sent[mode], schema_name, mode, sampling)
                if stop and "stop" not in self._unsupported:
                    request["stop"] = list(stop)
                completion = self._client.chat.completions.create(**request)
                if not isinstance(completion, ChatCompletion) or not completion.choices:
                    raise _MalformedCompletion("the answer held no choices")
            except openai.APIStatusError as exc:
                status = exc.status_code
                if status in _FORMAT_REJECT_STATUS and "stop" in request and "stop" in str(exc.message).lower():
                    log.info("%s rejected stop sequences (HTTP %d); asking without them", self._where, status)
                    self._unsupported.add("stop")
                    continue
                if status in _FORMAT_REJECT_STATUS and mode != "text":
                    log.info("%s rejected response_format %s (HTTP %d); trying without it", self._where, mode, status)
                    rejected.append(mode)
                    continue
                if status in _REJECT_STATUS:
                    return None, f"the endpoint rejected the request: {self._describe(exc)}"
                retried = status in _RETRY_STATUS or status >= 500
                raise LLMError(f"LLM call to {self._where} failed{' ' + attempts if retried else ''}: "
                               f"{self._describe(exc)}{_HINTS.get(status, '')}") from None
            except openai.APIConnectionError as exc:  # timeouts too
                raise LLMError(f"LLM call to {self._where} failed {attempts}: {self._describe(exc)}") from None
            except (openai.APIResponseValidationError, _MalformedCompletion) as exc:
                return None, f"the endpoint gave an unusable answer: {self._describe(exc)}"
            except ValueError as exc:  # a 200 whose JSON body was cut short or garbled
                return None, f"the endpoint gave an unusable answer: unreadable answer body ({exc})"
            else:
                # Only now is a rejection known to be about the format and not the request itself.
                self._unsupported.update(rejected)
                return completion, None

    def _request(self, messages: list[dict], schema: dict | None, schema_name: str, mode: str,
                 sampling: Sampling | None = None) -> dict[str, Any]:
        sampling = sampling or self.sampling
        request: dict[str, Any] = {
            "model": self.config.model,
            "messages": messages,
            "temperature": sampling.temperature,
            "max_tokens": self.config.max_tokens,
        }
        if sampling.seed is not None:
            request["seed"] = sampling.seed
        if mode in ("json_schema_lengths", "json_schema"):
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": schema_name, "schema": schema, "strict": True},
            }
        elif mode == "json_object":
            request["response_format"] = {"type": "json_object"}
        return request

    # -- naming things without leaking them ----------------------------------------------------

    @property
    def _where(self) -> str:
        """``model @ scheme://host:port/path``: credentials and query strings in the URL are dropped."""
        if not self.config.base_url:
            return f"{self.config.model} @ the default OpenAI endpoint"
        url = urlsplit(self.config.base_url)
        host = url.hostname or ""
        port = f":{url.port}" if url.port else ""
        return f"{self.config.model} @ {url.scheme}://{host}{port}{url.path}"

    def _describe(self, exc: Exception) -> str:
        """One redacted line saying what went wrong."""
        import openai

        if isinstance(exc, openai.APITimeoutError):
            text = f"timed out after {self.config.timeout:g} s"
        elif isinstance(exc, openai.APIStatusError):
            text = f"HTTP {exc.status_code}: {_SDK_PREFIX.sub('', exc.message)}"
        elif isinstance(exc, openai.APIConnectionError) and exc.__cause__ is not None:
            text = f"connection failed: {exc.__cause__}"
        else:
            text = str(exc) or type(exc).__name__
        return self._redact(" ".join(text.split()))[:300]

    def _redact(self, text: str) -> str:
        if self.config.api_key:
            text = text.replace(self.config.api_key, "[redacted]")
        return _BEARER.sub("Bearer [redacted]", text)

    def _redact_value(self, value: Any) -> Any:
        """Scrub the key from a reply before it is cached (a model could echo it back)."""
        return json.loads(self._redact(json.dumps(value)))

    def question_key(self, messages: list[dict], schema: dict | None, schema_name: str = "answer", *,
                     text: bool = False, sampling: Sampling | None = None, stop: tuple[str, ...] = ()) -> str:
        """Hash of everything that shapes the answer (the cache's key; an optimizer's way to see a
        question repeated); not the URL or key, so a moved server keeps its cache. ``text``: the
        question of :meth:`complete_text`; ``stop``: its stop sequences (in the key only when given,
        so the keys of questions asked without stays as they were)."""
        sampling = sampling or self.sampling
        payload: dict[str, Any] = {"free_text": True} if text else {}
        if stop:
            payload["stop"] = list(stop)
        payload |= {
            "model": self.config.model,
            "messages": messages,
            "schema": schema,
            "schema_name": schema_name if schema is not None else None,
            "temperature": sampling.temperature,
            "seed": sampling.seed,
            "max_tokens": self.config.max_tokens,
        }
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()


def _without_lengths(schema: Any) -> Any:
    """``schema`` without ``minLength`` / ``maxLength``; property *names* are kept whatever they are."""
    if isinstance(schema, list):
        return [_without_lengths(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    return {key: ({name: _without_lengths(sub) for name, sub in value.items()} if key == "properties"
                  else _without_lengths(value))
            for key, value in schema.items() if key not in _LENGTH_KEYWORDS}
