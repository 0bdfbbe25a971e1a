"""The LibCST transformer, before/after, and the line-number mapping that keeps tracebacks honest."""

from __future__ import annotations

import ast
import textwrap

from autotrace.transforms.compile import compile_instrumented, line_map, rewrite_tree
from autotrace.transforms.frames import CALL_NAME
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
    recording, quiet = compile_instrumented(source, "m.py", ModulePlan("m", literals={"X": "m.X"}))
    for code in (recording, quiet):
        lines = {c.co_name: c.co_firstlineno for c in _code_objects(code)}
        assert lines["f"] == 4 and lines["g"] == 8
        assert RUNTIME_NAME in code.co_names
        assert "__autotrace_rt__" not in repr(_all_names(code))
    functions = {c.co_name: c for c in _code_objects(recording)}
    twins = {c.co_name: c for c in _code_objects(quiet)}
    # the recording code keeps its call's record in a local; the quiet twin is the user's body
    assert CALL_NAME in functions["g"].co_varnames and CALL_NAME not in twins["g"].co_varnames
    assert twins["f"].co_names == ("X",)  # the module-level X reads the parameter's value


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


# -- plain functions record inside their own frame (transforms/frames.py) --------------------------
def final(source: str, **plan) -> str:
    return ast.unparse(rewrite_tree(textwrap.dedent(source), "m.py", ModulePlan(module="m", **plan)))


def test_plain_function_records_inside_its_own_frame():
    """Docstring first, one prologue, the body in try/except/finally, each return of *this* scope
    rewritten (the nested def's returns are its own, with its own @call), global/nonlocal untouched."""
    after = final('''
        COUNT = 0

        def f(a, b=1, /, *rest, c, **more):
            """Doc."""
            global COUNT
            COUNT += 1

            def inner():
                nonlocal a
                a += 1
                return a

            try:
                return inner()
            finally:
                COUNT -= 1
    ''')
    assert after == textwrap.dedent('''\
        COUNT = 0

        @@autotrace.function
        def f(a, b=1, /, *rest, c, **more):
            """Doc."""
            @call = @autotrace.recorder
            if @call is not None:
                @call = @call.enter(('m.f', (), (), None, (('a', 0), ('b', 0), ('rest', 1), ('c', 2), ('more', 3)), True, 2), (a, b, rest, c, more))
            try:
                global COUNT
                COUNT += 1

                @@autotrace.function
                def inner():
                    @call = @autotrace.recorder
                    if @call is not None:
                        @call = @call.enter(('m.f.<locals>.inner', (), (), None, (), False, 1), ())
                    try:
                        nonlocal a
                        a += 1
                        return a if @call is None else @autotrace.result(@call, a)
                    except:
                        if @call is not None:
                            @autotrace.error(@call)
                        raise
                    finally:
                        if @call is not None:
                            @autotrace.leave(@call)
                try:
                    return inner() if @call is None else @autotrace.result(@call, inner())
                finally:
                    COUNT -= 1
                return None if @call is None else @autotrace.result(@call, None)
            except:
                if @call is not None:
                    @autotrace.error(@call)
                raise
            finally:
                if @call is not None:
                    @autotrace.leave(@call)''')


def test_a_function_without_return_records_none_and_bare_returns_too():
    after = final('''
        def log(x):
            if x:
                return
            print(x)
    ''')
    assert "return None if @call is None else @autotrace.result(@call, None)\n        print(x)" in after
    assert after.count("@autotrace.result(@call, None)") == 2  # the bare return and the end of the body


def test_generators_coroutines_and_lambdas_are_left_to_the_wrappers():
    after = final('''
        def gen():
            yield 1

        async def coro():
            return 1

        def plain():
            def nested_gen():
                yield 2
            return lambda: (yield)
    ''')
    assert "@@autotrace.record('m.gen', (), {}, None)\ndef gen():\n    yield 1" in after
    assert "@@autotrace.record('m.coro', (), {}, None)\nasync def coro():\n    return 1" in after
    assert "@@autotrace.function\ndef plain():" in after  # a yield in a nested scope is not its own
    assert "def nested_gen():\n            yield 2" in after
    assert "return (lambda: (yield)) if @call is None else @autotrace.result(@call, lambda: (yield))" in after


def test_every_user_statement_keeps_its_line_and_generated_ones_take_the_def_line():
    source = textwrap.dedent('''
        import functools

        @functools.cache
        def f(x):
            """Doc
            on two lines."""
            if x:
                return (x +
                        1)
            y = x * 2
            return y
    ''')
    plain = {(type(n).__name__, n.lineno) for n in ast.walk(ast.parse(source)) if isinstance(n, ast.stmt)}
    tree = rewrite_tree(source, "m.py", ModulePlan("m"))
    after = {(type(n).__name__, n.lineno) for n in ast.walk(tree) if isinstance(n, ast.stmt)}
    assert plain <= after
    assert {line for _, line in after - plain} == {5}  # the def line
    returns = sorted((n.lineno, n.end_lineno) for n in ast.walk(tree) if isinstance(n, ast.Return) and n.lineno != 5)
    assert returns == [(9, 10), (12, 12)]
