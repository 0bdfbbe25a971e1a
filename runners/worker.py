"""Evaluating one set of parameter values: import the instrumented program, run the entry on each
example under the recorder, judge each output.

``python -m autotrace.runners.worker JOB.json RESULT.json`` does it in a child process (the default:
see :mod:`.sandbox`); :func:`run_job` does it in the current one. Only JSON crosses the boundary: the
job's (:mod:`.job`) and the outcome's (:mod:`.outcome`).
"""

from __future__ import annotations

import importlib
import os
import random
import signal
import sys
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

from autotrace import graph as g
from autotrace.atomic import atomic_write
from autotrace.evaluation import ExampleResult
from autotrace.judge import JudgeError, judge_examples, judge_output, load_judge
from autotrace.params import ParamKind, text_to_value
from autotrace.recorder import ParamNode, Recorder, RunOutcome, build_graph, user_traceback
from autotrace.runtime import Runtime
from autotrace.transforms.hook import Target, install, uninstall

from .attempts import watch
from .confine import Confinement, become_subreaper, die_with_parent, enter, kill_descendants
from .job import Job
from .model_calls import ModelCalls, add_model_calls
from .outcome import EntryMissing, Examples, JudgeFailed, SetupFailed, WorkerOutcome, outcome_to_json


def run_job(job: Job) -> WorkerOutcome:
    """Run the job here: :class:`.outcome.Examples` (of the examples of its :attr:`.job.Job.shard`), or why
    the run could not be judged at all."""
    kinds = {p.name: p.kind for p in job.params}
    values = {name: text_to_value(kinds.get(name, ParamKind.LITERAL), text) for name, text in job.values.items()}
    runtime = Runtime({n: v for n, v in values.items() if kinds.get(n) is not ParamKind.CODE})
    targets = {Path(path): Target(plan, dict(job.candidates.get(path, {}))) for path, plan in job.plans.items()}
    for root in reversed(job.search_roots):
        if root not in sys.path:
            sys.path.insert(0, root)
    finder = install(targets, runtime, cache=job.cache)
    model_calls = ModelCalls.start()  # before the import: a client made at import takes this route too
    try:
        try:
            judge = load_judge(Path(job.judge)) if job.judge else None
            split = judge_examples(judge) if judge else None
            examples, train = split if split is not None else (None, 1)
        except JudgeError as exc:
            return JudgeFailed(str(exc))
        runs = [(index, example) for index, example in enumerate(examples if examples is not None else [None])
                if job.runs_example(index)]
        if not runs:  # a shard past the last example: nothing to import the program for
            return Examples(examples=())
        try:
            module = importlib.import_module(job.target_module)
        except BaseException as exc:  # the program does not even import: that is the feedback
            return SetupFailed(f"importing {job.target_module} raised {type(exc).__name__}: {exc}",
                               user_traceback(exc))
        entry = getattr(module, job.entry, None)
        if not callable(entry):
            return EntryMissing(f"{job.target_module} has no function {job.entry!r} (use --entry NAME)")
        params = [ParamNode(p.name, values[p.name], p.kind, p.description) for p in job.params]
        results, started = [], time.perf_counter()
        for index, example in runs:
            args = () if examples is None else (example,)
            seed_draw(job.seed, index)
            if model_calls is not None:  # the example's identity keys its sampled requests: draw seed, index
                model_calls.begin(f"{job.seed}:{index}")
            outcome, recorder = _run_entry(runtime, entry, args, job.record)
            score, message = None, ""
            if outcome.error is not None:
                message = user_traceback(outcome.error)
            else:
                try:
                    verdict = judge_output(judge.feedback, outcome.output, example, examples is not None) if judge \
                        else None
                except JudgeError as exc:
                    return JudgeFailed(str(exc))
                score, message = (verdict.score, verdict.message) if verdict else (None, "")
            results.append(ExampleResult(
                score=score, failed=outcome.error is not None, message=message,
                example=g.short_repr(example) if examples is not None else None, output=g.short_repr(outcome.output),
                graph=g.to_json(_graph(recorder, params, outcome, model_calls)) if recorder is not None else None,
                held_out=index >= train))
        return Examples(examples=tuple(results), seconds=time.perf_counter() - started)
    finally:
        uninstall(finder)
        if model_calls is not None:
            model_calls.stop()


def _graph(recorder: Recorder, params: list[ParamNode], outcome: RunOutcome, model_calls: ModelCalls | None) -> Any:
    """The example's recorded run, with the model calls it made through autotrace's proxy as nodes."""
    graph = build_graph(recorder, params, outcome)
    if model_calls is not None:
        add_model_calls(graph, model_calls.take(), params)
    return graph


