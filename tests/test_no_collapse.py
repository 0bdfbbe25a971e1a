"""The asks of a step against the scripted model, in-process: the one-parameter questions go down the
graph's credit, move on after an answer that repeated values run before or changed nothing, say which
values were tried and how they scored, and put the question another way (one failing example; a small
edit of a long function, applied exactly or rejected with the reason); each step stores how many of
its answers were new.

The program is recorded for real (the import hook and the recorder, :mod:`instrumented`); the evaluator
scores a candidate in Python by which bugs its sources fix, with the recorded graphs as its feedback."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import networkx as nx
from inprocess import run_engine, steps_of
from instrumented import program
from llmserver import ScriptedLLMServer

from autotrace import graph as g
from autotrace.engine import Engine, Options, Run
from autotrace.evaluation import Evaluation, ExampleResult
from autotrace.llm.client import LLMConfig
from autotrace.merge import plan_merge
from autotrace.optimizers.edits import apply_edits, parse_edits
from autotrace.optimizers.focus import Focus, Way, way_for
from autotrace.params import ParamKind, ParamSpec
from autotrace.pool import Candidate, Pool
from autotrace.project import Project

SHOP = """\
class Cart:
    def __init__(self):
        self.items = []

    def add(self, price, qty):  # autotrace: param
        self.items.append(price)

    def total(self):  # autotrace: param
        return sum(self.items)


def scenario(ops):
    cart = Cart()
    for price, qty in ops:
        cart.add(price, qty)
    return cart.total()
