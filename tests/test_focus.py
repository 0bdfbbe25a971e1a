"""The order of the reflective questions (:mod:`autotrace.optimizers.focus`): down the graph's credit,
moving on after an answer without gain; alone and in a run against the scripted model."""

from __future__ import annotations

import re
from pathlib import Path

from autotrace.optimizers.credit import Implicated
from autotrace.optimizers.focus import Focus
from autotrace.params import ParamKind, ParamSpec
from test_reflect import optimize


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
    the first reflective question is about ``total``; its answer repeats values already run, so the
    next one is about ``add``, whose answer solves it."""
    (tmp_path / "pyproject.toml").write_text("[tool.autotrace]\n")
    (tmp_path / "shop.py").write_text(SHOP)
    (tmp_path / "judge.py").write_text(JUDGE)
    llm_server.script(
        f"total may miss items.\n```python\n{TOTAL_AGAIN}```\n",  # step 1: a new total, no better
        "Nothing to change.",  # step 2: the whole problem, no change
        f"Sum them.\n```python\n{TOTAL}```\n",  # reflective, about total: the initial values again
        "Nothing to change.",  # the whole problem again, sampled
        f"Multiply by the quantity.\n```python\n{ADD_FIXED}```\n",  # reflective, about add: solved
    )
    result = optimize(tmp_path, "shop.py", llm_server, "--steps", "2", "--resample", "3", "--no-probe",
                      "--no-merge")
    assert result.returncode == 0, result.stderr
    requests = [r.json["messages"] for r in llm_server.chat_requests]
    assert len(requests) == 5
    reflective = [m[1]["content"] for m in requests if m[0]["content"].startswith("You fix one function")]
    assert [re.search(r"#Variable\n(\S+) \(code\)", user)[1] for user in reflective] == [
        "shop.Cart.total", "shop.Cart.add"]
    assert re.search(r"^step +2/2 .* 4 proposed \(3 sampled again\), 1 new, best 1;", result.stderr, re.MULTILINE)
    assert "+        self.items.append(price * qty)" in result.stdout
