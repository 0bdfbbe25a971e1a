"""Helpers the test modules share: the installed command, waiting on a condition, the small
projects the loop, CLI, sandbox and plugin tests run, and the processes a test leaves behind."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from inprocess import run_cli
from llmserver import ScriptedLLMServer

from autotrace.project import Project
from autotrace.runners.executor import Executor
from autotrace.runners.program_runs import evaluation_of, make_job
from autotrace.runners.sandbox import Limits
from autotrace.runners.worker import Job

#: The ``autotrace`` command installed beside the interpreter running the tests.
AUTOTRACE = Path(sys.executable).with_name("autotrace")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "fit_constants"
JUDGE = "def feedback(output):\n    return (1.0, 'ok') if output == 42 else (0.0, f'got {output!r}')\n"

#: A program written for OpenAI: an unmodified ``OpenAI()`` client, one marked system prompt.
OPENAI_APP = '''\
from openai import OpenAI

PROMPT = "Say something."  # autotrace: param the system prompt

client = OpenAI()  # configured by the environment alone, as a program written for OpenAI is


def main(text):
    reply = client.chat.completions.create(
        model="gpt-4o-mini", temperature=0,
        messages=[{"role": "system", "content": PROMPT}, {"role": "user", "content": text}])
    return reply.choices[0].message.content
'''

# -- waiting on a condition, processes --------------------------------------------------------------
def wait_until(condition: Callable[[], object], timeout: float = 30) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass; whether it held. The deadline is
    generous: it only bounds a failing test, a passing one returns as soon as the condition holds. It
    stays under the 60 s the tests' stray processes sleep, so one that survives still fails its test."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return bool(condition())
        time.sleep(0.02)
    return True


def running(pid: int) -> bool:
    """Whether ``pid`` runs now (a zombie waiting for init to reap it has stopped running)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def gone(pid: int) -> bool:
    """Whether ``pid`` stops running within the deadline of :func:`wait_until`."""
    return wait_until(lambda: not running(pid))


def pid_in(marker: Path, timeout: float = 30) -> int:
    """The pid a test's program wrote to ``marker``, once it is there (written whole: the number is short)."""
    assert wait_until(lambda: marker.exists() and marker.read_text().strip(), timeout), f"no pid in {marker}"
    return int(marker.read_text())


def processes_with(tag: str) -> list[int]:
    """The processes whose environment holds ``tag`` (everything a test's command started)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if tag.encode() in handle.read():
                    found.append(int(entry))
        except (OSError, ValueError):
            continue
    return [pid for pid in found if running(pid)]


def steps_of(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The progress lines without their durations."""
    return [re.sub(r" +\d+\.\ds ", " ", line) for line in result.stderr.splitlines() if line.startswith("step")]


# -- the environment of a child process -------------------------------------------------------------
#: The one ``PYTEST_`` variable a child keeps: tests/conftest.py sets it, so that the pytest runs the tests
#: start (``--tests`` evaluations, the plugin's sessions) load only the plugins they name, not the ones
#: installed beside this suite (xdist, coverage, benchmark, anyio), which cost more than such a run itself.
PLUGIN_AUTOLOAD = "PYTEST_DISABLE_PLUGIN_AUTOLOAD"


def child_env(*prefixes: str, drop: tuple[str, ...] = ()) -> dict[str, str]:
    """This process's environment for a child, less the variables whose names start with ``prefixes`` (the
    user's ``OPENAI_`` ones, this test run's ``PYTEST_`` ones) or are in ``drop``; :data:`PLUGIN_AUTOLOAD` stays."""
    return {k: v for k, v in os.environ.items() if k == PLUGIN_AUTOLOAD or not (k.startswith(prefixes) or k in drop)}


