"""The LibCST transformer, before/after, and the line-number mapping that keeps tracebacks honest."""

from __future__ import annotations

import ast
import textwrap

from autotrace.transforms.compile import compile_instrumented, line_map
from autotrace.transforms.instrument import instrument
from autotrace.transforms.plan import RUNTIME_NAME, ModulePlan


def rewrite(source: str, **plan) -> str:
    return instrument(textwrap.dedent(source), ModulePlan(module="m", **plan))


def test_marked_literal_reads_the_runtime_and_keeps_the_comment():
    after = rewrite('''
        RATE = 0.2  # autotrace: param keep small
        OTHER = 1
    ''', literals={"RATE": "m.RATE"}, param_names=frozenset({"m.RATE"}))
    assert after == textwrap.dedent('''
        RATE = __autotrace_rt__.param('m.RATE', 0.2)  # autotrace: param keep small
        OTHER = 1
    ''')


def test_multiline_prompt_keeps_its_lines():
    before = '''
        PROMPT = """Classify:
        {text}
        """  # autotrace: param
        X = 1
    '''
    after = rewrite(before, literals={"PROMPT": "m.PROMPT"})
    assert after.count("\n") == textwrap.dedent(before).count("\n")
    assert 'PROMPT = __autotrace_rt__.param(\'m.PROMPT\', """Classify:' in after


def test_every_function_gets_an_innermost_decorator_with_its_static_facts():
    after = rewrite('''
        import functools
        K = 2  # autotrace: param
        @functools.cache
        def f(x, k=K):
            return x * K
        class C:
            def m(self):
                def inner():
                    return 1
                return inner()
    ''', literals={"K": "m.K"}, functions={"C.m": "m.C.m"}, param_names=frozenset({"m.K", "m.C.m"}))
    assert textwrap.dedent('''
        @functools.cache
        @__autotrace_rt__.record('m.f', ('m.K',), {'k': ('m.K',)}, None)
        def f(x, k=K):
    ''') in after
    assert "@__autotrace_rt__.record('m.C.m', (), {}, 'm.C.m')\n    def m(self):" in after
    assert "@__autotrace_rt__.record('m.C.m.<locals>.inner', (), {}, None)\n        def inner():" in after


def test_relative_imports_resolve_to_the_parameter():
    after = instrument("from .rates import FEE\ndef f():\n    return FEE\n",
                       ModulePlan(module="pkg.app", param_names=frozenset({"pkg.rates.FEE"})))
    assert "record('pkg.app.f', ('pkg.rates.FEE',), {}, None)" in after


def test_line_map_sends_inserted_lines_to_the_def_they_decorate():
    original = "a = 1\ndef f():\n    return a\n"
    rewritten = "a = 1\n@dec\ndef f():\n    return a\n"
    mapping = line_map(original, rewritten)
    assert mapping[1:5] == [1, 2, 2, 3]


def test_compiled_code_keeps_user_line_numbers_and_hides_the_runtime_name():
    source = textwrap.dedent('''
        X = 1  # autotrace: param

        def f():
            return X

        class C:
            def g(self):
                raise ValueError("boom")
    ''')
    code = compile_instrumented(source, "m.py", ModulePlan("m", literals={"X": "m.X"}))
    lines = {c.co_name: c.co_firstlineno for c in _code_objects(code)}
    assert lines["f"] == 4 and lines["g"] == 8
    assert RUNTIME_NAME in code.co_names
    assert "__autotrace_rt__" not in repr(_all_names(code))


def test_user_cannot_collide_with_the_runtime_name():
    tree = ast.parse("x = 1")
    assert RUNTIME_NAME not in {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    try:
        compile_instrumented("__autotrace_rt__ = 1\n", "m.py", ModulePlan("m"))
    except SyntaxError as exc:
        assert "reserved name" in str(exc)
    else:
        raise AssertionError("the reserved placeholder must be refused")


def _code_objects(code):
    yield code
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            yield from _code_objects(const)


def _all_names(code):
    return {name for c in _code_objects(code) for name in c.co_names}
