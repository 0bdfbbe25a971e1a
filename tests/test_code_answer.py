"""Reading answers that hold code as code (autotrace/optimizers/code_answer.py): fenced functions,
SEARCH/REPLACE edits of the current source, a JSON object for the other variables, and malformed ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from autotrace.optimizers.code_answer import parse_code_answer
from autotrace.params import ParamSpec

CURRENT = "def slugify(title):\n    \"\"\"The slug.\"\"\"\n    return title.lower().replace(' ', '-')\n"
OTHER = "def clean(text):\n    return text\n"


def spec(name: str, kind: str, initial: object) -> ParamSpec:
    module, _, qualname = name.rpartition(".")
    return ParamSpec(key=name, path=Path(f"{module}.py"), module=module, qualname=qualname, kind=kind,
                     description="", initial=initial, line=1)


PARAMS = [spec("app.slugify", "code", CURRENT), spec("app.clean", "code", OTHER), spec("app.LIMIT", "literal", 3)]
VALUES = {"app.slugify": CURRENT, "app.clean": OTHER, "app.LIMIT": 3}


def read(text: str):
    answer = parse_code_answer(text, PARAMS, VALUES)
    return answer.data["suggestion"], answer.problems, answer.data["reasoning"]


def test_a_fenced_function_goes_to_the_variable_it_defines_and_json_holds_the_rest():
    new = 'def slugify(title):\n    """Say "hi" without escaping."""\n    return "-".join(title.split())\n'
    suggestion, problems, reasoning = read(f"Spaces stay.\n\n```python\n{new}```\n\n```json\n{{\"app.LIMIT\": 4}}\n```\n")
    assert suggestion == {"app.slugify": new, "app.clean": None, "app.LIMIT": 4}
    assert problems == {} and reasoning == "Spaces stay."


def test_a_search_replace_edit_changes_the_current_source():
    text = ("Join words.\n<<<<<<< SEARCH\n    return title.lower().replace(' ', '-')\n=======\n"
            "    return '-'.join(title.lower().split())\n>>>>>>> REPLACE\n")
    suggestion, problems, _ = read(text)
    assert suggestion["app.slugify"] == CURRENT.replace("title.lower().replace(' ', '-')",
                                                        "'-'.join(title.lower().split())")
    assert problems == {} and suggestion["app.clean"] is None


def test_a_search_text_found_nowhere_is_a_problem_quoting_it():
    _, problems, _ = read("<<<<<<< SEARCH\n    return nothing\n=======\n    return 1\n>>>>>>> REPLACE\n")
    assert problems == {"": "the SEARCH text is not in the current source of any (code) variable: 'return nothing'"}


@pytest.mark.parametrize("text", [
    "<<<<<<< SEARCH\n    return title\n=======\n    return 1\n",  # no REPLACE line
    "<<<<<<< SEARCH\n    return title\n>>>>>>> REPLACE\n",  # no ======= line
])
def test_a_malformed_search_replace_edit_is_a_problem(text):
    suggestion, problems, _ = read(text)
    assert problems[""].startswith("a SEARCH/REPLACE edit must be: a line <<<<<<< SEARCH")
    assert suggestion["app.slugify"] is None


def test_a_block_names_its_variable_when_the_function_name_is_not_enough():
    params = [spec("a.f", "code", "def f():\n    return 1\n"), spec("b.f", "code", "def f():\n    return 2\n")]
    values = {p.name: p.initial for p in params}
    answer = parse_code_answer("```python\n# b.f\ndef f():\n    return 3\n```\n```python\ndef f():\n    return 4\n```",
                               params, values)
    assert answer.data["suggestion"] == {"a.f": None, "b.f": "def f():\n    return 3\n"}
    assert answer.problems[""].startswith("a code block must hold one whole function of a (code) variable")


def test_an_unclosed_fence_and_an_unfenced_function_are_still_read():
    suggestion, _, _ = read("```python\ndef slugify(title):\n    return title")  # cut off at max_tokens
    assert suggestion["app.slugify"] == "def slugify(title):\n    return title\n"
    suggestion, _, _ = read("Here:\ndef clean(text):\n    return text.strip()\n\nDone.")
    assert suggestion["app.clean"] == "def clean(text):\n    return text.strip()\n"


def test_code_inside_a_json_answer_is_accepted_and_marked_as_such():
    answer = parse_code_answer('{"reasoning": "r", "suggestion": {"app.clean": "def clean(text):\\n    return 1\\n",'
                               ' "app.slugify": null, "app.LIMIT": null}}', PARAMS, VALUES)
    assert answer.data == {"reasoning": "r", "suggestion": {"app.slugify": None, "app.LIMIT": None,
                                                            "app.clean": "def clean(text):\n    return 1\n"}}
    assert answer.from_json == {"app.clean"}


def test_prose_alone_changes_nothing():
    suggestion, problems, reasoning = read("Everything is already correct.")
    assert set(suggestion.values()) == {None} and problems == {} and reasoning == "Everything is already correct."


def test_a_code_block_without_a_function_is_an_illustration_unless_it_is_all_there_is():
    fixed = "def slugify(title):\n    return title\n"
    suggestion, problems, _ = read(f"```python\n{fixed}```\nThe output is then:\n```python\noutput = ['a-b']\n```\n")
    assert suggestion["app.slugify"] == fixed and problems == {}
    suggestion, problems, _ = read("```python\noutput = ['a-b']\n```\n")
    assert problems[""].startswith("a code block must hold one whole function") and suggestion["app.slugify"] is None


def test_the_variables_function_is_taken_out_of_a_block_that_holds_more():
    # as the 1.5B model answered in the benchmark: an import, another function and a stray line around it
    block = ("import numpy as np\n\n# (code) program.main =\ndef main():\n    return 1\napp.results =\n"
             "def slugify(title):  # autotrace: param\n    return np.median(title)\n")
    suggestion, problems, _ = read(f"```python\n{block}```\n")
    assert suggestion["app.slugify"] == "def slugify(title):  # autotrace: param\n    return np.median(title)\n"
    assert problems == {}


def test_one_block_holding_the_functions_of_several_variables_gives_each_its_own():
    # as the 1.5B model answered a two-function agent: both functions in one block, each headed as in #Variables
    new_clean = "def clean(text):\n    return text.strip()\n"
    new_slug = "def slugify(title):\n    return title.lower()\n"
    block = f"# (code) app.clean =\n{new_clean}\n# (code) app.slugify =\n{new_slug}"
    suggestion, problems, _ = read(f"Both were wrong.\n```python\n{block}```\n")
    assert suggestion == {"app.slugify": new_slug, "app.clean": new_clean, "app.LIMIT": None}
    assert problems == {}


def test_a_block_headed_as_in_the_variables_section_goes_to_that_variable():
    params = [spec("a.f", "code", "def f():\n    return 1\n"), spec("b.f", "code", "def f():\n    return 2\n")]
    answer = parse_code_answer("```python\n# (code) b.f =\ndef f():\n    return 3\n```", params,
                               {p.name: p.initial for p in params})
    assert answer.data["suggestion"] == {"a.f": None, "b.f": "def f():\n    return 3\n"} and answer.problems == {}
