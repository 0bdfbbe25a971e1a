"""benchmarks.answer_parts: an answer's characters by part (the prompt written out again, reasoning, the
function's changed and unchanged lines, other code, prose after the code)."""

from __future__ import annotations

from benchmarks.answer_parts import split_answer

CURRENT = 'def half(x):\n    """Half of x."""\n    return x // 2\n'


def test_an_answer_is_split_into_its_parts() -> None:
    echo = "#Feedback\nscore 0: returned 1\n\n#Variables\n(code) calc.half =\n" + CURRENT + "\n#Answer\n"
    reasoning = "half floors x."
    block = 'N = 2\n\ndef half(x):\n    """Half of x."""\n    return x / N\n'
    after = "This divides exactly."
    parts = split_answer(f"{echo}{reasoning}\n```python\n{block}```\n\n{after}\n", [CURRENT])
    assert parts["echo"] == len(echo.rstrip("\n"))
    assert parts["reasoning"] == len(reasoning)
    assert parts["unchanged"] == len('def half(x):\n    """Half of x."""\n')
    assert parts["function"] == len("    return x / N\n")
    assert parts["other_code"] == len("N = 2\n\n") + len("```python\n```")
    assert parts["after"] == len(after)


def test_an_answer_without_code_is_all_reasoning() -> None:
    assert split_answer("Keep it.", [CURRENT]) == {"echo": 0, "reasoning": 8, "function": 0, "unchanged": 0,
                                                   "other_code": 0, "after": 0}
