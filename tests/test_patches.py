"""Write-back of optimized values: source rewriting, whole-file fidelity, diffs, saved patches."""

from __future__ import annotations

import ast
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from autotrace import atomic, patches
from autotrace.markers import find_params
from autotrace.params import ParamSpec
from autotrace.patches import PatchError, apply_saved, make_patch, revert_saved, save_patch
from autotrace.transforms.rewrite import (
    CodeValue,
    LiteralValue,
    Replacement,
    RewriteError,
    rewrite_file,
    rewrite_source,
)


def check(before: str, changes: dict[str, Any], after: str) -> None:
    """Codemod-style test: dedented ``before`` rewritten with ``changes`` must equal ``after`` exactly."""
    wrapped = {k: v if isinstance(v, (LiteralValue, CodeValue)) else LiteralValue(v) for k, v in changes.items()}
    result = rewrite_source(dedent(before), wrapped)
    assert result == dedent(after)
    ast.parse(result)


# --- literals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("1", 5, "5"),
        ("1", -5, "-5"),
        ("-1", 7, "7"),
        ("2.5", 3, "3.0"),  # a float parameter stays float-looking
        ("2", 3.0, "3"),  # an int parameter stays int-looking when the value allows
        ("2", 1e300, "1e+300"),  # too big to be an exact int: stays a float
        ("2", 3.5, "3.5"),
        ("1.0", -0.125, "-0.125"),
        ("1.0", 1e-07, "1e-07"),
        ("True", False, "False"),
        ("None", 3, "3"),
        ("0", None, "None"),
        ("'a'", "b", "'b'"),
        ('"a"', 'say "hi"', '"say \\"hi\\""'),
        ("'a'", "it's", "'it\\'s'"),
        ("'a'", "two\nlines\ttab", "'two\\nlines\\ttab'"),
        ("'a'", "back\\slash", "'back\\\\slash'"),
        ("'a'", "naïve ☃", "'naïve ☃'"),
        ("'a'", "nul\x00bell\x07", "'nul\\x00bell\\x07'"),
        ("u'a'", "b", "u'b'"),
        ("r'a\\d'", "b\\w+", "r'b\\w+'"),
        ("r'a'", "ends\\", "'ends\\\\'"),  # a raw string cannot end in one backslash: drop the prefix
        ("b'a'", b"\x00\xffok'", "b'\\x00\\xffok\\''"),
        ("None", "text", '"text"'),
        ("(1, 2)", (3, 4), "(3, 4)"),
        ("1, 2", (3,), "(3,)"),
        ("[1]", [1, "two", 3.0, None], "[1, 'two', 3.0, None]"),
        ("{}", {"k": [1, 2], "n": {"x": True}}, "{'k': [1, 2], 'n': {'x': True}}"),
        ("{1}", {2}, "{2}"),
        ("{1}", set(), "set()"),
        ("()", (), "()"),
        ("0j", 1j, "1j"),
    ],
)
def test_literal_values(old: str, new: Any, expected: str) -> None:
    check(f"X = {old}  # autotrace: param\n", {"X": new}, f"X = {expected}  # autotrace: param\n")


def test_comments_spacing_and_other_lines_are_untouched() -> None:
    check(
        """\
        # leading comment
        A   =   1   #  autotrace: param   odd   spacing
        B = 2  # not a parameter


        def helper():  # untouched
            return A  # uses A
        """,
        {"A": 10},
        """\
        # leading comment
        A   =   10   #  autotrace: param   odd   spacing
        B = 2  # not a parameter


        def helper():  # untouched
            return A  # uses A
        """,
    )


def test_annotated_assignment_and_class_attributes() -> None:
    check(
        """\
        RATE: float = 1.0  # autotrace: param
        class Pricing:
            FEE: int = 3  # autotrace: param
            class Tier:
                LIMIT = -10  # autotrace: param
            def method(self):
                LIMIT = 0  # a local, never a parameter
                return LIMIT
        """,
        {"RATE": 2, "Pricing.FEE": 4, "Pricing.Tier.LIMIT": -20},
        """\
        RATE: float = 2.0  # autotrace: param
        class Pricing:
            FEE: int = 4  # autotrace: param
            class Tier:
                LIMIT = -20  # autotrace: param
            def method(self):
                LIMIT = 0  # a local, never a parameter
                return LIMIT
        """,
    )


