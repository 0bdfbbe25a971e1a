"""Evaluations as Ray tasks (``--executor ray``, ``pip install 'autotrace[ray]'``): for programs or judges too
slow for one machine. Each task runs the same spawned, limited worker as a local evaluation
(:func:`.sandbox.evaluate`), on whichever node Ray picks; the project's files travel with Ray's
``runtime_env`` ``working_dir`` (the project root, less its .autotrace, .venv and .git folders), so a
job's paths are moved from the project root here to that folder on the node (:meth:`.job.Job.moved`),
and the result's tracebacks back (:func:`moved_back`); the candidates' source, the values and what the
program printed or returned are never rewritten.
autotrace itself must be installed in the nodes' Python (on a local cluster it is the same Python).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from autotrace.project import ConfigError

from .job import Job, PathMap
from .outcome import Examples, SetupFailed, WorkerOutcome, outcome_from_json, outcome_to_json
from .sandbox import Limits, evaluate

_EXCLUDES = [".autotrace", ".venv", ".git", "__pycache__", ".bench", ".pytest_cache"]
#: Variables a Ray worker is given from this process, set or not by the user: the program's model
#: (:mod:`.app_model`) and the one port ``--no-network`` leaves open. Passed explicitly because a worker of
#: a cluster started before the run does not inherit this process's environment.
_PASSED_ENV = ("OPENAI_BASE_URL", "OPENAI_API_KEY", "AUTOTRACE_MODEL_PORT", "AUTOTRACE_APP_PROXY")


class RayRunner:
    """A connection to a Ray cluster (a local one is started when there is no address and no RAY_ADDRESS)."""

    def __init__(self, root: Path, address: str | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError("--executor ray needs Ray: pip install 'autotrace[ray]'") from None
        self._ray, self.root = ray, root.resolve()
        ray.init(address=address or os.environ.get("RAY_ADDRESS") or None, log_to_driver=False,
                 include_dashboard=False, logging_level=logging.WARNING,
                 runtime_env={"working_dir": str(self.root), "excludes": _EXCLUDES,
                              "env_vars": {k: os.environ[k] for k in _PASSED_ENV if k in os.environ}})
        self._task = ray.remote(max_retries=0)(_evaluate_on_node)

    def run(self, job: Job, limits: Limits) -> WorkerOutcome:
        return self.run_many([job], limits)[0]

    def run_many(self, jobs: Sequence[Job], limits: Limits) -> list[WorkerOutcome]:
        """The outcomes in the jobs' order (all submitted at once: Ray spreads them over the cluster)."""
        refs = [self._task.remote(_portable(job, self.root), str(self.root), asdict(limits)) for job in jobs]
        return [outcome_from_json(text) for text in self._ray.get(refs)]

    def close(self) -> None:
        self._ray.shutdown()


def _portable(job: Job, root: Path) -> str:
    """The job as JSON, refusing files outside the project root (they would not reach the node)."""
    for path in [job.judge or "", *job.plans, *job.candidates]:
        if path and not Path(path).resolve().is_relative_to(root):
            raise ConfigError(f"{path}: with --executor ray every file must be inside the project root {root}")
    return job.to_json()


def moved_back(outcome: WorkerOutcome, paths: PathMap) -> WorkerOutcome:
    """``outcome`` with the files its tracebacks name seen through ``paths`` (the node's copy of the project
    back to the driver's): the crash's or setup's reason and traceback, and each failed example's
    message (its traceback). The examples' outputs and graphs are the program's own: left as they are."""
    if isinstance(outcome, Examples):
        return replace(outcome, examples=tuple(replace(e, message=paths.traceback(e.message)) if e.failed else e
                                               for e in outcome.examples))
    if isinstance(outcome, SetupFailed):
        return replace(outcome, reason=paths.traceback(outcome.reason), traceback=paths.traceback(outcome.traceback))
    return outcome


def _evaluate_on_node(job_json: str, driver_root: str, limits: dict[str, Any]) -> str:
    """Runs on a Ray worker, whose current folder is the project's copy (``working_dir``); the outcome
    travels back in its one codec (:mod:`.outcome`), its tracebacks' paths moved back under the driver's root."""
    paths = PathMap(Path(driver_root), Path.cwd().resolve())
    job = Job.from_json(job_json).moved(paths, root=True)
    return outcome_to_json(moved_back(evaluate(job, Limits(**limits)), paths.inverse()))
