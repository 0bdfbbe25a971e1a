"""The warm fork server: one long-lived process per optimization run that has already imported the
runtime, the worker, the judge's own imports (and LibCST when code is optimized), and forks a child for
each evaluation.

A spawned worker spends most of its time starting Python and importing; a fork of a warm process skips
both (docs/decisions/evaluation-executor.md). Each evaluation is guarded in autotrace's
process exactly as a spawned one (:func:`.sandbox.confined`: the project's modes restored, or a private
copy verified by hash); its child is limited and isolated as a spawned worker is (its own session and
process group, ``RLIMIT_AS``/``FSIZE``/``CPU``, killed with its parent, a wall-clock timeout enforced by
the server, its whole tree killed on a timeout), then becomes the confined process a spawned worker
forks (:func:`.worker.run_confined`: Landlock, no network when asked; the attempts hook), which imports
the candidate's modules fresh through the import hook, kills its descendants and writes the result; the
server, a subreaper, kills whatever is left before it answers. The server never imports
a module of the project's own code: the judge is imported once (for its library imports) and every
module under the project's search roots is dropped again before the first fork, so each child imports
the judge and the program itself, as a spawned worker does.

Protocol (:mod:`.fork_messages`, JSON lines): the client writes :class:`~.fork_messages.Warm` (LibCST is
imported only when evaluations rewrite source: code parameters, no bytecode cache), the server answers
:class:`~.fork_messages.Ready` or :class:`~.fork_messages.Unsafe` (the judge started a thread: a fork
would copy a process whose other threads may hold locks); then each :class:`~.fork_messages.Fork`
(its ``folder`` holds ``job.json`` and ``policy.json``) is answered :class:`~.fork_messages.Ended` when
its child ended. The server exits when its stdin closes
(autotrace ended, even killed) or it receives SIGTERM (``PDEATHSIG``: autotrace ended) or SIGINT, and
kills its children's trees first; being a subreaper, it also kills whatever a child that ended abruptly
left behind. A signal only wakes the main loop (:func:`_wake_on_signals`): an exception raised from a
signal handler lands wherever the server happens to be, and inside ``os.fork``'s at-fork callbacks
(logging's ``_releaseLock``) Python prints it as "Exception ignored in ..." with a traceback into the
user's terminal and carries on.
"""

from __future__ import annotations

import ast
import gc
import importlib
import importlib.util
import inspect
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import IO, Any

from .confine import Confinement, become_subreaper, children, die_with_parent, kill_tree
from .fork_messages import Ended, Fork, Message, ProtocolError, Ready, Unsafe, Warm, decode, encode
from .guard import Baseline
from .job import Job
from .outcome import WorkerOutcome
from .sandbox import Finished, Limits, _limiter, _tail, confined

#: How often the server checks that autotrace is still its parent (besides stdin's end and PDEATHSIG).
_PARENT_CHECK = 1.0
#: Seconds the client waits past an evaluation's timeout for the server's answer before giving it up.
_ANSWER_GRACE = 30.0
_JUDGE_NAME = "_autotrace_judge"


def _stop_with_parent() -> None:
    """In the server, before it starts: SIGTERM it when autotrace ends, even killed (see :func:`serve`)."""
    die_with_parent(signal.SIGTERM)


class ForkServerGone(RuntimeError):
    """The server ended or stopped answering: the caller evaluates by spawning instead."""


class ForkUnsafe(RuntimeError):
    """Forking the warm process is unsafe (the reason is the message)."""


def fork_supported() -> str | None:
    """None when this platform can fork evaluations, else why not."""
    if sys.platform != "linux":
        return f"forking evaluations needs Linux (this is {sys.platform})"
    if not hasattr(os, "pidfd_open"):
        return "forking evaluations needs os.pidfd_open (Linux 5.3)"
    return None


# --- the client, in autotrace's process --------------------------------------------------------------


