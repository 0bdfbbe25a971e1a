"""How an optimization run's evaluations are executed: by a warm fork server (the default on Linux),
by spawning a fresh worker process each (elsewhere, and wherever forking is unsafe), or as Ray tasks;
and how many at once (``--jobs``).

Whatever the executor and the number of jobs, results come back in the order asked for, so a run is
the same whatever N is: :meth:`Executor.run_many` is the entry point for anything that has several
sets of values to evaluate at once (probes, a search's points, a pool of candidates), and for one set
alone: with fewer sets than jobs, each set's examples are split over the free workers (:mod:`.shards`).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from autotrace.config import DEFAULTS, EXECUTORS

from . import shards
from .forkserver import ForkServer, ForkServerGone, ForkUnsafe, fork_supported
from .guard import Baseline
from .job import Job
from .outcome import Examples, WorkerOutcome
from .sandbox import Limits, evaluate
from .scratch import sweep

T = TypeVar("T")
R = TypeVar("R")


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _say_on_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class Executor:
    """Runs worker jobs for one optimization run; close it (or use it as a context manager) to stop the
    fork server and the threads. ``isolated=False`` runs jobs in this process, one at a time; ``root`` is
    the project's root, the folder Ray ships to its nodes; ``split=False`` never splits one job's examples
    over several workers (:meth:`run_many`)."""

    def __init__(self, limits: Limits, *, kind: str = DEFAULTS["executor"], jobs: int | None = None,
                 isolated: bool = True,
                 ray_address: str | None = None, root: Path | None = None, split: bool = True,
                 say: Callable[[str], None] = _say_on_stderr) -> None:
        if kind not in EXECUTORS:
            raise ValueError(f"unknown executor {kind!r}: choose one of {', '.join(EXECUTORS)}")
        if jobs is not None and jobs < 1:
            raise ValueError(f"--jobs must be at least 1 (got {jobs})")
        self.limits, self.isolated, self.split, self._say = limits, isolated, split, say
        self.jobs = (jobs or default_jobs()) if isolated else 1  # in-process runs share this interpreter
        self.kind = kind if isolated else "spawn"
        self._lock = threading.Lock()
        self._server: ForkServer | None = None
        self._fork = self.kind == "fork"
        self._pool: ThreadPoolExecutor | None = None
        self._ray: Any = None
        #: The project's state the evaluations running at the same time share (:class:`.guard.Baseline`).
        self._baseline = Baseline()
        #: How many examples each judge gave and how long they ran, learnt from its last evaluation.
        self._learnt: dict[str | None, shards.Learnt] = {}
        # Once per run, not per evaluation: the scratch folders a killed autotrace left in the temp folder.
        sweep()
        if self.kind == "fork" and (reason := fork_supported()) is not None:
            self._fall_back(reason)
        if self.kind == "ray":
            from .ray_executor import RayRunner

            self._ray = RayRunner(root or Path.cwd(), ray_address)

    def run(self, job: Job) -> WorkerOutcome:
        """The worker's outcome for ``job`` (see :func:`.sandbox.evaluate`)."""
        if self._ray is not None:
            return self._ray.run(job, self.limits)
        server = self._started(job)
        if server is not None:
            try:
                return server.run(job, self.limits, self._baseline)
            except ForkServerGone as exc:
                self._fall_back(str(exc))
        return evaluate(job, self.limits, isolated=self.isolated, baseline=self._baseline)

    def run_many(self, jobs: Sequence[Job]) -> list[WorkerOutcome]:
        """The outcomes of ``jobs``, in their order, up to :attr:`jobs` workers running at once. Fewer
        jobs than workers leave workers free: each job's examples are then split over its share of them
        (:mod:`.shards`), unless the judge's examples have shown they run too fast for it to pay, and the
        shards' outcomes merged back, so that the outcome is the same."""
        if jobs:
            self._started(jobs[0])  # in the caller's thread: the fork server dies with it (PDEATHSIG)
        learnt = self._learnt.get(jobs[0].judge) if jobs else None
        workers = self.jobs if self.split and shards.pays(learnt) else 1
        counts = shards.shares(len(jobs), workers, learnt.examples if learnt is not None else None)
        parts = [shards.split(job, count) for job, count in zip(jobs, counts, strict=True)]
        flat = [part for split in parts for part in split]
        done = self._ray.run_many(flat, self.limits) if self._ray is not None else self.map(self.run, flat)
        outcomes, start = [], 0
        for split in parts:
            outcomes.append(shards.merged(done[start:start + len(split)]))
            start += len(split)
        for job, outcome in zip(jobs, outcomes, strict=True):
            if isinstance(outcome, Examples):  # no more shards than examples; none when they run fast
                self._learnt[job.judge] = shards.Learnt.of(outcome)
        return outcomes

    def map(self, function: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``function`` over ``items`` on up to :attr:`jobs` threads, the results in the items' order."""
        if self.jobs == 1 or len(items) < 2:
            return [function(item) for item in items]
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.jobs, thread_name_prefix="autotrace-eval")
            pool = self._pool
        return list(pool.map(function, items))

    def close(self) -> None:
        with self._lock:
            server, self._server, self._fork = self._server, None, False
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown()
        if server is not None:
            server.close()
        if self._ray is not None:
            self._ray.close()

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _started(self, job: Job) -> ForkServer | None:
        """The fork server (started on first use, warmed with ``job``'s judge), or None: spawn instead."""
        with self._lock:
            if self._server is not None or not self._fork:
                return self._server
            try:
                self._server = ForkServer(job)
            except (ForkUnsafe, ForkServerGone) as exc:
                reason = str(exc)
            else:
                return self._server
        self._fall_back(reason)
        return None

    def _fall_back(self, reason: str) -> None:
        """From now on spawn a worker per evaluation, and say why (once)."""
        with self._lock:
            if not self._fork:
                return
            self._fork = False
            server, self._server = self._server, None
        if server is not None:
            server.close()
        self._say(f"autotrace: {reason}; evaluating each candidate in a freshly started process instead (slower)")
