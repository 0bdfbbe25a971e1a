"""The program's own model: what an evaluated program that calls an LLM through ``OpenAI()`` talks to.

The run starts a recording proxy (:mod:`autotrace.llm.proxy`) in front of the program's model and points
``OPENAI_BASE_URL`` at it in this process's environment for the length of the run, so that every way an
evaluation is started (the fork server, a spawned worker, a local Ray worker, a ``--tests`` pytest
process) inherits it, and each call becomes a node of the example's graph, cached and counted. Which
model answers:

* ``--app-base-url``: that endpoint (its key from ``AUTOTRACE_APP_API_KEY``, else ``OPENAI_API_KEY``).
* the user's endpoint, when they set ``OPENAI_BASE_URL`` or ``OPENAI_API_KEY``: the endpoint the program
  would have reached without autotrace (their ``OPENAI_BASE_URL``, else OpenAI's), with the key the
  program sends (their ``OPENAI_API_KEY``, which it keeps, as every other variable), and the model name
  it asks for: only the base URL the program reads is the proxy's (docs/decisions/user-endpoint.md).
* else the run's model (zero set-up): the program is given the proxy's URL and a key, and any model name
  it asks for is answered by the run's model.

``--app-calls direct`` leaves the environment exactly as the user set it: the program's calls then go
where it sends them, unrecorded (not in the graph, not cached, not counted).

Under ``--no-network`` the proxy's port is the one TCP port a confined evaluation may still connect to
(:data:`runners.confine.CONNECT_PORT_ENV`); the proxy itself, in autotrace's process, reaches the endpoint.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from autotrace.evaluation import Evaluation
from autotrace.llm.client import LLMConfig
from autotrace.llm.proxy import RecordingProxy, Upstream

from .confine import CONNECT_PORT_ENV
from .model_calls import PROXY_ENV

#: The variables every OpenAI client reads, which the program is given.
BASE_URL_ENV, API_KEY_ENV = "OPENAI_BASE_URL", "OPENAI_API_KEY"
#: The key the program is given: the proxy ignores it (it holds the upstream's own).
PROGRAM_KEY = "autotrace-proxy"
#: The upstream key for ``--app-base-url`` (else the user's ``OPENAI_API_KEY``, else none needed).
APP_KEY_ENV = "AUTOTRACE_APP_API_KEY"
#: Where an ``OpenAI()`` client goes when ``OPENAI_BASE_URL`` is unset.
OPENAI_URL = "https://api.openai.com/v1"


@dataclass(frozen=True)
class AppModel:
    """``--app-base-url`` and ``--app-model``: another endpoint for the program than the optimizer's, and
    the model name its requests are given (None: the run's model's on the run's endpoint, the program's
    own on ``base_url``)."""

    base_url: str | None = None
    model: str | None = None
    #: ``--app-calls``: "proxied" (through the recording proxy) or "direct" (the environment untouched).
    calls: str = "proxied"

    def __post_init__(self) -> None:
        if self.calls == "direct" and self.base_url is not None:
            raise ValueError("--app-base-url sends the program's calls through autotrace's proxy: "
                             "it does not go with --app-calls direct")


def user_endpoint(environ: Mapping[str, str]) -> bool:
    """Whether the user set an endpoint for the program (then it is left alone)."""
    return bool(environ.get(BASE_URL_ENV) or environ.get(API_KEY_ENV))


def run_model_slots(app: AppModel, candidates: int, jobs: int, environ: Mapping[str, str]) -> int:
    """Requests the run's model should decode side by side: a step's ``candidates`` answers, or, when the
    program's own calls go to the run's model too (no ``--app-base-url``, no endpoint of the user's, not
    ``--app-calls direct``), one
    per evaluation running at once (``jobs``). The optimizer and the evaluations never ask at the same
    time (the engine evaluates between answers), so the larger of the two is enough."""
    shares = app.base_url is None and app.calls != "direct" and not user_endpoint(environ)
    return max(candidates, jobs if shares else 1)


@contextlib.contextmanager
def program_model(app: AppModel, run_model: Callable[[], LLMConfig], store: Path | None,
                  say: Callable[[str], None] = lambda text: None) -> Iterator[RecordingProxy | None]:
    """For the block, the program's model behind a recording proxy (yielded) and the variables pointing at
    it (see the module); None, the environment untouched and one line said, with ``--app-calls direct``.
    ``run_model``: the run's model, started on the first call; ``store``: the run store's file the proxy
    caches replies in (None: ``--no-cache``)."""
    if app.calls == "direct":
        say("--app-calls direct: the program's own model calls go where its environment sends them, "
            "unrecorded (not in the graph, not cached, not counted)")
        yield None
        return
    users = app.base_url is None and user_endpoint(os.environ)
    given_url, given_key = os.environ.get(BASE_URL_ENV), os.environ.get(API_KEY_ENV)
    app_key = os.environ.get(APP_KEY_ENV) or given_key or "not-needed"

    def upstream() -> Upstream:
        if app.base_url is not None:
            return Upstream(app.base_url.rstrip("/"), app_key, app.model)
        if users:  # what the program would have reached, with what it sends
            return Upstream((given_url or OPENAI_URL).rstrip("/"), given_key or "", app.model, forward_key=True)
        config = run_model()
        return Upstream((config.base_url or OPENAI_URL).rstrip("/"), config.api_key or "not-needed",
                        app.model or config.model)

    with RecordingProxy(upstream, store) as proxy:
        given = {BASE_URL_ENV: proxy.base_url, CONNECT_PORT_ENV: str(proxy.port),
                 PROXY_ENV: proxy.base_url.removesuffix("/v1")}
        with environment(given if users else {**given, API_KEY_ENV: PROGRAM_KEY}):
            yield proxy


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """``values`` set in ``os.environ`` for the block, each variable restored (or removed) after it."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


#: Seconds an evaluation may take once the program was seen waiting for its model past ``--timeout``'s
#: default: a program calling the local model on busy cores needs more than that default
#: (docs/decisions/evaluation-executor.md).
APP_TIMEOUT = 900.0


def timed_out_waiting(initial: Evaluation, proxy: RecordingProxy | None) -> bool:
    """Whether the initial values' evaluation hit its timeout while the program called its model through
    the proxy: then the time went to the model, not to a runaway program."""
    return (proxy is not None and proxy.usage().calls > 0 and initial.problem is not None
            and initial.problem.startswith("timed out after"))
