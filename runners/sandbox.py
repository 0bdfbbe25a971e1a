"""Running an evaluation in a child process: candidate code is written by an LLM and may loop forever,
allocate without bound, crash the interpreter, fork, or print megabytes. None of that may reach the
optimization loop, so each evaluation gets its own process group, a wall-clock timeout, a memory
limit (``RLIMIT_AS``), an output-size limit, and the whole group is killed when it ends.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from autotrace.config import DEFAULTS, find_root, parse_size

from .confine import kill_tree
from .guard import Baseline, guarded, relocated
from .job import Job
from .outcome import Crashed, WorkerOutcome, outcome_from_json
from .scratch import scratch_folder
from .worker import run_job

_OUTPUT_TAIL = 4000


@dataclass(frozen=True)
class Limits:
    timeout: float = DEFAULTS["timeout"]  # seconds of wall-clock time per evaluation
    memory: int | None = parse_size(DEFAULTS["memory"])  # bytes of address space, None for no limit
    output: int = 64 << 20  # bytes the candidate may print (and the worker may write)
    network: bool = not DEFAULTS["no_network"]  # False: no TCP connect or bind (needs Landlock ABI 4)


@dataclass(frozen=True)
class Finished:
    """How a limited child process ended: its exit status (negative: the signal that ended it),
    whether the timeout killed it, and the tail of what it printed."""

    returncode: int
    timed_out: bool
    output_tail: str


def run_limited(argv: Sequence[str], limits: Limits, log_path: Path, *, cwd: Path | None = None) -> Finished:
    """Run ``argv`` under ``limits`` in its own session, its output (stdout and stderr) going to
    ``log_path``; when it ends or times out, its whole process group is killed."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            list(argv), cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_limiter(limits),
        )
        timed_out = False
        try:
            proc.wait(timeout=limits.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _kill_group(proc)
    return Finished(proc.returncode, timed_out, _tail(log_path))


def evaluate(job: Job, limits: Limits = Limits(), *, isolated: bool = True,
             baseline: Baseline | None = None) -> WorkerOutcome:
    """Run ``job`` in a freshly spawned worker, confined (:mod:`.guard`, :mod:`.confine`), and return the
    worker's outcome; a crash becomes :class:`.outcome.Crashed`. ``attempts`` lists what the program tried
    to change outside its writable folders (denied, or undone). ``baseline``: the project's state shared by
    the evaluations that run at the same time (``--jobs``)."""
    if not isolated:
        return _in_process(job)

    def spawn(folder: Path, cwd: Path) -> Finished:
        return run_limited([sys.executable, "-m", "autotrace.runners.worker", str(folder / "job.json"),
                            str(folder / "result.json"), str(folder / "policy.json")], limits,
                           folder / "output.log", cwd=cwd)

    return confined(job, limits, spawn, baseline)


#: Starts the worker on a prepared scratch folder (``job.json``, ``policy.json``; the worker writes
#: ``result.json``, its output goes to ``output.log``) in the given current folder, and waits for its end.
Start = Callable[[Path, Path], Finished]


def confined(job: Job, limits: Limits, start: Start, baseline: Baseline | None = None) -> WorkerOutcome:
    """One guarded evaluation, however its worker is started (spawned, or forked by :mod:`.forkserver`):
    a scratch folder, the project guarded around it (:func:`.guard.guarded`: modes restored, or a private
    copy verified by hash), the job moved into the copy when there is one, the policy the worker confines
    itself with, and the notes of what the program tried to change. The scratch folder names its owner, so
    that the next run removes it should this process be killed (:mod:`.scratch`)."""
    with scratch_folder("autotrace-eval-") as folder:
        project = Path(job.root) if job.root else find_root(Path(next(iter(job.plans))).parent)
        with guarded(project, folder, network=limits.network, baseline=baseline) as (guard, undone):
            (folder / "job.json").write_text(relocated(job, guard).to_json(), encoding="utf-8")
            (folder / "policy.json").write_text(guard.policy.to_json(), encoding="utf-8")
            result = worker_result(start(folder, guard.cwd()), folder / "result.json", limits)
        tried = result.attempts
        return replace(result, attempts=tried + tuple(note for note in undone if note not in tried))


def worker_result(done: Finished, result_path: Path, limits: Limits) -> WorkerOutcome:
    """What an ended worker reported, or :class:`.outcome.Crashed` saying why it reported nothing (any
    executor's)."""
    if not done.timed_out and result_path.is_file():
        return replace(outcome_from_json(result_path.read_text(encoding="utf-8")), output_tail=done.output_tail)
    crash = (f"timed out after {limits.timeout:g} s" if done.timed_out else
             f"the program ended the worker ({describe_exit(done.returncode)}) before it reported a result")
    return Crashed(crash, output_tail=done.output_tail)


def _limiter(limits: Limits):
    cpu = int(limits.timeout * 2) + 5  # a backstop should this process die without killing the worker

    def apply() -> None:  # runs in the child between fork and exec
        _die_with_parent()
        if limits.memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limits.memory, limits.memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.output, limits.output))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))

    return apply


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux: the kernel sends SIGKILL to the worker if autotrace itself is killed (even by SIGKILL)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the timeout and RLIMIT_CPU still bound the worker
        pass


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill the worker and everything it started: its process group, and, while it still runs (a
    timeout), every descendant, those in sessions of their own too (the worker is their subreaper)."""
    if proc.poll() is None:
        kill_tree(proc.pid)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def describe_exit(code: int | None) -> str:
    if code is None:
        return "no exit status"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = {"SIGXFSZ": ": printed more than the output limit", "SIGSEGV": ": segmentation fault",
                "SIGKILL": ": killed (out of memory?)"}.get(name, "")
        return f"{name}{hint}"
    return f"exit code {code}"


def _tail(path: Path) -> str:
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            handle.seek(max(0, size - _OUTPUT_TAIL))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return ("..." if size > _OUTPUT_TAIL else "") + text


def _in_process(job: Job) -> WorkerOutcome:
    """Opt-in fast path: same worker code, then forget every module it imported so the next
    evaluation imports the program afresh with its own values."""
    before = set(sys.modules)
    path = list(sys.path)
    try:
        return run_job(job)
    finally:
        for name in set(sys.modules) - before:
            del sys.modules[name]
        sys.path[:] = path
