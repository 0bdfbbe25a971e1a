"""The merge proposer: two front candidates that are right on different examples, merged once per pair
(:mod:`autotrace.merge`): by combining their changed parameters with no LLM call, or by asking the model
for one version of a code or text parameter both changed. The merged values are evaluated (unless known)."""

from __future__ import annotations

from typing import Any

from autotrace.llm.client import LLMReply
from autotrace.merge import MergePlan, merge_messages, parse_merged, plan_merge
from autotrace.optimizers.base import Attempt, Optimizer, prompt_tokens
from autotrace.params import written_whole
from autotrace.pool import Candidate, example_labels
from autotrace.text import truncate

from .ledger import Ledger
from .options import MINIBATCH
from .proposers import Offer, Step


class Merging:
    """Offers a merge of two front candidates (``values`` None when nothing new was run): of those that
    can be merged, a pair differing in the parameter the step's feedback implicates most comes first."""

    def __init__(self, ledger: Ledger, optimizer: Optimizer) -> None:
        self.ledger, self.optimizer = ledger, optimizer

    def propose(self, step: Step) -> Offer | None:
        ledger = self.ledger
        mergeable = {p.name for p in ledger.project.params if written_whole(p, p.initial)}
        plan = plan_merge(ledger.pool, mergeable, ledger.merged, self.optimizer.implicated_order())
        if plan is None:
            return None
        ledger.merged.add(plan.parents)
        which = f"candidates {plan.a.id} and {plan.b.id}"
        reply = None
        values: dict[str, Any] | None
        if plan.values is not None:
            values, how = ledger.values(plan.values), "no LLM call"
        else:
            values, reply, how = self._ask(plan)
            if values is None:
                return Offer(note=f"merge of {which}: {how}", reply=reply)
        if (known := ledger.pool.get(ledger.key(values))) is not None:
            return Offer(note=f"merge of {which}: candidate {known.id} again, not run again", reply=reply)
        evaluation = ledger.evaluate(values, "merge", plan.parents)
        self.optimizer.remember(Attempt(ledger.texts(values), evaluation.score, evaluation.message()))
        return Offer(values=values, evaluation=evaluation, reply=reply,
                     note=f"merged {which} ({how}): {evaluation.describe()}")

    def _ask(self, plan: MergePlan) -> tuple[dict[str, Any] | None, LLMReply | None, str]:
        """Ask the model for one version of ``plan.conflict`` that keeps what each candidate gets right."""
        if plan.conflict is None:
            raise ValueError(f"the merge of candidates {plan.a.id} and {plan.b.id} has no parameter to ask about")
        ledger = self.ledger
        spec = ledger.project.param(plan.conflict)
        a, b = ledger.values(plan.a.values), ledger.values(plan.b.values)
        right = {plan.a.id: self._right(plan.a, plan.b), plan.b.id: self._right(plan.b, plan.a)}
        messages = merge_messages(spec, plan, (str(a[spec.name]), str(b[spec.name])), right)
        if prompt_tokens(messages) > self.optimizer.budget_tokens:
            return None, None, "the two versions do not fit the prompt budget"
        reply = self.optimizer.llm.complete_text(messages)
        merged = None if reply.error else parse_merged(reply.text, spec, a[spec.name])
        if merged is None:
            why = f" ({reply.error})" if reply.error else ""
            return None, reply, f"no usable merged {spec.name} in the answer{why}"
        return {**a, spec.name: merged}, reply, "merged by the model"

    def _right(self, candidate: Candidate, other: Candidate) -> list[str]:
        """What ``candidate`` gets right and ``other`` does not: those examples' feedback, a few."""
        evaluation = self.ledger.evaluated[candidate.id]
        lines = []
        for label, example in zip(example_labels(evaluation.examples), evaluation.examples, strict=False):
            if candidate.score_on(label) > other.score_on(label):
                lines.append(truncate(" ".join(example.message.split()) or label, 300))
        return lines[:MINIBATCH]
