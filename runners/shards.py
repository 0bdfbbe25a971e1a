"""One evaluation's examples split over several workers, and the workers' outcomes merged back into the
one outcome a single worker would have given.

An evaluation runs its examples one after another in one worker. When fewer evaluations are asked for at
once than there are jobs (``--jobs``: the initial values, a step with one candidate), the free jobs would
sit idle while a program that calls an LLM waits seconds on its model for each example. Instead the
evaluation's job becomes ``n`` shard jobs (:attr:`.job.Job.shard`): shard ``k`` runs the examples whose
index is ``k`` modulo ``n`` (every worker reads the judge's examples itself, so the parent need not know
how many there are), each example with its own index's draw seed and train/validation side, each shard
guarded and confined as a whole evaluation is. :func:`merged` interleaves the shards' examples back into
their order; the score, the feedback and the graphs are then those of one worker for any program whose
examples do not depend on each other (a program that keeps state from one example to the next sees it
per shard). The judge's contract is per example (``feedback(output, example)``), its aggregate the mean
the :class:`~autotrace.evaluation.Evaluation` takes, so sharding leaves it whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from .job import Job
from .outcome import Examples, WorkerOutcome

#: An evaluation whose examples ran for less than this many seconds (in the workers, summed) is not split:
#: each shard is a worker that imports the program and the judge again, which costs more than the wait it saves
#: (docs/decisions/split-examples.md).
PAYS_FROM = 0.2


@dataclass(frozen=True)
class Learnt:
    """What the last evaluation of a judge's examples showed: how many there are and their seconds."""

    examples: int
    seconds: float

    @classmethod
    def of(cls, outcome: Examples) -> Learnt:
        return cls(len(outcome.examples), outcome.seconds)


def pays(learnt: Learnt | None) -> bool:
    """Whether splitting an evaluation of these examples saves more than it costs: yes until one evaluation
    has shown their seconds (a program that waits on a model gains most on its first, longest, evaluation),
    then only when they ran for at least :data:`PAYS_FROM` seconds."""
    return learnt is None or learnt.seconds >= PAYS_FROM


def shares(asked: int, jobs: int, examples: int | None) -> list[int]:
    """How many shards each of ``asked`` evaluations is split into when ``jobs`` workers may run at once:
    the workers shared out (the first ones taking the remainder), never more shards than ``examples`` (the
    judge's example count, when known), one each when there are no free workers."""
    if asked == 0:
        return []
    if asked >= jobs:
        return [1] * asked
    base, extra = divmod(jobs, asked)
    return [max(1, min(base + (i < extra), examples if examples is not None else jobs)) for i in range(asked)]


def split(job: Job, count: int) -> list[Job]:
    """``job`` as ``count`` shard jobs (itself when ``count`` is 1)."""
    if count <= 1:
        return [job]
    return [replace(job, shard=(k, count)) for k in range(count)]


def merged(outcomes: Sequence[WorkerOutcome]) -> WorkerOutcome:
    """The shards' outcomes (in shard order) as one evaluation's: the examples interleaved back into their
    order (shard ``k`` ran indexes ``k``, ``k + n``, ...), what the program tried to change said once. A
    shard that did not end with examples (the program did not import, the judge failed, the worker crashed
    or timed out) makes the whole evaluation end so: the first such shard's outcome, as the one worker
    would have ended."""
    if len(outcomes) == 1:
        return outcomes[0]
    attempts = tuple(dict.fromkeys(note for outcome in outcomes for note in outcome.attempts))
    for outcome in outcomes:
        if not isinstance(outcome, Examples):
            return replace(outcome, attempts=attempts)
    parts = [outcome.examples for outcome in outcomes if isinstance(outcome, Examples)]
    count = sum(len(part) for part in parts)
    examples = tuple(parts[i % len(parts)][i // len(parts)] for i in range(count))
    tail = "".join(outcome.output_tail for outcome in outcomes)
    return Examples(examples=examples, attempts=attempts, output_tail=tail,
                    seconds=sum(outcome.seconds for outcome in outcomes if isinstance(outcome, Examples)))