"""
ORDERS = ([(2, 3), (5, 1)], [(4, 2)])
EXPECTED = (11, 8)
TOTAL = "def total(self):\n    return sum(self.items)\n"
TOTAL_NEW = "def total(self):\n    return sum(x for x in self.items)\n"
ADD_FIXED = "def add(self, price, qty):\n    self.items.append(price * qty)\n"
UNCHANGED = "The program looks right."


class Recorded:
    """Scores a candidate by the fixes its sources hold (``fixes``: parameter -> a text only a fixed
    source contains; each fixed one adds an equal share), its feedback the graphs recorded of the
    program as written, one per example."""

    jobs = 1

    def __init__(self, graphs: Sequence[nx.DiGraph], outputs: Sequence[str], fixes: dict[str, str],
                 inputs: Sequence[str]) -> None:
        self.graphs, self.outputs, self.fixes, self.inputs = graphs, outputs, fixes, inputs
        self.runs: list[dict[str, Any]] = []

    def run(self, runs: Sequence[Run], record: bool = True) -> list[Evaluation]:
        results = []
        for values, _draw in runs:
            self.runs.append(dict(values))
            share = sum(mark in str(values[name]) for name, mark in self.fixes.items()) / len(self.fixes)
            results.append(Evaluation(tuple(
                ExampleResult(score=share, message=f"returned {out}, expected {want}", example=given, output=out,
                              graph=g.to_json(graph))
                for graph, out, want, given in zip(self.graphs, self.outputs, EXPECTED, self.inputs, strict=False))))
        return results


def cart_run(tmp_path: Path) -> tuple[Project, Recorded]:
    """The shop recorded on both orders: ``total`` returned the wrong totals, ``add`` only filled the cart."""
    with program(tmp_path, {"shop.py": SHOP}) as p:
        shop = p.module("shop")
        graphs = [p.record(shop.scenario, order) for order in ORDERS]
        outputs = [str(shop.scenario(order)) for order in ORDERS]
        project = p.project
    fixes = {"shop.Cart.add": "price * qty", "shop.Cart.total": "for x in"}
    return project, Recorded(graphs, outputs, fixes, [repr(order) for order in ORDERS])


def run(project: Project, evaluator: Recorded, server: ScriptedLLMServer, **given: Any) -> Engine:
    llm = LLMConfig(model="scripted", base_url=server.base_url, api_key="test")
    options = Options(**{"llm": llm, "probe": False, "merge": False, "repeats": 1, "steps": 1, "cache": False,
                         "target_score": 1.0, **given})
    return run_engine(project, options, evaluator)


def asks(server: ScriptedLLMServer) -> list[tuple[str, str]]:
    """Each question asked, in order: ("whole", its user message) or (the variable asked about alone, its
    user message)."""
    out = []
    for request in server.chat_requests:
        system, user = request.json["messages"][0]["content"], request.json["messages"][-1]["content"]
        found = re.search(r"#Variable\n(\S+) \((?:code|str)\)", user)
        out.append((found[1] if found and system.startswith("You fix one function") else "whole", user))
    return out


def fenced(reason: str, source: str) -> str:
    return f"{reason}\n```python\n{source}```\n"


def test_the_asks_follow_the_credit_and_move_on_after_an_answer_that_changed_nothing(tmp_path, llm_server) -> None:
    """``add`` comes first in the file, ``total`` first in the credit (its results are the wrong totals):
    the first question about one function is about ``total``; its answer gives ``total`` back as it was
    (values run before), so the next is about ``add``, and says what the answers since gave."""
    project, evaluator = cart_run(tmp_path)
    llm_server.script(UNCHANGED, fenced("Sum them.", TOTAL), UNCHANGED, fenced("Multiply.", ADD_FIXED))
    engine = run(project, evaluator, llm_server, resample=3)
    assert [who for who, _ in asks(llm_server)] == ["whole", "shop.Cart.total", "whole", "shop.Cart.add"]
    about_add = asks(llm_server)[3][1]
    assert ("#Answers that gave nothing new (since the last question about one variable)\n"
            "- an answer about shop.Cart.total: it gave values run before again (the initial values, which scored 0)\n"
            "- an answer: it changed nothing") in about_add
    assert engine.state.best.values["shop.Cart.add"].endswith("self.items.append(price * qty)\n")
    record = steps_of(project, engine.result.run_id)[1]
    assert (record.answers, record.new_answers) == (4, 1)
    assert record.to_record()["new_answers"] == 1  # what `autotrace show --json` prints


def test_a_whole_answer_copying_a_function_back_does_not_spend_it(tmp_path, llm_server) -> None:
    """The whole question's answer gives ``total`` back as it was: the question about one function still
    goes to ``total``, the most implicated (copying one function among several says nothing about the
    question about it alone), and the next prompt says what that answer gave."""
    project, evaluator = cart_run(tmp_path)
    llm_server.script(fenced("It looks right.", TOTAL), fenced("Count.", TOTAL_NEW))
    run(project, evaluator, llm_server, resample=1)
    questions = asks(llm_server)
    assert [who for who, _ in questions] == ["whole", "shop.Cart.total"]
    assert "- an answer: it gave values run before again (the initial values, which scored 0)" in questions[1][1]


def test_after_a_repeated_value_the_next_ask_moves_on_and_states_the_values_tried_and_their_scores(
        tmp_path, llm_server) -> None:
    """Step 1 changes ``total`` (no gain); step 2's answer gives the original ``total`` again, which was
    run: it is not run again, and the question asked next is about ``add``, naming ``total``'s values
    tried with their scores, as the whole question asked after it does."""
    project, evaluator = cart_run(tmp_path)
    llm_server.script(fenced("Count each item.", TOTAL_NEW.replace("for x in", "for y in")),
                      fenced("Back to the sum.", TOTAL), UNCHANGED, fenced("Multiply.", ADD_FIXED))
    engine = run(project, evaluator, llm_server, steps=2, resample=3)
    questions = asks(llm_server)
    assert [who for who, _ in questions] == ["whole", "whole", "shop.Cart.add", "whole"]
    assert ("- an answer about shop.Cart.total: it gave values run before again (the initial values, which "
            "scored 0)\n- shop.Cart.total: 1 other value tried, scoring 0") in questions[2][1]
    assert ("- this is the initial values again; it scored 0, so it was not run again. Values tried before: "
            "shop.Cart.total: 1 other value tried, scoring 0. Propose a change") in questions[3][1]
    records = steps_of(project, engine.result.run_id)
    assert [(r.answers, r.new_answers) for r in records[1:]] == [(1, 1), (3, 1)]
    assert len(evaluator.runs) == 3  # the initial values, step 1's total, step 2's add: the repeat was not run


def test_answers_rewriting_the_same_function_without_gain_send_the_next_ask_to_the_next_parameter(
        tmp_path, llm_server) -> None:
    """Each step's answer gives ``total`` new values that gain nothing: the second time, the step asks
    once more, about ``add``, the next implicated parameter; its answer gains, which makes ``total``
    fresh again: step 3's answer rewriting it without gain is not asked about again."""
    project, evaluator = cart_run(tmp_path)
    llm_server.script(fenced("Count.", TOTAL_NEW.replace("for x in", "for y in")),
                      fenced("Count.", TOTAL_NEW.replace("for x in", "for z in")), fenced("Multiply.", ADD_FIXED),
                      fenced("Count.", TOTAL_NEW.replace("for x in", "for w in")))
    engine = run(project, evaluator, llm_server, steps=3, resample=2)
    assert [who for who, _ in asks(llm_server)] == ["whole", "whole", "shop.Cart.add", "whole"]
    records = steps_of(project, engine.result.run_id)
    assert [(r.answers, r.new_answers) for r in records[1:]] == [(1, 1), (2, 2), (1, 1)]
    assert records[2].values["shop.Cart.add"].endswith("append(price * qty)\n")  # the step's best answer
    assert engine.state.best.evaluation.score == 0.5 and llm_server.pending == 0