def test_unchanged_value_keeps_its_spelling() -> None:
    source = "MASK = 0x10  # autotrace: param\nSTEP = 1.50\nBIG = 1_000\n"
    assert (
        rewrite_source(source, {"MASK": LiteralValue(16), "STEP": LiteralValue(1.5), "BIG": LiteralValue(1000)})
        == source
    )


def test_triple_quoted_prompt_stays_triple_quoted() -> None:
    check(
        '''\
        SYSTEM = """You are a pricing assistant.
        Answer briefly."""  # autotrace: param the system prompt
        ''',
        {"SYSTEM": 'You are careful.\nUse "quotes" and """ triples.\n\tIndented, with a \\ backslash.\n'},
        '''\
        SYSTEM = """You are careful.
        Use "quotes" and ""\\" triples.
        \tIndented, with a \\\\ backslash.
        """  # autotrace: param the system prompt
        ''',
    )


@pytest.mark.parametrize(
    "text",
    ["", "'", "''", "'''", "''''''", "a'", "a''", "'start", "back\\", "\\'", "cr\r\nlf", "x\x0cy", "\n\n", "end\n'"],
)
@pytest.mark.parametrize("quote", ["'''", '"""', "'", '"'])
@pytest.mark.parametrize("prefix", ["", "r", "b"])
def test_string_literals_round_trip(text: str, quote: str, prefix: str) -> None:
    value: str | bytes = text.encode() if prefix == "b" else text
    source = f"S = {prefix}{quote}old{quote}\n"
    result = rewrite_source(source, {"S": LiteralValue(value)})
    assert ast.literal_eval(result.split("=", 1)[1].strip()) == value


def test_parenthesized_concatenation_keeps_parentheses() -> None:
    check(
        """\
        PROMPT = (  # autotrace: param
            "first part "
            "second part"
        )
        """,
        {"PROMPT": "new prompt"},
        """\
        PROMPT = (  # autotrace: param
            "new prompt"
        )
        """,
    )


def test_multiline_container_is_replaced_compactly() -> None:
    check(
        """\
        WEIGHTS = [  # autotrace: param
            1,
            2,
        ]
        """,
        {"WEIGHTS": [3, 4]},
        """\
        WEIGHTS = [3, 4]
        """,
    )


# --- functions ------------------------------------------------------------------------------------


def test_function_replaced_marker_and_leading_comments_kept() -> None:
    check(
        """\
        import math

        # Computes the fee.
        # (second comment line)

        def compute(x):  # autotrace: param the fee formula
            return x * 2


        def other():
            return compute(1)
        """,
        {"compute": CodeValue("def compute(x):\n    # cheaper\n    return math.floor(x * 1.5)\n")},
        """\
        import math

        # Computes the fee.
        # (second comment line)

        def compute(x):  # autotrace: param the fee formula
            # cheaper
            return math.floor(x * 1.5)


        def other():
            return compute(1)
        """,
    )


def test_method_reindented_decorators_kept() -> None:
    check(
        """\
        class Pricing:
            RATE = 2

            # autotrace: param
            @staticmethod
            @functools.lru_cache(maxsize=None)
            def compute(x):
                return x * Pricing.RATE

            def other(self):
                pass
        """,
        {"Pricing.compute": CodeValue("def compute(x):\n  if x > 10:\n    return x\n  return -x\n")},
        """\
        class Pricing:
            RATE = 2

            # autotrace: param
            @staticmethod
            @functools.lru_cache(maxsize=None)
            def compute(x):
                if x > 10:
                    return x
                return -x

            def other(self):
                pass
        """,
    )


def test_marker_on_def_line_of_decorated_method() -> None:
    check(
        """\
        class Agent:
            @tool
            def act(self, obs):  # autotrace: param acting policy
                return None
        """,
        {"Agent.act": CodeValue("def act(self, obs):  # the model's comment\n    return obs\n")},
        """\
        class Agent:
            @tool
            def act(self, obs):  # autotrace: param acting policy
                return obs
        """,
    )


def test_async_kept_even_if_candidate_drops_it() -> None:
    check(
        """\
        class Client:
            async def fetch(self, url):  # autotrace: param
                return await get(url)
        """,
        {"Client.fetch": CodeValue("def fetch(self, url):\n    return await get(url, retries=3)")},
        """\
        class Client:
            async def fetch(self, url):  # autotrace: param
                return await get(url, retries=3)
        """,
    )


def test_one_line_function_body() -> None:
    check(
        "def f(x): return x  # autotrace: param\n",
        {"f": CodeValue("def f(x): return x + 1\n")},
        "def f(x): return x + 1  # autotrace: param\n",
    )


