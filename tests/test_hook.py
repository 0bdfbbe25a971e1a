"""The import hook: behaviour of the program is unchanged apart from the recording."""

from __future__ import annotations

import inspect
import os
import pickle
import subprocess
import sys
import textwrap
import traceback

import pytest
from instrumented import program

from autotrace.runtime import is_recorded
from autotrace.transforms import hook

PROGRAM = {
    "rates.py": '''
        """Rates."""
        BASE_FEE = 2.5  # autotrace: param
    ''',
    "shop.py": '''
        """A shop."""
        from rates import BASE_FEE

        def price(qty: int, fee: float = BASE_FEE) -> float:
            """Price of qty items."""
            return qty * fee

        class Cart:
            def __init__(self, items):
                self.items = items

            def total(self) -> float:
                return sum(price(q) for q in self.items)

        def broken():
            x = 1
            return x / 0
    ''',
}


def test_program_behaves_as_before(tmp_path):
    with program(tmp_path, PROGRAM) as p:
        shop = p.module("shop")
        assert shop.price(2) == 5.0
        assert shop.price.__name__ == "price" and shop.price.__qualname__ == "price"
        assert shop.price.__doc__ == "Price of qty items." and shop.price.__module__ == "shop"
        assert str(inspect.signature(shop.price)) == "(qty: int, fee: float = 2.5) -> float"
        assert inspect.getsource(shop.price).startswith("def price(qty: int, fee: float = BASE_FEE) -> float:")
        assert shop.Cart.total.__qualname__ == "Cart.total"
        assert isinstance(shop.Cart([1]), shop.Cart) and shop.Cart([1, 2]).total() == 7.5
        assert pickle.loads(pickle.dumps(shop.price)) is shop.price
        assert is_recorded(shop.price) and not hasattr(shop.price, "__wrapped__")


def test_traceback_points_at_the_users_lines(tmp_path):
    with program(tmp_path, PROGRAM) as p:
        shop = p.module("shop")
        with pytest.raises(ZeroDivisionError) as info:
            shop.broken()
        frames = [f for f in traceback.extract_tb(info.value.__traceback__) if f.filename.endswith("shop.py")]
        assert [(f.lineno, f.line) for f in frames] == [(18, "return x / 0")]


def test_candidate_value_is_seen_through_from_import(tmp_path):
    with program(tmp_path, PROGRAM, values={"rates.BASE_FEE": 4.0}) as p:
        shop = p.module("shop")
        assert p.module("rates").BASE_FEE == 4.0
        assert shop.BASE_FEE == 4.0 and shop.price(2) == 8.0  # the default argument too


def test_unrelated_modules_are_not_touched(tmp_path):
    files = dict(PROGRAM, **{"other.py": "def f():\n    return 1\n"})
    with program(tmp_path, files) as p:
        # `program` instruments every file it is given; a module outside the hook's set stays plain
        import importlib.util

        spec = importlib.util.find_spec("json")
        assert type(spec.loader).__name__ != "AutotraceLoader"
        assert is_recorded(p.module("other").f)


def test_bytecode_cache_is_written_and_reused(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    with program(tmp_path, PROGRAM, cache=True) as p:
        p.module("shop")
    cached = list((tmp_path / "__pycache__").glob("shop.*.autotrace-*.pyc"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    with program(tmp_path, PROGRAM, cache=True) as p:
        assert p.module("shop").price(1) == 2.5
    assert cached[0].stat().st_mtime_ns == stamp  # hit: not rewritten
    changed = dict(PROGRAM, **{"shop.py": PROGRAM["shop.py"].replace("qty * fee", "qty * fee * 2")})
    with program(tmp_path, changed, cache=True) as p:
        assert p.module("shop").price(1) == 5.0  # the source changed: the stale entry is not used
    assert cached[0].stat().st_mtime_ns != stamp


def test_a_cache_of_another_code_format_is_not_reused(tmp_path, monkeypatch):
    """A cache written by a version whose rewritten code had another shape is made again, not run."""

    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    with program(tmp_path, PROGRAM, cache=True) as p:
        p.module("shop")
    (cached,) = (tmp_path / "__pycache__").glob("shop.*.autotrace-*.pyc")
    stamp = cached.stat().st_mtime_ns
    monkeypatch.setattr(hook, "CODE_FORMAT", hook.CODE_FORMAT + 1)
    with program(tmp_path, PROGRAM, cache=True) as p:
        assert p.module("shop").price(1) == 2.5
    assert cached.stat().st_mtime_ns != stamp  # missed and written again under the new key


def test_without_bytecode_writing_the_cache_is_kept_in_autotraces_own_folder(tmp_path, monkeypatch):
    """``PYTHONDONTWRITEBYTECODE`` (many CI images): nothing is written beside the sources, and the
    rewritten modules are cached in autotrace's cache folder instead, keyed as in ``__pycache__``."""
    project, mine = tmp_path / "project", tmp_path / "cache"
    project.mkdir()
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setenv("AUTOTRACE_CACHE_DIR", str(mine))
    monkeypatch.delenv(hook.CACHE_DIR_ENV, raising=False)
    with program(project, PROGRAM, cache=True) as p:
        p.module("shop")
    assert not list(project.rglob("*.pyc"))
    (cached,) = (mine / "instrumented").glob("shop.*.autotrace-*.pyc")
    stamp = cached.stat().st_mtime_ns
    with program(project, PROGRAM, cache=True) as p:
        assert p.module("shop").price(1) == 2.5
    assert cached.stat().st_mtime_ns == stamp  # hit: not rewritten
    changed = dict(PROGRAM, **{"shop.py": PROGRAM["shop.py"].replace("qty * fee", "qty * fee * 2")})
    with program(project, changed, cache=True) as p:
        assert p.module("shop").price(1) == 5.0  # the source changed: its own entry
    assert len(list((mine / "instrumented").glob("shop.*.autotrace-*.pyc"))) == 2


def test_cached_import_does_not_load_libcst(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    with program(tmp_path, PROGRAM, cache=True) as p:
        plan = p.project.plans()[tmp_path / "shop.py"]
        p.module("shop")
    script = textwrap.dedent(f'''
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        from pathlib import Path
        from autotrace.runtime import Runtime, is_recorded
        from autotrace.transforms.hook import Target, install
        from autotrace.transforms.plan import ModulePlan
        install({{Path({str(tmp_path / "shop.py")!r}): Target({plan!r})}}, Runtime())
        import shop
        print(is_recorded(shop.price), "libcst" in sys.modules)
    ''')
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env).stdout
    assert out.split() == ["True", "False"]