class ForkServer:
    """A running fork server; :meth:`run` may be called from several threads at once."""

    def __init__(self, warm: Job) -> None:
        self._ids = count(1)
        self._waiting: dict[int, Future[Message]] = {}
        self._lock = threading.Lock()
        self._gone: str | None = None
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "autotrace.runners.forkserver"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            start_new_session=True,  # the terminal's Ctrl-C goes to autotrace, which then closes the server
            # PDEATHSIG fires when the thread that started the server ends: only the main thread lives as long
            # as autotrace; from any other thread the end of stdin (and the parent check) stops the server.
            preexec_fn=_stop_with_parent if threading.current_thread() is threading.main_thread() else None,
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._stdin: IO[bytes] = self._proc.stdin
        ready: Future[Message] = Future()
        self._waiting[0] = ready
        self._reader = threading.Thread(target=self._read, args=(self._proc.stdout,), daemon=True,
                                        name="autotrace-forkserver-reader")
        self._reader.start()
        self._send(Warm(tuple(warm.search_roots), warm.judge, warm.rewrites, tuple(warm.plans)))
        try:
            answer = ready.result(timeout=120)
        except Exception as exc:
            self.close()
            raise ForkServerGone(f"the fork server did not start: {exc}") from None
        if isinstance(answer, Unsafe):
            self.close()
            raise ForkUnsafe(answer.reason)
        if not isinstance(answer, Ready):
            self.close()
            raise ForkServerGone(f"the fork server answered its start with {answer}")

    def run(self, job: Job, limits: Limits, baseline: Baseline | None = None) -> WorkerOutcome:
        """Evaluate ``job`` in a forked child under the same guard and confinement as a spawned worker
        (:func:`.sandbox.confined`): the same result :func:`.sandbox.evaluate` gives."""
        return confined(job, limits, lambda folder, cwd: self._started_child(folder, cwd, limits), baseline)

    def _started_child(self, folder: Path, cwd: Path, limits: Limits) -> Finished:
        """Have the server fork a worker for the job prepared in ``folder``, and wait for its end."""
        answer: Future[Message] = Future()
        with self._lock:
            if self._gone:
                raise ForkServerGone(self._gone)
            ident = next(self._ids)
            self._waiting[ident] = answer
        self._send(Fork(ident, str(folder), str(cwd), limits.timeout, limits.memory, limits.output))
        try:
            reply = answer.result(timeout=limits.timeout + _ANSWER_GRACE)
        except TimeoutError:
            raise ForkServerGone("the fork server stopped answering") from None
        if not isinstance(reply, Ended):
            raise ForkServerGone(f"the fork server answered a fork with {reply}")
        return Finished(reply.returncode, reply.timed_out, _tail(folder / "output.log"))

    def close(self) -> None:
        """Stop the server (it kills any child still running) and wait for it."""
        try:
            self._stdin.close()
        except OSError:
            pass
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
        self._reader.join(timeout=10)
        self._proc.stdout.close()  # type: ignore[union-attr]

    def _send(self, message: Message) -> None:
        try:
            with self._lock:
                self._stdin.write(encode(message))
                self._stdin.flush()
        except (OSError, ValueError):
            raise ForkServerGone("the fork server ended") from None

    def _read(self, stdout: IO[bytes]) -> None:
        for line in stdout:
            try:
                message = decode(line)
            except ProtocolError:
                break  # the server is broken: what waits is told it is gone
            with self._lock:
                waiting = self._waiting.pop(message.id if isinstance(message, Ended) else 0, None)
            if waiting is not None:
                waiting.set_result(message)
        with self._lock:
            self._gone = f"the fork server ended ({self._proc.poll()})"
            waiting_now, self._waiting = list(self._waiting.values()), {}
        for future in waiting_now:
            future.set_exception(ForkServerGone(self._gone))


# --- the server ----------------------------------------------------------------------------------------


@dataclass
class _Child:
    ident: int
    pidfd: int
    deadline: float


def _warm(search_roots: Sequence[str], judge: str | None, rewrites: bool, files: Sequence[str] = ()) -> str | None:
    """Import what every evaluation imports; None when forking is safe afterwards, else why not.
    ``rewrites``: evaluations rewrite source (code candidates, or the cache turned off), which takes LibCST;
    ``files``: the program's files, whose installed libraries (``import numpy``) are imported here once."""
    from autotrace.judge import JudgeError, load_judge

    if rewrites:  # else the rewritten modules come from the cache (autotrace's own when Python writes no bytecode)
        import autotrace.transforms.compile  # noqa: F401
        import autotrace.transforms.rewrite  # noqa: F401

    # Every child reads the program's functions' source (the recorder's graph): the regular expressions
    # inspect and tokenize compile on first use are compiled here once, not in each child.
    inspect.getsourcelines(_warm)
    # ... and builds graphs: networkx compiles its decorated functions on their first call.
    from autotrace import graph
    from autotrace.recorder import Recorder, RunOutcome, build_graph

    graph.to_json(build_graph(Recorder(), [], RunOutcome(None, None)))
    path = list(sys.path)
    for root in reversed(search_roots):
        if root not in sys.path:
            sys.path.insert(0, root)
    before = set(sys.modules)
    for name in _library_imports(files, search_roots):
        try:
            importlib.import_module(name)
        except BaseException:  # noqa: B036 -- a child meets the same failure and reports it
            pass
    if threading.active_count() > 1:
        return "a library the program imports started a thread, and forking a process with threads is unsafe"
    if judge:
        try:
            load_judge(Path(judge))
        except JudgeError:
            pass  # each child loads the judge itself and reports this error as a spawned worker does
        if threading.active_count() > 1:
            return "the judge started a thread when imported, and forking a process with threads is unsafe"
    _forget_project_modules(set(sys.modules) - before, search_roots)
    sys.path[:] = path  # each child puts its job's roots (the project's, or its private copy's) first
    gc.collect()
    gc.freeze()  # the children's garbage collector leaves the warm objects (and their pages) alone
    return None