def test_marker_stays_after_the_colon_of_a_multiline_signature() -> None:
    check(
        """\
        def f(a, b):  # autotrace: param
            return a
        """,
        {"f": CodeValue("def f(\n    a,\n    b,\n):  # model comment\n    return b\n")},
        """\
        def f(
            a,
            b,
        ):  # autotrace: param
            return b
        """,
    )


def test_parameters_are_still_found_after_write_back(tmp_path: Path) -> None:
    source = dedent(
        """\
        # autotrace: param first statement, marker in the module header
        def first(x):
            return x

        RATE: float = 1.5  # autotrace: param rate
        PROMPT = (  # autotrace: param prompt
            "a"
            "b"
        )

        class K:
            @staticmethod
            # autotrace: param marker between decorator and def
            def m(x):
                return x

            @property
            def p(self):  # autotrace: param on the def line
                return 1
        """
    )
    path = tmp_path / "mod.py"
    path.write_text(source)
    before = find_params(path, tmp_path, [tmp_path])
    path.write_text(
        rewrite_source(
            source,
            {
                "first": CodeValue("def first(x):\n    return -x\n"),
                "RATE": LiteralValue(2),
                "PROMPT": LiteralValue("new\nprompt"),
                "K.m": CodeValue("def m(x):\n    return 2 * x\n"),
                "K.p": CodeValue("def p(self):\n    return 2\n"),
            },
        )
    )
    after = find_params(path, tmp_path, [tmp_path])
    assert [(s.qualname, s.kind, s.description) for s in after] == [(s.qualname, s.kind, s.description) for s in before]
    assert [s.initial for s in after] == [
        "def first(x):\n    return -x\n",
        2.0,
        "new\nprompt",
        "def m(x):\n    return 2 * x\n",
        "def p(self):  # autotrace: param on the def line\n    return 2\n",
    ]


# --- errors ---------------------------------------------------------------------------------------

ERROR_SOURCE = """\
import os
X = os.getcwd()  # autotrace: param
A = B = 1
NAN_OK = 1.0
DUP = 1
DUP = 2
def f(x):  # autotrace: param
    return x
async def g():
    pass
"""


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("MISSING", LiteralValue(1), "MISSING: not found"),
        ("Cls.f", LiteralValue(1), "Cls.f: not found"),
        ("X", LiteralValue(1), "X: right-hand side is not a Python literal"),
        ("A", LiteralValue(2), "A: is assigned together with other targets"),
        ("DUP", LiteralValue(3), "DUP: defined 2 times"),
        ("NAN_OK", LiteralValue(float("nan")), "NAN_OK: new value nan is not a Python literal"),
        ("NAN_OK", LiteralValue(float("-inf")), "NAN_OK: new value -inf is not a Python literal"),
        ("NAN_OK", LiteralValue(object()), "NAN_OK: new value <object object at"),
        ("f", LiteralValue(1), "f: is a function; its new value must be a CodeValue"),
        ("NAN_OK", CodeValue("def NAN_OK(): pass"), "NAN_OK: is an assignment"),
        ("f", CodeValue("def f(x):\n    return (x\n"), "f: candidate does not parse"),
        ("f", CodeValue("def g(x):\n    return x\n"), "f: candidate must be a single `def f(...)`"),
        ("f", CodeValue("def f(x):\n    return x\ndef h(): pass\n"), "f: candidate must be a single `def f(...)`"),
        ("f", CodeValue("x = 1\n"), "f: candidate must be a single `def f(...)`"),
        ("f", CodeValue("@cache\ndef f(x):\n    return x\n"), "f: candidate must come without decorators"),
        ("f", CodeValue("async def f(x):\n    return x\n"), "f: candidate turns a plain function into `async def`"),
    ],
)
def test_errors_name_file_and_parameter(key: str, value: Replacement, message: str) -> None:
    with pytest.raises(RewriteError) as excinfo:
        rewrite_source(ERROR_SOURCE, {key: value}, filename="pkg/mod.py")
    text = str(excinfo.value)
    assert text.startswith(f"pkg/mod.py: parameter {message}")
    assert "\n" not in text


def test_unparsable_file_is_a_patch_error() -> None:
    with pytest.raises(RewriteError, match=r"^broken.py: does not parse"):
        rewrite_source("X = (\n", {"X": LiteralValue(1)}, filename="broken.py")


# --- whole files: encoding, BOM, line endings -----------------------------------------------------


