"""The optimization engine's options: what the search does, each default :data:`autotrace.config.DEFAULTS`'
(the command line's). Where and how the program runs is the runner's (:mod:`autotrace.runners.optimize`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from autotrace.config import DEFAULTS
from autotrace.llm.client import LLMConfig
from autotrace.records import Scoring

#: The temperature of a step's sampled answers beyond the first (``Options.candidates`` > 1), and of the
#: answers asked again (``Options.resample``).
SAMPLE_TEMPERATURE = 0.8
#: At most this many examples' feedback in one prompt: the parent's worst, the rest left out.
MINIBATCH = 8


@dataclass(kw_only=True)
class Options:
    """One run's search options."""

    steps: int = DEFAULTS["steps"]
    target_score: float | None = None
    optimizer: str = DEFAULTS["optimizer"]
    llm: LLMConfig = field(default_factory=lambda: LLMConfig(model="local", base_url=None, api_key=None))
    apply: bool = False
    resume: str | None = None
    cache: bool = True
    #: The optimizer's prompt budget in tokens (None: from the model's context).
    budget_tokens: int | None = None
    memory: int = 5
    #: Measure each numeric parameter's effect on the score (one extra evaluation per numeric
    #: parameter and step, see :mod:`autotrace.search.probe`) and show it to the optimizer.
    probe: bool = DEFAULTS["probe"]
    #: After the probes, search the numeric parameters by program runs alone (:mod:`autotrace.search`)
    #: and, if that beats the best values, take it as the step's result without an LLM call.
    measured_step: bool = DEFAULTS["measured_step"]
    #: Program runs one measured search may make (besides the probes).
    measured_runs: int = DEFAULTS["measured_runs"]
    #: Stop when this many steps in a row gave nothing to evaluate (no change, or only rejected or
    #: unusable values, the answers asked again by ``resample`` included) while the best score stood
    #: still (0: never). The prompt after such an answer says what was wrong with it.
    max_unchanged: int = DEFAULTS["max_unchanged"]
    #: How a (code) variable's new value is asked for: "fenced" (a ```python block) or "json" (a JSON string).
    code_format: str = DEFAULTS["code_format"]
    #: Answers asked for per step (``--candidates``): the first at the configured temperature, the others
    #: sampled at :data:`SAMPLE_TEMPERATURE` with seeds derived from the run's seed, the step and the
    #: index, concurrently; the step's new candidates are evaluated as one batch.
    candidates: int = DEFAULTS["candidates"]
    #: When a step's answers give no new candidate (no change, only rejected values, or a candidate
    #: evaluated before), ask again up to this many times, one sampled answer at a time, each told what
    #: was wrong with the one before.
    resample: int = DEFAULTS["resample"]
    #: Merge two front candidates that are right on different examples (:mod:`autotrace.merge`).
    merge: bool = DEFAULTS["merge"]
    #: Also propose texts by instruction induction and the output form (:mod:`autotrace.optimizers.induce`):
    #: None for the texts the program sends to its model, True for every text parameter, False never.
    induce: bool | None = DEFAULTS["induce"]
    #: The fraction of the judge's examples held out for validation (``--holdout``), drawn with the
    #: run's seed: candidates are selected on the others, the patch is the best on these.
    holdout: float = DEFAULTS["holdout"]
    #: What the scores mean beyond the judge (the tests run, the held-out part), stored with the run and
    #: required to match on resume (:class:`autotrace.records.Scoring`); None: a judge's run with ``holdout``.
    scoring: Scoring | None = None
    #: Draws per example (``--repeats``): each example run this many times with other seeds, and the
    #: paired test decides what is better (:mod:`autotrace.scoring`). None: once, unless the original
    #: values evaluated twice disagree, then :data:`autotrace.scoring.AUTO_REPEATS`.
    repeats: int | None = None
    #: What a raising example scores (``--failure-score``; the judge's ``failure_score``); None: the
    #: lowest score the judge gave so far, or 0 while every score is in [0, 1].
    failure_score: float | None = None
    #: Stop the run between steps once it has spent this many tokens, the optimizer's and the program's
    #: model calls together (None: no limit); the patch is the best so far.
    max_run_tokens: int | None = DEFAULTS["max_run_tokens"]
    #: The same for the optimizer's tokens alone.
    max_optimizer_tokens: int | None = DEFAULTS["max_optimizer_tokens"]
    #: The same for the program's own model calls alone (those through autotrace's proxy).
    max_program_tokens: int | None = DEFAULTS["max_program_tokens"]

    def the_scoring(self) -> Scoring:
        """The scoring the run is stored with (``scoring``, or a judge's with ``holdout``)."""
        return self.scoring or Scoring(holdout=self.holdout, seed=self.seed)

    @property
    def seed(self) -> int:
        """The run's seed: every draw, sample and parent choice is derived from it."""
        return self.llm.seed if self.llm.seed is not None else 0
