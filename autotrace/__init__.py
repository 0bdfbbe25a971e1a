"""autotrace: optimize unmodified Python programs with an LLM, the way autodiff optimizes weights.

Layout: the core here (:mod:`autotrace.markers` finds parameters, :mod:`autotrace.judge` is the judge
contract, :mod:`autotrace.engine` the optimization loop, :mod:`autotrace.recorder` calls → DAG,
:mod:`autotrace.optimizers` OptoPrime and OPRO, :mod:`autotrace.llm` OpenAI-compatible access and the
embedded local model, :mod:`autotrace.patches` the write-back, :mod:`autotrace.store` runs in SQLite),
:mod:`autotrace.transforms` (LibCST analysis, the one ``ast`` pass, the import hook, placing values into
source) and :mod:`autotrace.runners` (CLI, executors, sandbox, pytest integration).
"""

__version__ = "0.1.0"