def test_crlf_kept_on_every_line_including_replaced_function() -> None:
    old = (
        b'"""Module."""\r\nPROMPT = """one\r\ntwo"""  # autotrace: param\r\n\r\n'
        b"class K:\r\n    def run(self):  # autotrace: param\r\n        return 1\r\n"
    )
    new = rewrite_file(
        old,
        {
            "PROMPT": LiteralValue("three\nfour\nfive"),
            "K.run": CodeValue('def run(self):\n    doc = """a\nb"""\n    return doc\n'),
        },
    )
    assert new == (
        b'"""Module."""\r\nPROMPT = """three\r\nfour\r\nfive"""  # autotrace: param\r\n\r\n'
        b'class K:\r\n    def run(self):  # autotrace: param\r\n        doc = """a\r\nb"""\r\n        return doc\r\n'
    )


def test_bom_kept() -> None:
    old = "\ufeffNAME = 'café'  # autotrace: param\n".encode("utf-8")
    assert old.startswith(b"\xef\xbb\xbf")
    new = rewrite_file(b"\xef\xbb\xbf" + old[3:], {"NAME": LiteralValue("thé ☕")})
    assert new == "\ufeffNAME = 'thé ☕'  # autotrace: param\n".encode("utf-8")


def test_latin1_with_cookie_kept_and_unencodable_characters_escaped() -> None:
    old = "# -*- coding: latin-1 -*-\nGREETING = 'olé'  # autotrace: param\nOTHER = 'ñ'\n".encode("latin-1")
    new = rewrite_file(old, {"GREETING": LiteralValue("señor € ok")})
    assert new == "# -*- coding: latin-1 -*-\nGREETING = 'señor \\u20ac ok'  # autotrace: param\nOTHER = 'ñ'\n".encode(
        "latin-1"
    )


def test_latin1_code_that_cannot_be_encoded_is_an_error() -> None:
    old = b"# coding: latin-1\ndef f():  # autotrace: param\n    return 1\n"
    with pytest.raises(
        RewriteError, match=r"^m.py: parameter f: candidate has characters iso-8859-1 cannot encode: '€'$"
    ):
        rewrite_file(old, {"f": CodeValue("def f():\n    return '\u20ac'\n")}, filename="m.py")


def test_missing_final_newline_kept() -> None:
    assert rewrite_file(b"X = 1", {"X": LiteralValue(2)}) == b"X = 2"
    assert rewrite_file(b"def f():\n    return 1", {"f": CodeValue("def f():\n    return 2\n")}) == (
        b"def f():\n    return 2"
    )


# --- patches --------------------------------------------------------------------------------------

FILES: dict[str, bytes] = {
    "pkg/rates.py": b"BASE_FEE = 1.5  # autotrace: param\nLIMIT = 10  # autotrace: param\n",
    "pkg/crlf.py": b"class P:\r\n    RATE = 2  # autotrace: param\r\n\r\n    def f(self):  # autotrace: param\r\n"
    b"        return 1\r\n",
    "pkg/nonl.py": b"A = 1\nB = 'x'  # autotrace: param",
    "pkg/latin.py": "# -*- coding: latin-1 -*-\nS = 'çà'  # autotrace: param\nT = 'é'\n".encode("latin-1"),
    "pkg/bom.py": b"\xef\xbb\xbfS = '\xc3\xa9'  # autotrace: param\n",
    "dir with space/m.py": b"V = 0  # autotrace: param\n",
}


def spec(path: str, qualname: str, kind: str = "literal") -> ParamSpec:
    return ParamSpec(
        key=f"{path}::{qualname}",
        path=Path(path),
        module=path.removesuffix(".py").replace("/", "."),
        qualname=qualname,
        kind=kind,  # type: ignore[arg-type]
        description="",
        initial=None,
        line=1,
    )


CHANGES: list[tuple[ParamSpec, Any]] = [
    (spec("pkg/rates.py", "BASE_FEE"), 2),
    (spec("pkg/rates.py", "LIMIT"), 10),  # unchanged: no hunk
    (spec("pkg/crlf.py", "P.RATE"), 3),
    (spec("pkg/crlf.py", "P.f", "code"), "def f(self):\n    return 2\n"),
    (spec("pkg/nonl.py", "B"), "y"),
    (spec("pkg/latin.py", "S"), "ñö"),
    (spec("pkg/bom.py", "S"), "ü"),
    (spec("dir with space/m.py", "V"), 1),
]

