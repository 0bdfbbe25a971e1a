"""The transform path: LibCST's analysis facts, the one ``ast`` pass, candidates placed on the tree,
and the line numbers that keep tracebacks honest."""

from __future__ import annotations

import ast
import textwrap

from autotrace.runtime import Runtime
from autotrace.transforms.analysis import analyze
from autotrace.transforms.compile import compile_instrumented, place_candidates, rewrite_tree
from autotrace.transforms.facts import FunctionFacts
from autotrace.transforms.frames import CALL_NAME
from autotrace.transforms.plan import RUNTIME_NAME, ModulePlan


def test_marked_literal_reads_the_runtime_on_its_own_line():
    source = textwrap.dedent('''
        RATE = 0.2  # autotrace: param keep small
        OTHER = 1
    ''')
    tree = rewrite_tree(source, "m.py", ModulePlan("m", literals={"RATE": "m.RATE"}, param_names=frozenset({"m.RATE"})))
    assert ast.unparse(tree) == "RATE = @autotrace.param('m.RATE', 0.2)\nOTHER = 1"
    call = tree.body[0].value
    assert (call.lineno, call.col_offset, call.end_col_offset) == (2, 7, 10)  # where the literal is


def test_multiline_prompt_keeps_its_lines():
    source = textwrap.dedent('''
        PROMPT = """Classify:
        {text}
        """  # autotrace: param
        X = 1
    ''')
    tree = rewrite_tree(source, "m.py", ModulePlan("m", literals={"PROMPT": "m.PROMPT"}))
    prompt, x = tree.body
    assert (prompt.value.lineno, prompt.value.end_lineno, x.lineno) == (2, 4, 5)
    assert ast.unparse(prompt) == "PROMPT = @autotrace.param('m.PROMPT', 'Classify:\\n{text}\\n')"


def test_every_function_gets_an_innermost_decorator_with_its_static_facts():
    source = textwrap.dedent('''
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
            async def a(self, n=K):
                return n
    ''')
    plan = ModulePlan("m", literals={"K": "m.K"}, functions={"C.m": "m.C.m"}, param_names=frozenset({"m.K", "m.C.m"}))
    assert analyze(source, plan).functions == (
        FunctionFacts("f", "m.f", ("m.K",), (("k", ("m.K",)),), None),
        FunctionFacts("m", "m.C.m", (), (), "m.C.m"),
        FunctionFacts("inner", "m.C.m.<locals>.inner", (), (), None),
        FunctionFacts("a", "m.C.a", (), (("n", ("m.K",)),), None),
    )
    after = ast.unparse(rewrite_tree(source, "m.py", plan, recording=False))
    assert "@functools.cache\n@@autotrace.function\ndef f(x, k=K):" in after
    assert "@@autotrace.function\n    def m(self):\n\n        @@autotrace.function\n        def inner():" in after
    assert "@@autotrace.record('m.C.a', (), {'n': ('m.K',)}, None)\n    async def a(self, n=K):" in after


def test_relative_imports_resolve_to_the_parameter():
    facts = analyze("from .rates import FEE\ndef f():\n    return FEE\n",
                    ModulePlan(module="pkg.app", param_names=frozenset({"pkg.rates.FEE"})))
    assert facts.functions[0].reads == ("pkg.rates.FEE",)


def test_a_candidate_takes_its_lines_in_the_text_that_ran_and_the_rest_keeps_the_files():
    original = ("def f():\n    return 1\n\n\nclass C:\n    @staticmethod\n    def g():\n        return 2\n\n\n"
                "def h():\n    return 3\n")
    source = original.replace("        return 2\n", "        a = 2\n        b = a\n        return b\n")
    ran, tree = place_candidates(original, source, ["C.g"])
    lines = ran.splitlines()
    assert lines[: len(original.splitlines())] == original.splitlines()  # the file, line for line
    g = tree.body[1].body[0]
    assert lines[g.decorator_list[0].lineno - 1] == "    @staticmethod"
    assert [lines[n.lineno - 1].strip() for n in g.body] == ["a = 2", "b = a", "return b"]
    assert (tree.body[0].lineno, tree.body[2].lineno) == (1, 11)  # f and h where they are in the file
    assert ast.dump(tree) == ast.dump(ast.parse(source))  # the same program as the source


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
    # no placeholder in the user's namespace: any name the user can spell is the user's
    _, quiet = compile_instrumented("__autotrace_rt__ = 1\ndef f():\n    return __autotrace_rt__\n", "m.py",
                                    ModulePlan("m"))
    namespace = {RUNTIME_NAME: Runtime()}
    exec(quiet, namespace)
    assert namespace["f"]() == 1


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
