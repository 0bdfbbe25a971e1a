"""OPRO (Yang et al. 2023, "Large Language Models as Optimizers"): no graph, only a scored history.

The meta-prompt lists earlier values with their scores in ascending order, so the best come last,
closest to where the model writes, as in the paper; then the current values and their feedback.
Wording lives in ``autotrace/prompts/opro_*.txt``.
"""

from __future__ import annotations

from autotrace.optimizers.base import (
    Attempt,
    BudgetError,
    Optimizer,
    answer_format,
    estimate_tokens,
    fill,
    fit_attempts,
    load_prompt,
    prompt_tokens,
    sensitivity_section,
)
from autotrace.optimizers.render import constraints_section, variables_section
from autotrace.text import truncate

#: (examples, characters per example) for the current feedback, from roomy to terse.
_FEEDBACK_DETAIL = ((20, 1000), (20, 300), (5, 100), (1, 60))
#: Tokens the history and the feedback need at least: room for their "(omitted ...)" notes.
_MIN_ROOM = 32


class OPRO(Optimizer):
    """Keeps the ``memory`` best-scoring attempts (the paper's top-k) and shows them worst first."""

    def build_messages(self, budget: int) -> list[dict]:
        fixed = {
            "instruction": self.instruction,
            "constraints": constraints_section(self.params),
            "variables": variables_section(self.params, self.values),
            "problems": self.problems_section(),
            "sensitivity": sensitivity_section(self.sensitivity),
            "answer_format": answer_format(self.params, self.values, self.sensitivity.estimates),
        }
        system = {"role": "system", "content": load_prompt("opro_system.txt")}
        skeleton = {"role": "user", "content": fill("opro_user.txt", history="", feedback="", **fixed)}
        rest = budget - prompt_tokens([system, skeleton])
        if rest < _MIN_ROOM:
            raise BudgetError(f"the variables alone need ~{budget - rest} tokens but the budget is {budget}")
        feedback = self._feedback_text(rest // 3)
        history = fit_attempts(self.ranked(), self.current_texts(), rest - estimate_tokens(feedback),
                               feedback=False) or "(none yet)"
        user = fill("opro_user.txt", history=history, feedback=feedback, **fixed)
        return [system, {"role": "user", "content": user}]

    def ranked(self) -> list[Attempt]:
        """The best ``memory`` attempts, ascending by score; unscored attempts count as the worst."""
        ordered = sorted(self.attempts, key=lambda a: (a.score is not None, a.score or 0.0))
        return ordered[-self.memory :] if self.memory > 0 else []

    def _feedback_text(self, budget: int) -> str:
        for count, chars in _FEEDBACK_DETAIL:
            lines = []
            for feedback in self.feedback[:count]:
                score = f"score {feedback.score:g}: " if feedback.score is not None else ""
                lines.append(f"- {score}{truncate(' '.join(feedback.text.split()), chars) or '(no text)'}")
            if len(self.feedback) > count:
                lines.append(f"- ... {len(self.feedback) - count:,} more examples")
            text = "\n".join(lines)
            if estimate_tokens(text) <= budget:
                return text
        return "(omitted to fit the prompt budget)"