def seed_draw(seed: int, index: int) -> None:
    """Seed the program's random generators for one example of one draw; ``AUTOTRACE_SEED`` says the
    seed to a program that seeds something else (its model calls, say) itself."""
    value = (seed * 1_000_003 + index) % 2**32
    random.seed(value)
    os.environ["AUTOTRACE_SEED"] = str(value)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        try:
            numpy.random.seed(value)
        except Exception:  # a stub or partial numpy: the program's own business
            pass


def _run_entry(runtime: Runtime, entry: Any, args: tuple, record: bool) -> tuple[RunOutcome, Recorder | None]:
    recorder = Recorder() if record else None
    if recorder is None:
        try:
            return RunOutcome(None, entry(*args), inputs=args), None
        except BaseException as exc:
            return RunOutcome(None, error=exc, inputs=args), None
    with runtime.recording(recorder):
        try:
            output = entry(*args)
        except BaseException as exc:  # SystemExit, KeyboardInterrupt too: the candidate's, not ours
            return RunOutcome(_entry_index(recorder, entry), error=exc, inputs=args), recorder
    return RunOutcome(_entry_index(recorder, entry), output, inputs=args), recorder


def _entry_index(recorder: Recorder, entry: Any) -> int | None:
    """The entry's own call is the first one recorded, if the entry is an instrumented function."""
    calls = recorder.calls
    return 0 if calls and recorder.is_call_of(calls[0], entry) else None


def main(argv: list[str]) -> int:
    """``JOB.json RESULT.json [POLICY.json]``: with a policy the job runs confined (:mod:`.confine`) in a
    forked child, and this process, a subreaper, outlives it to kill whatever it left behind even when
    the program ends the child abruptly (``os._exit``, a signal)."""
    job_path, result_path = map(Path, argv[:2])
    job = Job.from_json(job_path.read_text(encoding="utf-8"))
    policy = Confinement.from_json(Path(argv[2]).read_text(encoding="utf-8")) if len(argv) > 2 else None
    if policy is None:
        _report(result_path, _guarded_run(job))
        return 0
    become_subreaper()
    child = os.fork()
    if child:
        return _reap(child)
    die_with_parent()
    run_confined(job, result_path, policy)
    return 0


def run_confined(job: Job, result_path: Path, policy: Confinement) -> None:
    """Confine this process (:func:`.confine.enter`, the attempts hook), run the job, kill every process
    the program left (its orphans re-parent here: this process is a subreaper), write the result. The
    caller makes sure that what an abrupt end of this process leaves is killed too: :func:`main`'s
    subreaper parent, or the fork server (a subreaper itself, which runs this in its forked child)."""
    become_subreaper()
    attempts = None
    try:
        enter(policy, result_path.parent)
        attempts = watch(policy.writable, Path(job.root or os.getcwd()))
        result = run_job(job)
    except BaseException as exc:  # a worker bug or a candidate escaping every guard: report, don't vanish
        result = SetupFailed(f"worker failed: {type(exc).__name__}: {exc}", traceback.format_exc())
    kill_descendants()
    _report(result_path, replace(result, attempts=tuple(attempts.notes) if attempts is not None else ()))


def _guarded_run(job: Job) -> WorkerOutcome:
    try:
        return run_job(job)
    except BaseException as exc:  # a worker bug: report, don't vanish
        return SetupFailed(f"worker failed: {type(exc).__name__}: {exc}", traceback.format_exc())


def _report(result_path: Path, result: WorkerOutcome) -> None:
    """Write the result for the parent, which reads it once this process has ended: the rename keeps a
    half-written file from being read, and no sync is needed (the scratch folder is gone after the read)."""
    atomic_write(result_path, outcome_to_json(result).encode("utf-8"), durable=False)


def _reap(child: int) -> int:
    """Wait for the confined child, kill its leftovers, and end as it ended (its exit code or signal).
    Should autotrace die meanwhile (even by SIGKILL), the kernel sends this process SIGTERM, not the
    SIGKILL that would leave the children of other sessions to init: it kills its descendants first."""
    signal.signal(signal.SIGTERM, _end_with_descendants)
    die_with_parent(signal.SIGTERM)
    _, status = os.waitpid(child, 0)
    kill_descendants()
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code


def _end_with_descendants(signum: int, frame: Any) -> None:
    kill_descendants()
    os._exit(128 + signum)


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # skip interpreter teardown: candidate threads or atexit hooks cannot hang us
