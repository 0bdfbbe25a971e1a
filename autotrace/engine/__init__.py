"""The optimization engine: one run's state, its proposers, its acceptance rule and its stoppers
(see :mod:`autotrace.engine.engine`). The runners give it an :class:`Evaluator` that runs the program."""

from .acceptance import Acceptance, pooled_best, takes
from .callbacks import StepDone, StepReport
from .engine import Engine
from .finish import RunResult
from .ledger import Evaluator, Run
from .options import MINIBATCH, SAMPLE_TEMPERATURE, Options
from .proposers import Offer, Proposer, Step

__all__ = ["MINIBATCH", "SAMPLE_TEMPERATURE", "Acceptance", "Engine", "Evaluator", "Offer", "Options", "Proposer",
           "Run", "RunResult", "Step", "StepDone", "StepReport", "pooled_best", "takes"]
