"""autotrace: optimize unmodified Python programs with an LLM, the way autodiff optimizes weights.

Layout: :mod:`autotrace.transforms` (markers, LibCST analysis, the one ``ast`` pass, the import hook),
:mod:`autotrace.recorder` (calls → DAG), :mod:`autotrace.optimizers` (OptoPrime, OPRO),
:mod:`autotrace.llm` (OpenAI-compatible access, the embedded local model), :mod:`autotrace.patches`
(write-back into sources), :mod:`autotrace.store` (runs in SQLite), :mod:`autotrace.runners`
(CLI, pytest plugin, optimization loop).
"""

__version__ = "0.1.0"
