"""LLM optimizers: propose new parameter values from recorded runs and feedback.

``OPTIMIZERS`` maps the names the CLI and config accept to the classes.
"""

from __future__ import annotations

from autotrace.config import OPTIMIZER_NAMES
from autotrace.optimizers.base import Attempt, BudgetError, Optimizer, Proposal, estimate_tokens
from autotrace.optimizers.opro import OPRO
from autotrace.optimizers.optoprime import OptoPrime

OPTIMIZERS: dict[str, type[Optimizer]] = dict(zip(OPTIMIZER_NAMES, (OptoPrime, OPRO), strict=True))

__all__ = ["OPRO", "OPTIMIZERS", "Attempt", "BudgetError", "Optimizer", "OptoPrime", "Proposal",
           "estimate_tokens"]
