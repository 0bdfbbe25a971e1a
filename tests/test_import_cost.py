"""What a process of autotrace's imports before it needs it (docs/decisions/import-cost.md): the CLI's
parent process does not import ``openai`` until it asks a model, and no process imports
``libcst.matchers``, whose import costs more than the rest of LibCST."""

from __future__ import annotations

import subprocess
import sys

#: What the parent of ``autotrace optimize`` imports to run a step without a model call.
PARENT = ("autotrace.runners.cli", "autotrace.runners.optimize", "autotrace.engine", "autotrace.runners.app_model",
          "autotrace.llm.proxy", "autotrace.patches", "autotrace.marker_tree", "autotrace.report")


def imported_after(modules: tuple[str, ...], code: str = "") -> set[str]:
    script = f"import sys\nimport {', '.join(modules)}\n{code}\nprint(' '.join(sorted(sys.modules)))\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def test_the_parent_imports_openai_only_when_it_makes_a_client_and_never_the_matchers():
    before = imported_after(PARENT)
    assert "openai" not in before and "libcst.matchers" not in before
    assert "libcst" in before  # the analysis and the patches need LibCST itself
    after = imported_after(PARENT, "from autotrace.llm.client import LLM, LLMConfig\n"
                                   "LLM(LLMConfig(model='m', base_url='http://127.0.0.1:9/v1', api_key='k'))")
    assert "openai" in after
