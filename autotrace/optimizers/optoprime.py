"""OptoPrime (Cheng et al. 2024): show the model the recorded run and the feedback, ask for new values.

The prompt is the problem text of :mod:`.render` (the run as code-like sections), the memory of
the most recent attempts and the problems of the previous answer; its wording lives in
``autotrace/prompts/optoprime_*.txt``. The problem gets whatever budget the rest leaves.
"""

from __future__ import annotations

from autotrace.optimizers.base import (
    Optimizer,
    answer_format,
    fill,
    fit_attempts,
    load_prompt,
    prompt_tokens,
    section,
    sensitivity_section,
)
from autotrace.optimizers.render import render_problem


class OptoPrime(Optimizer):
    """Trace's optimizer: one LLM call per step over the execution graph(s) of the step's examples."""

    #: Share of the budget the memory may take at most; the problem text is what matters most.
    MEMORY_SHARE = 0.25
    code_as_code = True

    def build_messages(self, budget: int) -> list[dict]:
        recent = self.attempts[-self.memory :] if self.memory > 0 else []
        parts = {
            # the current values' attempt is left out: #Feedback is about them
            "memory": section("#Earlier attempts (oldest first; a higher score is better)",
                              fit_attempts(recent, self.current_texts(), int(budget * self.MEMORY_SHARE),
                                           skip_current=True)),
            "problems": self.problems_section(),
            "sensitivity": sensitivity_section(self.sensitivity),
            "answer_format": answer_format(self.params, self.values, self.sensitivity.estimates,
                                           code_as_code=self.answers_in_text),
        }
        # the estimate rule only when there is an estimate: a measured step leaves most prompts without one
        estimate_rule = load_prompt("optoprime_estimate_rule.txt") if self.sensitivity.estimates else ""
        example = load_prompt("optoprime_example_code.txt" if self.answers_in_text else "optoprime_example_json.txt")
        system = {"role": "system", "content": fill("optoprime_system.txt", estimate_rule=estimate_rule,
                                                    example=example)}
        skeleton = {"role": "user", "content": fill("optoprime_user.txt", problem="", **parts)}
        problem = render_problem(
            self.feedback, self.params, self.values, instruction=self.instruction,
            budget_tokens=budget - prompt_tokens([system, skeleton]),
        )
        return [system, {"role": "user", "content": fill("optoprime_user.txt", problem=problem, **parts)}]