EXPECTED_NEW: dict[str, bytes] = {
    "pkg/rates.py": b"BASE_FEE = 2.0  # autotrace: param\nLIMIT = 10  # autotrace: param\n",
    "pkg/crlf.py": b"class P:\r\n    RATE = 3  # autotrace: param\r\n\r\n    def f(self):  # autotrace: param\r\n"
    b"        return 2\r\n",
    "pkg/nonl.py": b"A = 1\nB = 'y'  # autotrace: param",
    "pkg/latin.py": "# -*- coding: latin-1 -*-\nS = 'ñö'  # autotrace: param\nT = 'é'\n".encode("latin-1"),
    "pkg/bom.py": b"\xef\xbb\xbfS = '\xc3\xbc'  # autotrace: param\n",
    "dir with space/m.py": b"V = 1  # autotrace: param\n",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    for relpath, data in FILES.items():
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_bytes(data)
    return root


def current(root: Path) -> dict[str, bytes]:
    return {relpath: (root / relpath).read_bytes() for relpath in FILES}


def test_make_patch_rewrites_every_file(project: Path) -> None:
    patch = make_patch(project, CHANGES)
    assert sorted(change.relpath for change in patch.files) == sorted(EXPECTED_NEW)
    for change in patch.files:
        assert change.old == FILES[change.relpath]
        assert change.new == EXPECTED_NEW[change.relpath]
    assert current(project) == FILES  # nothing written yet
    assert patch.diff_bytes.count(b"\n--- a/") + patch.diff_bytes.startswith(b"--- a/") == len(EXPECTED_NEW)
    assert b"-LIMIT" not in patch.diff_bytes
    assert b"+B = 'y'  # autotrace: param\n\\ No newline at end of file\n" in patch.diff_bytes
    assert b"+    RATE = 3  # autotrace: param\r\n" in patch.diff_bytes
    assert "+S = 'ñö'".encode("latin-1") in patch.diff_bytes


def test_unchanged_values_give_an_empty_patch(project: Path) -> None:
    unchanged = [(spec(str(project / "pkg/rates.py"), "LIMIT"), 10), (spec("pkg/rates.py", "BASE_FEE"), 1.5)]
    patch = make_patch(project, unchanged)
    assert patch.files == [] and patch.diff == ""
    assert make_patch(project, []).diff == ""


def test_root_reached_through_a_symlink(project: Path, tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(project)
    patch = make_patch(link, [(spec(str(project / "pkg/rates.py"), "BASE_FEE"), 2)])  # scanner paths are resolved
    assert [change.relpath for change in patch.files] == ["pkg/rates.py"]


def test_make_patch_errors_name_the_file(project: Path) -> None:
    with pytest.raises(PatchError, match=r"^pkg/rates.py: parameter NOPE: not found"):
        make_patch(project, [(spec("pkg/rates.py", "NOPE"), 1)])
    with pytest.raises(PatchError, match="outside the project root"):
        make_patch(project / "pkg", [(spec(str(project / "dir with space/m.py"), "V"), 1)])


@pytest.mark.parametrize(
    "command",
    [["git", "apply", "--check", "-v", "patch.diff"], ["patch", "-p1", "--dry-run", "--batch", "-i", "patch.diff"]],
    ids=["git-apply", "patch-p1"],
)
def test_external_tools_accept_the_diff(project: Path, tmp_path: Path, command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        pytest.skip(f"{command[0]} not installed")
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    patch = make_patch(project, CHANGES)
    (project / "patch.diff").write_bytes(patch.diff_bytes)
    subprocess.run(command, cwd=project, check=True, capture_output=True)
    subprocess.run(
        command[:1] + [arg for arg in command[1:] if arg not in ("--check", "--dry-run")],
        cwd=project,
        check=True,
        capture_output=True,
    )
    assert current(project) == EXPECTED_NEW  # the tool reproduced our bytes exactly


def test_save_apply_revert_round_trip(project: Path, tmp_path: Path) -> None:
    os.chmod(project / "pkg/rates.py", 0o754)
    run_dir = tmp_path / "runs" / "r1"
    patch = make_patch(project, CHANGES)
    save_patch(run_dir, patch)

    manifest = json.loads((run_dir / "manifest.json").read_text())
    rates = next(entry for entry in manifest["files"] if entry["relpath"] == "pkg/rates.py")
    assert rates["mode"] == 0o754 and len(rates["old_sha256"]) == len(rates["new_sha256"]) == 64
    assert (run_dir / "backup/pkg/latin.py").read_bytes() == FILES["pkg/latin.py"]
    assert (run_dir / "patch.diff").read_bytes() == patch.diff_bytes
    assert current(project) == FILES

    assert sorted(apply_saved(project, run_dir)) == sorted(EXPECTED_NEW)
    assert current(project) == EXPECTED_NEW
    assert stat.S_IMODE((project / "pkg/rates.py").stat().st_mode) == 0o754

    with pytest.raises(PatchError, match="already applied"):
        apply_saved(project, run_dir)

    assert sorted(revert_saved(project, run_dir)) == sorted(EXPECTED_NEW)
    assert current(project) == FILES
    assert stat.S_IMODE((project / "pkg/rates.py").stat().st_mode) == 0o754
    assert revert_saved(project, run_dir) == []  # already reverted: nothing to do
    assert not [p for p in project.rglob("*.tmp")]


def test_apply_refuses_when_a_file_changed(project: Path, tmp_path: Path) -> None:
    save_patch(tmp_path / "run", make_patch(project, CHANGES))
    (project / "pkg/nonl.py").write_bytes(FILES["pkg/nonl.py"] + b"\n# edited\n")
    with pytest.raises(PatchError, match=r"files changed since the patch was made, nothing applied: pkg/nonl.py$"):
        apply_saved(project, tmp_path / "run")
    assert current(project) == {**FILES, "pkg/nonl.py": FILES["pkg/nonl.py"] + b"\n# edited\n"}


def test_revert_refuses_when_a_file_changed_after_apply(project: Path, tmp_path: Path) -> None:
    save_patch(tmp_path / "run", make_patch(project, CHANGES))
    apply_saved(project, tmp_path / "run")
    (project / "pkg/rates.py").write_bytes(b"# rewritten by hand\n")
    with pytest.raises(PatchError, match=r"nothing reverted: pkg/rates.py$"):
        revert_saved(project, tmp_path / "run")
    assert current(project) == {**EXPECTED_NEW, "pkg/rates.py": b"# rewritten by hand\n"}


def test_apply_refuses_on_damaged_run_dir(project: Path, tmp_path: Path) -> None:
    save_patch(tmp_path / "run", make_patch(project, CHANGES))
    (tmp_path / "run/new/pkg/rates.py").write_bytes(b"tampered")
    with pytest.raises(PatchError, match="does not match the manifest"):
        apply_saved(project, tmp_path / "run")
    assert current(project) == FILES
    with pytest.raises(PatchError, match="no readable saved patch"):
        apply_saved(project, tmp_path / "elsewhere")


def test_midway_failure_rolls_back(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save_patch(tmp_path / "run", make_patch(project, CHANGES))
    calls: list[Path] = []

    def flaky_write(path: Path, data: bytes) -> None:
        calls.append(path)
        if len(calls) == 2:
            raise PermissionError(13, "Permission denied", str(path))
        atomic.atomic_write(path, data)

    monkeypatch.setattr(patches, "atomic_write", flaky_write)
    with pytest.raises(PatchError, match=r"^cannot write .*Permission denied.*; the other files were restored$"):
        apply_saved(project, tmp_path / "run")
    assert len(calls) == 3  # first file written, second failed, first restored
    assert current(project) == FILES


def test_manifest_paths_cannot_escape_the_root(project: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    save_patch(run_dir, make_patch(project, CHANGES[:1]))
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["files"][0]["relpath"] = "../outside.py"
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PatchError, match="unsafe path"):
        apply_saved(project, run_dir)


# --- atomic_write ---------------------------------------------------------------------------------


def test_atomic_write_keeps_mode_and_follows_symlinks(tmp_path: Path) -> None:
    target = tmp_path / "script.py"
    target.write_bytes(b"old")
    os.chmod(target, 0o751)
    link = tmp_path / "link.py"
    link.symlink_to(target)
    atomic.atomic_write(link, b"new")
    assert link.is_symlink() and target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o751
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.py", "script.py"]


def test_atomic_write_removes_temp_file_on_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "f.py"
    target.write_bytes(b"old")

    def failing_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic.atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.py"]


def test_the_import_hook_places_a_candidate_without_the_patch_module() -> None:
    code = (
        "import sys\n"
        "from autotrace.transforms import hook\n"
        "new = hook._substitute('def f():\\n    return 1\\n', {'f': 'def f():\\n    return 2\\n'})\n"
        "assert 'return 2' in new, new\n"
        "print(sorted(m for m in sys.modules if m in ('autotrace.patches', 'autotrace.transforms.rewrite')))\n"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert shown.strip() == "['autotrace.transforms.rewrite']"