# -- the installed command --------------------------------------------------------------------------
def autotrace(*args: str, cwd: Path, base_url: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed ``autotrace`` command; with ``base_url``, against that LLM server."""
    env = child_env("OPENAI_", "AUTOTRACE_")
    env["OPENAI_API_KEY"] = "test"
    llm = ["--base-url", base_url, "--model", "scripted"] if base_url else []
    return subprocess.run([str(AUTOTRACE), *args, *llm], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def suggest(values: dict[str, object]) -> dict:
    """An optimizer answer that changes ``values`` and keeps the other parameters (null)."""
    names = ("main.MARKUP", "pricing.PRICE_PER_PAGE", "pricing.SETUP_FEE")
    return {"reasoning": "The quote is too low; raise the price.", "suggestion": {n: values.get(n) for n in names}}


def run_id_of(result: subprocess.CompletedProcess[str]) -> str:
    match = re.search(r"run: (\S+)", result.stderr)
    assert match, result.stderr
    return match.group(1)


def make_shop(parent: Path) -> Path:
    """A git repository holding a copy of the fit_constants example."""
    folder = parent / "shop"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("__pycache__", ".autotrace"))
    subprocess.run(["git", "init", "-q"], cwd=folder, check=True)
    return folder


# -- the loop's shop: three parameters, minus the error as the score -------------------------------
def shop(folder: Path, power: float = 1, wanted: float = 30) -> Path:
    """quote = (1 + pages * PRICE) * MARKUP, judged as minus the error against ``wanted`` (to ``power``:
    below 1, a straight line through two measurements overshoots)."""
    (folder / "pyproject.toml").write_text("[tool.autotrace]\n")
    (folder / "shop.py").write_text(
        "PRICE = 0.05  # autotrace: param\nMARKUP = 1.2  # autotrace: param\nNAME = 'shop'  # autotrace: param\n\n\n"
        "def main():\n    return round((1 + 200 * PRICE) * MARKUP, 2)\n")
    (folder / "judge.py").write_text(
        f"def feedback(output):\n    return -abs(round(output - {wanted}, 2)) ** {power}, "
        f"f'output {{output}}, wanted {wanted}'\n")
    return folder


def optimize(folder: Path, server: ScriptedLLMServer, *args: str, installed: bool = False,
             timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``autotrace optimize shop.py`` against ``server``, in this process; ``installed``: the installed command
    in a process of its own (``timeout`` bounds it), for a run that must own its process (a Ray cluster)."""
    env = {**child_env("OPENAI_", "AUTOTRACE_"), "OPENAI_API_KEY": "test"}
    command = ["optimize", "shop.py", "--feedback", "judge.py", *args, "--base-url", server.base_url,
               "--model", "scripted"]
    if not installed:
        return run_cli(*command, cwd=folder, env=env)
    return subprocess.run([str(AUTOTRACE), *command], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=timeout)


def answer(**values: object) -> dict:
    return {"reasoning": "scripted", "suggestion": {"shop.PRICE": None, "shop.MARKUP": None, "shop.NAME": None,
                                                    **{f"shop.{k}": v for k, v in values.items()}}}


# -- one evaluation: in a spawned worker, or on the fork server -------------------------------------
def evaluating(root: Path) -> subprocess.Popen[bytes]:
    """A Python process (standing for autotrace) evaluating ``root``'s app.py under its judge.py with a
    timeout of 300 s: the caller kills it mid-evaluation."""
    driver = textwrap.dedent(f'''
        from pathlib import Path
        from autotrace.project import Project
        from autotrace.runners.program_runs import make_job, run_evaluation
        from autotrace.runners.sandbox import Limits
        root = Path({str(root)!r})
        project = Project.load(root / "app.py")
        run_evaluation(make_job(project, root / "app.py", "main", root / "judge.py", {{}}), Limits(timeout=300))
    ''')
    return subprocess.Popen([sys.executable, "-c", driver])


def project_at(tmp_path: Path, body: str, judge: str = JUDGE) -> Project:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "app.py").write_text(textwrap.dedent(body))
    (tmp_path / "helper.py").write_text("def twice(q):\n    return 2 * q\n")
    (tmp_path / "judge.py").write_text(judge)
    return Project.load(tmp_path / "app.py")


def job_for(tmp_path: Path, project: Project, **values: Any) -> Job:
    return make_job(project, tmp_path / "app.py", "main", tmp_path / "judge.py", values)


def forked(tmp_path: Path, body: str, limits: Limits = Limits(timeout=20), **values: Any):
    project = project_at(tmp_path, body)
    with Executor(limits, kind="fork", jobs=1, say=pytest.fail) as executor:
        return evaluation_of(executor.run(job_for(tmp_path, project, **values)))


# -- the pytest plugin's project --------------------------------------------------------------------
#: A src-layout project: the parameter in one module, read through ``from ... import`` in another,
#: a conftest.py that imports the project before any test module does.
SHOP = {
    "pyproject.toml": """
        [tool.pytest.ini_options]
        pythonpath = ["src"]
    """,
    "src/shop/__init__.py": "",
    "src/shop/rates.py": """
        FEE = 2.5  # autotrace: param fee per item
    """,
    "src/shop/cart.py": """
        from shop.rates import FEE


        def price(qty):
            return qty * FEE


        def total(items):
            print("pricing", len(items), "items")
            return sum(price(q) for q in items)


        def average(items):
            return total(items) / len(items)
    """,
    "tests/conftest.py": """
        import pytest

        from shop import cart  # the project imported by a conftest: instrumented all the same


        @pytest.fixture
        def items():
            return [1, 2]
    """,
    "tests/test_cart.py": """
        import json
        import os
        import sys

        from shop.cart import average, price, total
        from shop.rates import FEE


        def test_instrumented():
            assert "@autotrace" in price.__code__.co_names  # the body records itself


        def test_total(items):
            assert total(items) == 9.0


        def test_average_of_nothing():
            assert average([]) == 0


        def test_fee_seen_through_from_import():
            assert price(2) == 2 * FEE


        def test_plugin_state():
            state = {"modules": sorted(m for m in sys.modules if m.startswith("autotrace")),
                     "finders": [type(f).__name__ for f in sys.meta_path]}
            with open(os.environ["STATE_OUT"], "w") as out:
                json.dump(state, out)
    """,
}


def write(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root