def test_a_parameter_whose_answers_collapsed_is_asked_about_one_failing_example_at_a_time(tmp_path, llm_server) -> None:
    project, evaluator = cart_run(tmp_path)
    llm_server.script(UNCHANGED, fenced("Sum.", TOTAL), UNCHANGED, fenced("Append.", ADD_FIXED.replace(" * qty", "")),
                      UNCHANGED, fenced("Sum.", TOTAL), UNCHANGED, fenced("Sum.", TOTAL))
    engine = run(project, evaluator, llm_server, resample=7)
    questions = asks(llm_server)
    assert [who for who, _ in questions] == ["whole", "shop.Cart.total", "whole", "shop.Cart.add"] * 2
    assert "One failing example" not in questions[1][1] + questions[3][1]
    first, second = questions[5][1], questions[7][1]  # both spent: total again, then add, each a failing example
    assert ("#Feedback\nOne failing example of 2, asked about alone:\n- input: [(2, 3), (5, 1)]\n- output: 7\n"
            "- the judge (score 0): returned 7, expected 11\n") in first
    assert "- input: [(2, 3), (5, 1)]" in second and "this example" in second
    record = steps_of(project, engine.result.run_id)[1]
    assert (record.answers, record.new_answers) == (8, 0)


def test_the_run_stops_as_unchanged_only_after_each_question_was_put_each_way(tmp_path, llm_server) -> None:
    """Every answer changes nothing. Two such steps in a row used to stop the run before any question was
    put another way; now each step that asks about a parameter, or puts its question a way, not tried
    before is no stall: total and add whole, then each one failing example at a time, and only the two
    steps after those (the same questions again) stop it."""
    project, evaluator = cart_run(tmp_path)
    llm_server.script(*[UNCHANGED] * 12)
    engine = run(project, evaluator, llm_server, steps=8, resample=1, max_unchanged=2)
    alone = [(who, "One failing example" in user) for who, user in asks(llm_server) if who != "whole"]
    assert alone == [("shop.Cart.total", False), ("shop.Cart.add", False)] + [
        ("shop.Cart.total", True), ("shop.Cart.add", True)] * 2  # (a whole question asked before is not sent again)
    assert engine.result.stopped_by == "unchanged" and len(steps_of(project, engine.result.run_id)) == 7


LONG = ("def grade(marks):  # autotrace: param\n    total = 0\n"
        + "".join(f"    total += marks[{i}] * 0\n" for i in range(26))
        + "    return total\n\n\ndef main(marks):\n    return grade(marks)\n")


def long_run(tmp_path: Path) -> tuple[Project, Recorded]:
    """A function of 28 lines whose every weight is wrong (``* 0``): fixed when one weight is ``* 1``."""
    with program(tmp_path, {"grades.py": LONG}) as p:
        grades = p.module("grades")
        graphs = [p.record(grades.main, list(range(26))), p.record(grades.main, [1] * 26)]
        outputs = ["0", "0"]
        project = p.project
    return project, Recorded(graphs, outputs, {"grades.grade": "marks[3] * 1"}, ["range(26)", "[1] * 26"])


def edit_asked(server: ScriptedLLMServer, project: Project, evaluator: Recorded, edit: str,
               more: Callable[[], list[str]] = list) -> Engine:
    """A step whose question about ``grade`` collapsed once, so that the next asks for a small edit,
    answered with ``edit``."""
    server.script(UNCHANGED, UNCHANGED, UNCHANGED, edit, *more())
    return run(project, evaluator, server, resample=3 + len(more()))