def _library_imports(files: Sequence[str], search_roots: Sequence[str]) -> list[str]:
    """The installed libraries (and standard modules) the program's ``files`` import at their top level,
    read from their source, not run: the program's own modules are imported by each child alone."""
    roots = [Path(r).resolve() for r in search_roots]
    installed = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    names: list[str] = []
    for file in files:
        try:
            tree = ast.parse(Path(file).read_bytes())
        except (OSError, SyntaxError, ValueError):
            continue
        for node in tree.body:
            found = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
            for name in found:
                top = name.partition(".")[0]
                if top in sys.modules or top in names:
                    continue
                try:
                    spec = importlib.util.find_spec(top)
                except (ImportError, ValueError):
                    continue
                origin = spec.origin if spec is not None else None
                if origin and origin not in ("built-in", "frozen") and \
                        not _is_project_file(Path(origin).resolve(), roots, installed):
                    names.append(top)
    return names


def _forget_project_modules(names: set[str], search_roots: Sequence[str]) -> None:
    """Of the modules the warm-up imported (``names``), drop the judge and those of the project's own code:
    a child imports them afresh, so the import hook instruments the program and a changed file is read
    again. Libraries (installed, or imported before the judge, as autotrace itself) stay warm."""
    roots = [Path(r).resolve() for r in search_roots]
    installed = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    for name in names:
        origin = getattr(sys.modules.get(name), "__file__", None)
        if name == _JUDGE_NAME or (origin and _is_project_file(Path(origin).resolve(), roots, installed)):
            del sys.modules[name]


def _is_project_file(path: Path, roots: list[Path], installed: set[Path]) -> bool:
    if "site-packages" in path.parts or any(path.is_relative_to(p) for p in installed):
        return False
    return any(path.is_relative_to(root) for root in roots)


def serve() -> int:
    """The server's main loop (``python -m autotrace.runners.forkserver``)."""
    parent = os.getppid()
    become_subreaper()  # a descendant orphaned by a child that ended abruptly comes back here, to be killed
    # Killed with autotrace (PDEATHSIG) by SIGTERM, not SIGKILL: the server first kills its children's trees.
    wake = _wake_on_signals()
    answers = os.fdopen(os.dup(1), "wb", buffering=0)
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)  # what the warm-up imports print must not reach the answers
    saved_err = os.dup(2)
    os.dup2(quiet, 2)
    requests = _Lines(0)
    first = requests.next_line()
    if first is None:
        return 0  # autotrace ended before the warm-up
    warm = decode(first)
    if not isinstance(warm, Warm):
        raise ProtocolError(f"the fork server's first message must be {Warm.tag!r}, not {warm.tag!r}")
    unsafe = _warm(warm.search_roots, warm.judge, warm.rewrites, warm.files)
    os.dup2(saved_err, 2)
    os.close(saved_err)
    answers.write(encode(Unsafe(unsafe) if unsafe else Ready()))
    if unsafe:
        return 0
    running: dict[int, _Child] = {}
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ)
    selector.register(wake[0], selectors.EVENT_READ)
    private = {answers.fileno(), quiet, selector.fileno(), *wake}
    try:
        while True:
            now = time.monotonic()
            for line in requests.take():
                if os.getppid() != parent:
                    return 0  # autotrace ended (while the last child was forked, say): start no more
                request = decode(line)
                if not isinstance(request, Fork):
                    raise ProtocolError(f"the fork server takes {Fork.tag!r} messages after the first, not "
                                        f"{request.tag!r}")
                pid, child = _start(request, private | {c.pidfd for c in running.values()})
                running[pid] = child
                selector.register(child.pidfd, selectors.EVENT_READ)
            wait = min([c.deadline - now for c in running.values()] + [_PARENT_CHECK])
            for key, _ in selector.select(max(0.0, wait)):
                if key.fd == wake[0]:
                    return 0  # SIGTERM or SIGINT
                if key.fd == 0:
                    if not requests.fill():
                        return 0
                else:
                    pid = next(p for p, c in running.items() if c.pidfd == key.fd)
                    _finish(pid, running.pop(pid), selector, answers, set(running), timed_out=False)
            now = time.monotonic()
            for pid, child in list(running.items()):
                if child.deadline <= now:
                    _finish(pid, running.pop(pid), selector, answers, set(running), timed_out=True)
            _end_orphans(set(running))
            if os.getppid() != parent:
                return 0
    finally:
        for pid, child in running.items():
            kill_tree(pid)
            os.waitpid(pid, 0)
            os.close(child.pidfd)
        _end_orphans(set())


