"""What recording learns about a program's code lives in its Runtime's CodeFacts, not in module state:
each runtime has its own, a recorder records with the runtime's, and it holds no function alive."""

from __future__ import annotations

import gc
import weakref

from instrumented import program

from autotrace import recorder as recorder_module
from autotrace.recorder import CodeFacts, Recorder

SHOP = {"shop.py": """
    RATE = 0.2  # autotrace: param

    def total(price, qty=2):
        return price * qty * (1 + RATE)

    def main():
        return total(10.0)
"""}


def test_a_recorder_records_with_its_runtimes_facts_and_runtimes_share_nothing(tmp_path) -> None:
    with program(tmp_path / "a", SHOP) as first:
        first.record(first.module("shop").main)
        facts = first.runtime.facts
        assert facts.functions and facts.definitions  # registered at import, learned at the first call
        recorder = Recorder()
        with first.runtime.recording(recorder):
            first.module("shop").main()
        assert recorder.facts is facts
    with program(tmp_path / "b", SHOP) as second:
        assert second.runtime.facts is not facts and not second.runtime.facts.definitions


def test_the_facts_hold_no_function_alive() -> None:
    facts = CodeFacts()

    def plain(a, b=2):
        return a

    facts.register(plain, plain.__code__)
    assert facts.bind_arguments(plain, (1,), {}) == ({"a": 1, "b": 2}, {"a"})
    assert facts.function_info(plain)["source"].startswith("    def plain")
    dead = weakref.ref(plain)
    del plain
    gc.collect()
    assert dead() is None


def test_the_recorder_module_keeps_no_cache() -> None:
    """Module-level dicts would outlive every runtime (and grow across in-process evaluations)."""
    mutable = {name for name, value in vars(recorder_module).items()
               if isinstance(value, (dict, set, weakref.WeakKeyDictionary)) and not name.isupper() and not name.startswith("__")}
    assert mutable == set()
