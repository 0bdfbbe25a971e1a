"""The order of the reflective questions (:mod:`autotrace.optimizers.focus`): down the graph's credit,
moving on after an answer without gain; alone and in a run against the scripted model."""

from __future__ import annotations

import re
from pathlib import Path

from helpers import optimize

from autotrace.evaluation import Feedback
from autotrace.llm.client import LLM, LLMConfig
from autotrace.optimizers.base import Attempt, Tried
from autotrace.optimizers.credit import Implicated
from autotrace.optimizers.focus import Focus
from autotrace.optimizers.optoprime import OptoPrime
from autotrace.optimizers.reflect import reflect_messages
from autotrace.params import ParamKind, ParamSpec


def spec(name: str) -> ParamSpec:
    return ParamSpec(f"m.py::{name}", Path("m.py"), "m", name, ParamKind.CODE, "", f"def {name}(): pass\n", 1)


A, B, C = spec("a"), spec("b"), spec("c")
CREDIT = (Implicated("m.b", 2, 0, ()), Implicated("m.c", 1, 1, ()), Implicated("m.a", 0, 1, ()))


def test_the_asks_go_down_the_credit_while_nothing_gains_then_start_over() -> None:
    focus = Focus()
    asked = [focus.choose([A, B, C], CREDIT, 0.5).name for _ in range(4)]
    assert asked == ["m.b", "m.c", "m.a", "m.b"]


def test_a_gain_makes_the_most_implicated_first_again() -> None:
    focus = Focus()
    assert focus.choose([A, B, C], CREDIT, 0.5) is B
    assert focus.choose([A, B, C], CREDIT, 0.5) is C  # b gave nothing: the next one
    assert focus.choose([A, B, C], CREDIT, 0.75) is B  # c's answer beat the best: every one counts again
    assert focus.choose([A, B, C], CREDIT, 0.75) is C


def test_a_parameter_the_credit_does_not_name_comes_last_and_only_targets_are_asked_about() -> None:
    focus = Focus()
    assert focus.choose([A, C], (Implicated("m.c", 1, 0, ()),), None) is C
    assert focus.choose([A, C], (Implicated("m.c", 1, 0, ()),), None) is A  # no score yet: no gain either
    assert Focus().choose([A], CREDIT, 0.0) is A


def test_the_values_tried_before_are_each_shown_once_with_their_last_score() -> None:
    text = ParamSpec("m.py::N", Path("m.py"), "m", "N", ParamKind.LITERAL, "", "a", 1)
    opt = OptoPrime([A, text], LLM(LLMConfig(model="none", base_url="http://127.0.0.1:9", api_key=None)))
    for n, score in (("'a'", 0.1), ("'b'", 0.2), ("'c'", None), ("'b'", 0.4), ("'a'", 0.5)):
        opt.remember(Attempt({"m.a": A.initial, "m.N": n}, score, ""))
    assert opt.tried("m.N") == [Tried("'c'", None), Tried("'b'", 0.4)]  # 'a' is the current value
    assert opt.tried("m.a") == []
    messages = reflect_messages(text, "a", [Feedback(None, "wrong", 0.0)], 4000, opt.tried("m.N"))
    assert messages is not None
    assert messages[1]["content"].endswith(  # what changes between questions comes last (the server's cache)
        "\n#Tried before (each of these was run; an answer giving one of them again is not run)\n"
        "- no score: 'c'\n- score 0.4: 'b'")


SHOP = ("class Cart:\n"
        "    def __init__(self):\n"
        "        self.items = []\n\n"
        "    def add(self, price, qty):  # autotrace: param\n"
        "        self.items.append(price)\n\n"
        "    def total(self):  # autotrace: param\n"
        "        return sum(self.items)\n\n\n"
        "def scenario(ops):\n"
        "    cart = Cart()\n"
        "    for price, qty in ops:\n"
        "        cart.add(price, qty)\n"
        "    return cart.total()\n\n\n"
        "def main():\n"
        "    return [scenario([(2, 3), (5, 1)]), scenario([(4, 2)])]\n")
