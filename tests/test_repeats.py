"""A proposal already evaluated in this run is not evaluated again (code compared by its normalised
syntax tree, values by value), and the model is told so: a model alternating between two answers
cannot make the loop cycle."""

from __future__ import annotations

from pathlib import Path

from inprocess import run
from llmserver import ScriptedLLMServer

from autotrace.proposal_key import code_key, value_key

ORIGINAL = '''def slugify(title):  # autotrace: param
    """The slug of `title`."""
    return title.lower().replace(" ", "-")
'''
BROKEN = '''def slugify(title):
    title = title.strip()
    slug = slug.lower()
    return slug
'''


def test_code_is_compared_by_its_syntax_tree_without_docstrings_or_formatting():
    same = 'def slugify(title):\n    # a comment\n\n    return (title.lower()\n            .replace(" ", "-"))\n'
    assert code_key(ORIGINAL) == code_key(same)
    assert code_key(ORIGINAL) != code_key(ORIGINAL.replace('"-"', '"_"'))
    assert code_key("def f(:\n") == "def f(:"  # does not parse: its text
    assert value_key("literal", 1) != value_key("literal", 1.0) and value_key("literal", 2) == value_key("literal", 2)


def test_a_model_alternating_between_two_answers_is_not_run_again(tmp_path: Path, llm_server: ScriptedLLMServer):
    (tmp_path / "pyproject.toml").write_text("[tool.autotrace]\n")
    (tmp_path / "app.py").write_text(f"{ORIGINAL}\n\ndef main():\n    return [slugify(t) for t in ('A B', 'C D')]\n")
    (tmp_path / "judge.py").write_text("def feedback(output):\n"
                                       "    return (1.0, 'ok') if output == ['a_b', 'c_d'] else (0.5, 'use _')\n")
    broken = f"It must strip the title.\n```python\n{BROKEN}```\n"
    back = "The original was better.\n```python\ndef slugify(title):\n    return title.lower().replace(' ', '-')\n```\n"
    llm_server.script(broken, back, broken, back, broken)
    ran = run(tmp_path, llm_server, "app.py", steps=5, resample=0)
    assert "the values of step 0 again: not run again" in ran.steps[2].note
    assert "the values of step 1 again: not run again" in ran.steps[3].note
    assert ran.result.stopped_by == "unchanged" and ran.note(4).startswith("stopped before step 4: the last 2 answers")
    assert len(ran.pool) == 2 and [s.evaluated for s in ran.steps[2:]] == [(), ()]  # nothing run again
    prompts = [r.json["messages"][-1]["content"] for r in llm_server.chat_requests]
    assert len(prompts) == 3
    assert "- this is the initial values again; it scored 0.5, so it was not run again." in prompts[2]
    assert "UnboundLocalError" in prompts[1]  # the broken candidate was run once, at step 1
