"""What each step's prompt is about: the parent values (a front member, or the candidate just evaluated)
and the examples whose feedback it shows."""

from __future__ import annotations

import math
import random

from autotrace.evaluation import Evaluation, ExampleResult, Feedback

from .ledger import Ledger
from .options import MINIBATCH
from .state import Held


def choose_parent(ledger: Ledger, seed: int, step: int, current: Held) -> Held | None:
    """The values this step's prompt is about, or None for ``current``.

    Right after a candidate made from a front member was evaluated, ``current`` (the model sees once
    what its change did, even a worse one). Otherwise a front member: drawn with the run's seed when
    the front holds a trade-off (candidates best on different examples,
    :meth:`autotrace.pool.Pool.choose_parent`), else the best one. So a worse candidate's own worse
    child does not become the next parent: a run does not wander off from its best."""
    pool = ledger.pool
    fresh = pool.get(ledger.key(current.values))
    front = pool.front()
    if not front:  # nothing ran to a score yet: nothing to go back to
        return None
    on_front = {c.id for c in front}
    if fresh is not None and fresh.step == step - 1 and fresh.origin != "initial" and (
            fresh.id in on_front or all(parent in on_front for parent in fresh.parents)):
        return None
    if len({tuple(sorted(c.scores.items())) for c in front}) < 2:  # no trade-off, only equal candidates
        parent = max(front, key=lambda c: c.rank)
        if fresh is None or fresh.id in on_front or fresh.rank >= parent.rank:  # (a probe is on no front)
            return None
    else:
        parent = pool.choose_parent(seed, step)
    return Held(ledger.values(parent.values), ledger.evaluated[parent.id])


def feedbacks(evaluation: Evaluation, seed: int, step: int) -> list[Feedback]:
    """The feedback the prompt shows: every example's, or with more than :data:`MINIBATCH` examples
    the worst ones (failed first, ties drawn with the run's seed), in their own order."""
    all_feedback = evaluation.feedbacks()
    if len(all_feedback) <= MINIBATCH or len(all_feedback) != len(evaluation.examples):
        return all_feedback
    rng = random.Random(f"{seed}:{step}:minibatch")
    worst = sorted(range(len(all_feedback)),
                   key=lambda i: (_example_score(evaluation.examples[i]), rng.random()))
    return [all_feedback[i] for i in sorted(worst[:MINIBATCH])]


def _example_score(example: ExampleResult) -> float:
    return -math.inf if example.failed else float(example.score or 0.0)


def validated(ledger: Ledger, best: Held) -> Held:
    """The values the patch is made of: with validation examples, the candidate best on them (then on
    the others), else ``best``: a candidate selected on the train examples can fit them alone."""
    if not best.evaluation.holdout:
        return best
    chosen = max(ledger.pool.members(), key=lambda c: (ledger.evaluated[c.id].validation.rank, c.rank))
    evaluation = ledger.evaluated[chosen.id]
    held = best.evaluation
    if (evaluation.validation.rank, evaluation.rank) <= (held.validation.rank, held.rank):
        return best
    return Held(ledger.values(chosen.values), evaluation)