JUDGE = ("def feedback(output):\n"
         "    right = sum(a == b for a, b in zip(output, [11, 8]))\n"
         "    return right / 2, f'totals {output}, expected [11, 8] (price times quantity)'\n")
TOTAL = "def total(self):\n    return sum(self.items)\n"
TOTAL_AGAIN = "def total(self):\n    return sum(x for x in self.items)\n"
ADD_FIXED = "def add(self, price, qty):\n    self.items.append(price * qty)\n"


def test_the_reflective_questions_follow_the_credit_and_move_on_after_a_repeat(tmp_path, llm_server) -> None:
    """``total`` returned the wrong totals (its results are the output), ``add`` only filled the cart:
    the whole-problem prompt names ``total`` first, and so does the first reflective question, which
    follows an answer that changed nothing and shows the values of ``total`` tried before; its answer
    repeats one anyway, so the next one is about ``add``, and says so; its answer solves it."""
    (tmp_path / "pyproject.toml").write_text("[tool.autotrace]\n")
    (tmp_path / "shop.py").write_text(SHOP)
    (tmp_path / "judge.py").write_text(JUDGE)
    llm_server.script(
        f"total may miss items.\n```python\n{TOTAL_AGAIN}```\n",  # step 1: a new total, no better
        "The totals look right.",  # step 2: no change
        f"Sum them.\n```python\n{TOTAL}```\n",  # reflective, about total: the initial values again
        "Nothing to change.",  # the whole problem again, sampled
        f"Multiply by the quantity.\n```python\n{ADD_FIXED}```\n",  # reflective, about add: solved
    )
    result = optimize(tmp_path, llm_server, "--target", "1", "--steps", "2", "--resample", "3", "--no-probe",
                      "--no-merge")
    assert result.returncode == 0, result.stderr
    requests = [r.json["messages"] for r in llm_server.chat_requests]
    assert len(requests) == 5
    implicated = requests[0][-1]["content"].split("#Implicated\n", 1)[1]
    assert re.match(r"\(the variables the wrong outputs came from, most implicated first\)\n"
                    r"shop\.Cart\.total: its result reached the wrong output in 1 of 1 failing example\n"
                    r"  shop\.Cart\.total\(self=<shop\.Cart object at 0x\w+: items=\[2, 5\]>\) returned 7 -> output \[7, 4\]\n"
                    r"  shop\.Cart\.total\(self=<shop\.Cart object at 0x\w+: items=\[4\]>\) returned 4 -> output \[7, 4\]\n"
                    r"shop\.Cart\.add: only further up \(through state it changed, or a call the output depends on\), "
                    r"in 1 of 1 failing example\n\n", implicated)
    reflective = [m[1]["content"] for m in requests if m[0]["content"].startswith("You fix one function")]
    assert [re.search(r"#Variable\n(\S+) \(code\)", user)[1] for user in reflective] == [
        "shop.Cart.total", "shop.Cart.add"]
    assert ("#Tried before (each of these was run; an answer giving one of them again is not run)\n- score 0:\n"
            "    def total(self):  # autotrace: param\n        return sum(self.items)") in reflective[0]
    assert "#Tried before" not in reflective[1]  # add was never changed
    assert ("#Answers that gave nothing new (since the last question about one variable)\n"
            "- an answer about shop.Cart.total: it gave values run before again (the initial values, which scored 0)\n"
            "- an answer: it changed nothing\n- shop.Cart.total: 1 other value tried, scoring 0") in reflective[1]
    assert re.search(r"^step +2/2 .* 4 proposed \(3 sampled again\), 1 new, best 1;", result.stderr, re.MULTILINE)
    assert "+        self.items.append(price * qty)" in result.stdout
