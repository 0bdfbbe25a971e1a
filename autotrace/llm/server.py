"""The local model server: xllamacpp's OpenAI-compatible server, run as a child process autotrace owns.

Why a child process and not xllamacpp in-process: a model server holds ~1-2 GB and all cores;
as a separate process it can be stopped for sure (process group), its crashes do not take the
optimizer down, and its log goes to a file instead of the user's terminal.

No orphans, whatever happens to the parent:
- :meth:`LocalServer.stop` terminates the child's process group, then kills it if it lingers;
- an ``atexit`` hook and a SIGTERM handler in the parent stop every server it started;
- the child watches its parent pid and exits when the parent is gone (SIGKILL, crash). This is a
  watchdog thread rather than ``prctl(PR_SET_PDEATHSIG)``, because the latter fires when the
  *thread* that spawned the child ends, which would kill servers started from worker threads.
  (While the model loads, xllamacpp holds the GIL, so the watchdog acts at most a few seconds late.)

``python -m autotrace.llm.server`` runs the server in the foreground (see ``--help``). POSIX only
(process groups, ``start_new_session``), like the rest of the local-model support.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib.util
import itertools
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import IO

from autotrace.atomic import atomic_write
from autotrace.llm.provision import DEFAULT_SIZE, MODELS, ModelError, cache_root, resolve_gguf

#: Context window (tokens) of the single slot: room for a program, its trace and feedback.
DEFAULT_CTX = 8192
#: Server-wide cap on generated tokens, so a looping generation cannot hold the cores for minutes.
DEFAULT_MAX_TOKENS = 2048
#: RAM for llama.cpp's cache of earlier prompts' KV state (default 8 GiB): about 70k tokens of the 1.5B,
#: enough to switch between a few long prompts without re-reading them, small beside 24 GiB.
PROMPT_CACHE_MIB = 2048
#: Speculative decoding without a draft model: an answer copies long runs of its prompt (the function it
#: rewrites, the feedback it restates), which are drafted from where they occurred before and checked in
#: one batch, several tokens a forward pass; other text is decoded as without it.
SPECULATIVE = "ngram-simple"
#: Seconds to wait for a server to become healthy (the 1.5B loads in a few seconds; first reads
#: from a cold disk are slower).
STARTUP_TIMEOUT = 180.0
#: Seconds a server that announced it listens may take to answer ``/health`` with "ok" before it
#: counts as wedged and is started once more. It answers within a second when it works, but
#: llama.cpp's HTTP server has been seen to announce its port and then never answer.
WEDGED_AFTER = 30.0

_LOG_TAIL_LINES = 20
log = logging.getLogger(__name__)
_NO_XLLAMACPP = "xllamacpp is not installed; install it with: pip install 'autotrace[local]'"


class _Wedged(Exception):
    """The server announced its address but does not answer there."""


class ServerError(ModelError):
    """The local model server could not be started or died; the message says why (with its log's tail).

    A :class:`ModelError`, so callers that handle "the local model is unusable" catch it too.
    """


def default_threads() -> int:
    """Cores this process may run on: llama.cpp is fastest with one thread per core."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class LocalServer:
    """A model server in a child process, listening on a free loopback port.

    Use as a context manager, or call :meth:`start` and :meth:`stop`::

        with LocalServer(size="1.5b") as server:
            client = openai.OpenAI(base_url=server.base_url, api_key="local")
            client.chat.completions.create(model=server.model_name, messages=[...])

    ``gguf`` (or ``$AUTOTRACE_GGUF``) serves a file of your own; otherwise the installed model of
    ``size`` is served (installed first when ``auto_install`` is true).
    """

    def __init__(
        self,
        gguf: str | os.PathLike[str] | None = None,
        *,
        size: str = DEFAULT_SIZE,
        port: int = 0,
        n_ctx: int = DEFAULT_CTX,
        slots: int = 1,
        threads: int | None = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        log_path: str | os.PathLike[str] | None = None,
        startup_timeout: float = STARTUP_TIMEOUT,
        wedged_after: float = WEDGED_AFTER,
        auto_install: bool = False,
        cache_dir: str | os.PathLike[str] | None = None,
        speculative: str = SPECULATIVE,
    ) -> None:
        self.gguf = resolve_gguf(gguf, size, cache_dir=cache_dir, auto_install=auto_install)
        self.model_name = self.gguf.stem
        self.port = port
        self.n_ctx = n_ctx
        #: Requests decoded side by side (``--candidates``), each with a context of ``n_ctx``.
        self.slots = slots
        self.threads = threads or default_threads()
        self.max_tokens = max_tokens
        #: llama.cpp's speculative decoding without a draft model ("ngram-simple": tokens drafted from
        #: where the last tokens occurred before in the prompt or answer); "" for none.
        self.speculative = speculative
        self.log_path = Path(log_path) if log_path is not None else _default_log_path()
        #: Where the child writes its address once it listens. A file of its own, not a line in the log:
        #: llama.cpp's logger writes to the same log from another thread, and a marker line cut in two
        #: by its output was never found (the parent then waited out the whole startup timeout).
        self.address_file = self.log_path.with_suffix(".address")
        self.startup_timeout = startup_timeout
        self.wedged_after = wedged_after
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._address: str | None = None

    @property
    def base_url(self) -> str:
        """OpenAI base URL, e.g. ``http://127.0.0.1:PORT/v1``."""
        if self._address is None:
            raise ServerError("the model server is not running; call start() first")
        return f"{self._address}/v1"

    @property
    def pid(self) -> int | None:
        """Process id of the running server (also its process group id), or None."""
        return self._proc.pid if self._proc is not None else None

    def start(self) -> LocalServer:
        """Spawn the server and wait until it answers ``/health``; raise :class:`ServerError` if it cannot.

        A server that announces its port but does not answer is stopped and started once more."""
        if self._proc is not None:
            raise ServerError(f"model server already running (pid {self._proc.pid})")
        command = self._command()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if wedged := self._launch(command):
            first_log = self.log_path.with_name(f"{self.log_path.stem}-wedged{self.log_path.suffix}")
            self.log_path.replace(first_log)
            log.warning("%s (its log: %s); starting it again", wedged, first_log)
            if wedged := self._launch(command):
                raise ServerError(f"{wedged}, twice.{self._log_tail()}")
        return self

    def _launch(self, command: list[str]) -> str | None:
        """Spawn the child and wait until it is healthy; return why it counts as wedged (then it is stopped)."""
        self.address_file.unlink(missing_ok=True)  # a wedged launch's address is not this one's
        self._log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        _register(self)
        try:
            self._address = self._wait_until_healthy(self._proc)
        except _Wedged as wedged:
            self.stop()
            return str(wedged)
        except BaseException:
            self.stop()
            raise
        return None

    def _command(self) -> list[str]:
        """The child's command line (a method, so tests can serve something else)."""
        if importlib.util.find_spec("xllamacpp") is None:
            raise ServerError(_NO_XLLAMACPP)
        return [
            sys.executable, "-m", "autotrace.llm.server",
            "--gguf", str(self.gguf), "--host", "127.0.0.1", "--port", str(self.port),
            "--ctx", str(self.n_ctx), "--slots", str(self.slots), "--threads", str(self.threads),
            "--max-tokens", str(self.max_tokens),
            "--model-name", self.model_name, "--parent-pid", str(os.getpid()),
            "--address-file", str(self.address_file),
            *(["--speculative", self.speculative] if self.speculative else []),
        ]  # fmt: skip

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the server's process group, kill it after ``timeout`` seconds; idempotent."""
        proc, self._proc, self._address = self._proc, None, None
        _unregister(self)
        if proc is not None and proc.poll() is None:
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        self.address_file.unlink(missing_ok=True)

    def wait(self) -> int:
        """Block until the server exits by itself (or is stopped); return its exit code."""
        if self._proc is None:
            raise ServerError("the model server is not running; call start() first")
        return self._proc.wait()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _wait_until_healthy(self, proc: subprocess.Popen[bytes]) -> str:
        deadline = time.monotonic() + self.startup_timeout
        address, announced = None, 0.0
        while True:
            code = proc.poll()
            if code is not None:
                raise ServerError(f"model server exited with code {code} while starting.{self._log_tail()}")
            if address is None and (address := _announced_address(self.address_file)) is not None:
                announced = time.monotonic()
            if address is not None and _healthy(address):
                return address
            if address is not None and time.monotonic() - announced > self.wedged_after:
                raise _Wedged(f"model server announced {address} but did not answer /health within "
                              f"{self.wedged_after:g}s")
            if time.monotonic() > deadline:
                raise ServerError(f"model server was not healthy after {self.startup_timeout:.0f}s.{self._log_tail()}")
            time.sleep(0.1)

    def _log_tail(self) -> str:
        try:
            with self.log_path.open(errors="replace") as log:
                lines = deque(log, maxlen=_LOG_TAIL_LINES)
        except OSError:
            return f" (no log at {self.log_path})"
        return f" Last lines of {self.log_path}:\n" + "".join(f"    {line}" for line in lines)


_log_numbers = itertools.count(1)


def _default_log_path() -> Path:
    """A fresh log file per server, named so that servers of one process (and second) do not clash."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return cache_root() / "logs" / f"server-{stamp}-{os.getpid()}-{next(_log_numbers)}.log"


def _announced_address(address_file: Path) -> str | None:
    """The address the child announced, if it did yet (it writes the file atomically: whole or absent)."""
    try:
        return address_file.read_text().strip() or None
    except OSError:
        return None


def _healthy(address: str) -> bool:
    try:
        with urllib.request.urlopen(f"{address}/health", timeout=2) as response:
            return response.status == 200 and bool(json.load(response).get("status") == "ok")
    except (OSError, ValueError):
        return False


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(pgid, signum)


# --- stopping servers when the parent exits -----------------------------------------------------

_live: set[LocalServer] = set()
_live_lock = threading.RLock()  # re-entrant: the SIGTERM handler may run while the main thread holds it
_hooks_installed = False


def _register(server: LocalServer) -> None:
    global _hooks_installed
    with _live_lock:
        _live.add(server)
        if not _hooks_installed:
            atexit.register(_stop_all)
            _install_sigterm_handler()
            _hooks_installed = True


def _unregister(server: LocalServer) -> None:
    with _live_lock:
        _live.discard(server)


def _stop_all() -> None:
    with _live_lock:
        servers = list(_live)
    for server in servers:
        server.stop()


def _terminate_all() -> None:
    """Send SIGTERM to every server's process group without waiting (safe inside a signal handler)."""
    with _live_lock:
        pids = [server.pid for server in _live]
    for pid in pids:
        if pid is not None:
            _signal_group(pid, signal.SIGTERM)


def _install_sigterm_handler() -> None:
    """On SIGTERM terminate the servers, then do what the previous handler did (by default: die of SIGTERM).

    The handler only signals, never waits: it may interrupt the main thread inside ``Popen.wait``
    (e.g. ``LocalServer.wait``), whose lock is not re-entrant, so waiting there would deadlock. A
    server dies of SIGTERM at once; what is left to reap, ``atexit`` or the parent's death handles.
    Only the main thread may set signal handlers; elsewhere the child's watchdog is the safety net.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        _terminate_all()
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)


# --- the server process -------------------------------------------------------------------------


def serve(
    gguf: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    n_ctx: int = DEFAULT_CTX,
    slots: int = 1,
    threads: int | None = None,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    model_name: str | None = None,
    address_file: Path | None = None,
    speculative: str = "",
) -> None:
    """Run xllamacpp's server in this process until interrupted; once it listens, write its address to
    ``address_file`` (for the parent :class:`LocalServer`) and say where it serves. ``slots`` requests are
    decoded side by side, each with a context of ``n_ctx`` tokens (llama.cpp divides its window among
    its slots, so the window is ``n_ctx * slots``), in one KV cache the slots share."""
    try:
        import xllamacpp  # optional dependency; only the server process needs it
    except ImportError:
        raise ServerError(_NO_XLLAMACPP) from None

    params = xllamacpp.CommonParams()
    params.model.path = str(gguf)
    params.model_alias = {model_name or gguf.stem}
    params.hostnames = [host]
    params.port = port
    params.n_ctx = n_ctx * slots
    params.n_parallel = slots  # one by default: a single request gains nothing from more
    params.kv_unified = slots > 1
    params.n_predict = max_tokens
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = threads or default_threads()
    params.cache_prompt = True  # reuse the KV cache of the common prefix across requests
    params.cache_ram_mib = PROMPT_CACHE_MIB
    if speculative:
        kinds = xllamacpp.common_speculative_type.__members__
        kind = "COMMON_SPECULATIVE_TYPE_" + speculative.upper().replace("-", "_")
        if kind not in kinds:
            raise ServerError(f"unknown speculative decoding {speculative!r}")
        params.speculative.types = [kinds[kind]]
    try:
        server = xllamacpp.Server(params)
    except RuntimeError as error:
        raise ServerError(f"xllamacpp could not start serving {gguf} on {host}:{port}: {error}") from None
    if address_file is not None:
        atomic_write(address_file, server.listening_address.encode())
    print(f"serving {model_name or gguf.stem} at {server.listening_address}/v1 (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


def _exit_with_parent(parent_pid: int) -> None:
    """Exit this process as soon as ``parent_pid`` is no longer its parent (the parent died)."""
    if os.getppid() != parent_pid:
        os._exit(0)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m autotrace.llm.server",
        description="Serve a GGUF model over an OpenAI-compatible HTTP API (xllamacpp) in the foreground. "
        "Point clients at http://HOST:PORT/v1, e.g. OPENAI_BASE_URL=http://127.0.0.1:PORT/v1.",
    )
    parser.add_argument("--gguf", help="GGUF file to serve (default: $AUTOTRACE_GGUF or the installed model)")
    parser.add_argument("--size", default=DEFAULT_SIZE, choices=sorted(MODELS), help="installed model to serve")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default 0: any free port)")
    parser.add_argument("--ctx", type=int, default=DEFAULT_CTX, help="context window in tokens")
    parser.add_argument("--slots", type=int, default=1, help="requests decoded side by side, each with --ctx tokens")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: one per core)")
    parser.add_argument("--max-tokens", type=int, default=DEFAULT_MAX_TOKENS, help="cap on generated tokens")
    parser.add_argument("--model-name", help="model id reported by /v1/models (default: the file's stem)")
    parser.add_argument("--speculative", default="", help="speculative decoding without a draft model "
                        "(ngram-simple, ngram-map-k, ngram-mod, ngram-cache; default: none)")
    parser.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)  # set by LocalServer
    parser.add_argument("--address-file", type=Path, help=argparse.SUPPRESS)  # set by LocalServer
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.parent_pid is not None:
        _exit_with_parent(args.parent_pid)
    try:
        gguf = resolve_gguf(args.gguf, args.size)
        serve(
            gguf,
            host=args.host,
            port=args.port,
            n_ctx=args.ctx,
            slots=max(1, args.slots),
            threads=args.threads,
            max_tokens=args.max_tokens,
            model_name=args.model_name,
            address_file=args.address_file,
            speculative=args.speculative,
        )
    except (ModelError, ServerError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