def test_a_long_function_is_asked_for_a_small_edit_which_is_applied_exactly(tmp_path, llm_server) -> None:
    project, evaluator = long_run(tmp_path)
    edit = ("Weight 3 must count.\n<<<<<<< SEARCH\n    total += marks[3] * 0\n=======\n"
            "    total += marks[3] * 1\n>>>>>>> REPLACE\n")
    engine = edit_asked(llm_server, project, evaluator, edit)
    questions = asks(llm_server)
    assert [who for who, _ in questions] == ["whole", "grades.grade", "whole", "grades.grade"]
    assert "<<<<<<< SEARCH" not in questions[1][1] and "<<<<<<< SEARCH\n<the lines to change" in questions[3][1]
    edited = evaluator.runs[-1]["grades.grade"]
    assert "    total += marks[3] * 1\n" in edited and edited.count("* 0") == 25
    assert engine.state.best.evaluation.score == 1.0


def test_an_edit_that_does_not_apply_is_rejected_with_the_reason(tmp_path, llm_server) -> None:
    project, evaluator = long_run(tmp_path)
    edit = "Fix it.\n<<<<<<< SEARCH\n    total += marks[3] * 2\n=======\n    total += marks[3] * 1\n>>>>>>> REPLACE\n"
    engine = edit_asked(llm_server, project, evaluator, edit, more=lambda: [UNCHANGED])
    questions = asks(llm_server)
    assert len(evaluator.runs) == 1  # the initial values only: nothing the answers gave was run
    reason = ("the edit was not applied: its SEARCH lines do not occur exactly in the function (from "
              "'total += marks[3] * 2'); copy them with their indentation")
    assert f"- grades.grade: {reason}" in questions[4][1]  # said in the next prompt's #Problems
    record = steps_of(project, engine.result.run_id)[1]
    assert (record.answers, record.new_answers) == (5, 0)


def test_how_a_question_is_put_after_its_answers_collapsed() -> None:
    short = ParamSpec("m.py::f", Path("m.py"), "m", "f", ParamKind.CODE, "", "def f():\n    return 1\n", 1)
    long = "def f():\n" + "    x = 1\n" * 30
    assert [way_for(short, short.initial, n) for n in range(4)] == [
        (Way.WHOLE, 0), (Way.EXAMPLE, 0), (Way.EXAMPLE, 1), (Way.EXAMPLE, 2)]
    assert [way_for(short, long, n) for n in range(5)] == [
        (Way.WHOLE, 0), (Way.EDIT, 0), (Way.EXAMPLE, 0), (Way.EDIT, 0), (Way.EXAMPLE, 1)]
    focus = Focus()
    focus.collapsed(["m.f"])
    assert "m.f" in focus.spent and focus.collapses == {"m.f": 1}


def test_edits_apply_exactly_or_say_why_not() -> None:
    source = "def f(x):\n    y = x\n    return y\n"
    edits = parse_edits("Fix.\n<<<<<<< SEARCH\n    y = x\n=======\n    y = x + 1\n>>>>>>> REPLACE\n")
    assert apply_edits(source, edits) == ("def f(x):\n    y = x + 1\n    return y\n", None)
    assert apply_edits(source, []) == (None, "the answer held no SEARCH/REPLACE block")
    two = parse_edits("<<<<<<< SEARCH\n    return y\n=======\n    return y * 2\n>>>>>>> REPLACE\n"
                      "<<<<<<< SEARCH\n    y = x\n=======\n    y = -x\n>>>>>>> REPLACE\n")
    assert apply_edits(source, two) == ("def f(x):\n    y = -x\n    return y * 2\n", None)
    assert apply_edits(source.replace("    y = x\n", "    y = x\n" * 2), two) == (
        None, "edit 2 was not applied: its SEARCH lines occur 2 times; give more lines so they occur once")


def test_a_merge_prefers_the_pair_that_differs_in_the_most_implicated_parameter() -> None:
    pool = Pool()
    start = {"f": "0", "g": "0", "h": "0"}
    pool.add((("start",),), Candidate(0, start, (), 0, {"a": 0.0, "b": 0.0, "c": 0.0}, "initial"))
    for cid, name, label in ((1, "f", "a"), (2, "g", "b"), (3, "h", "c")):
        scores = {x: 1.0 if x == label else 0.0 for x in "abc"}
        pool.add(((name,),), Candidate(cid, {**start, name: "1"}, (0,), cid, scores, "proposal"))
    assert plan_merge(pool, set()).parents == (1, 2)  # oldest first
    assert plan_merge(pool, set(), prefer=["h"]).parents == (1, 3)
    assert plan_merge(pool, set(), prefer=["g", "h"]).parents == (1, 2)
    assert plan_merge(pool, set(), {(1, 2)}, prefer=["g", "h"]).parents == (2, 3)