def _wake_on_signals() -> tuple[int, int]:
    """Make SIGTERM and SIGINT write to a pipe (its two ends returned) and do nothing else: the main loop
    watches the reading end and stops, killing the children, at a point of its own choosing. Until the
    loop starts (the warm-up) a signal waits in the pipe."""
    wake = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake[1])
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _noted)
    return wake


def _noted(signum: int, frame: Any) -> None:
    """The Python-level handler of a signal the wakeup pipe already carries to the main loop."""


def _quiet_signals() -> None:
    """In a forked child: a spawned worker's signal handling (SIGTERM ends it, SIGINT raises
    KeyboardInterrupt), and no writes into the server's wakeup pipe (closed in the child, its number
    free to be reused)."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _start(request: Fork, private: set[int]) -> tuple[int, _Child]:
    folder = Path(request.folder)
    limits = Limits(timeout=request.timeout, memory=request.memory, output=request.output)
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 1
        try:
            code = _child(folder, Path(request.cwd), limits, private)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    return pid, _Child(request.id, os.pidfd_open(pid), time.monotonic() + limits.timeout)


def _child(folder: Path, cwd: Path, limits: Limits, private: set[int]) -> int:
    """Become a spawned worker's twin: isolated as :func:`.sandbox.run_limited` makes one (session,
    limits, output to ``output.log``, current folder), then the confined process a spawned worker forks
    (:func:`.worker.run_confined`: :func:`.confine.enter`, the attempts hook, a subreaper that kills every
    descendant the program left). One process, not a spawned worker's two: the server, a subreaper, is
    the parent that outlives it, and kills what an abrupt end of it left before answering."""
    _quiet_signals()
    os.setsid()
    _limiter(limits)()
    log = os.open(folder / "output.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    for fd in private | {log, null}:
        os.close(fd)
    os.chdir(cwd)
    from . import worker

    folder_job, result = folder / "job.json", folder / "result.json"
    sys.argv = [worker.__file__ or "", str(folder_job), str(result), str(folder / "policy.json")]  # a spawned one's
    job = worker.Job.from_json(folder_job.read_text(encoding="utf-8"))
    worker.run_confined(job, result, Confinement.from_json((folder / "policy.json").read_text(encoding="utf-8")))
    sys.stdout.flush()
    sys.stderr.flush()
    return 0


def _finish(pid: int, child: _Child, selector: selectors.BaseSelector, answers: IO[bytes], running: set[int], *,
            timed_out: bool) -> None:
    """Kill what is left of the child: on a timeout its whole tree (sessions of their own included: the
    child is their subreaper), and its process group (the leader is not yet reaped, so its group id
    cannot be reused); reap it, answer."""
    if timed_out:
        kill_tree(pid)
    _kill_group(pid)
    _, status = os.waitpid(pid, 0)
    selector.unregister(child.pidfd)
    os.close(child.pidfd)
    _end_orphans(running)  # what the child left when the program ended it abruptly
    answers.write(encode(Ended(child.ident, os.waitstatus_to_exitcode(status), timed_out)))


def _end_orphans(running: set[int]) -> None:
    """Kill and reap every process re-parented to the server (a subreaper): what a child left when it
    was ended before it could kill its own descendants."""
    while orphans := [pid for pid in children(os.getpid()) if pid not in running]:
        for pid in orphans:
            kill_tree(pid)
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class _Lines:
    """Whole lines read from a file descriptor without blocking past what :mod:`selectors` said is there."""

    def __init__(self, fd: int) -> None:
        self.fd, self.buffer = fd, b""

    def fill(self) -> bool:
        """Read what is there (one read: call it when :mod:`selectors` says so); False at the end of input."""
        chunk = os.read(self.fd, 1 << 16)
        self.buffer += chunk
        return bool(chunk)

    def take(self) -> list[bytes]:
        """The complete lines read so far."""
        *lines, self.buffer = self.buffer.split(b"\n")
        return lines

    def next_line(self) -> bytes | None:
        """Wait for one line; None at the end of input."""
        while b"\n" not in self.buffer:
            if not self.fill():
                return None
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line


if __name__ == "__main__":
    sys.exit(serve())
