"""Shared fixtures. ``llm_server`` is a real OpenAI-compatible HTTP server on 127.0.0.1 (see llmserver.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import PLUGIN_AUTOLOAD
from llmserver import ScriptedLLMServer

from autotrace.llm.provision import installed_model


@pytest.fixture
def llm_server() -> Iterator[ScriptedLLMServer]:
    """A started scripted server; queue answers with ``llm_server.script(...)``. Stopped after the test."""
    with ScriptedLLMServer() as server:
        yield server


@pytest.fixture
def outside(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder outside the test's project made the system temp folder (``TMPDIR``), so a confined
    evaluation may write there -- the project is itself under the temp folder, which a confined
    evaluation may then not write to. Tests leave markers (pids) there."""
    folder = tmp_path_factory.mktemp("outside")
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)
    return folder


@pytest.fixture(scope="module")
def model_ready() -> None:
    """The real local model installed (its test skips where it cannot be)."""
    if installed_model("1.5b") is None:
        done = subprocess.run([sys.executable, "-m", "autotrace", "model", "install"], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"the local model cannot be installed here: {done.stderr.strip()[-300:]}")


#: The test files that take longest (each dozens of `autotrace optimize` or pytest processes), longest first:
#: with ``--dist loadfile`` (scripts/test.sh) the workers take whole files in collection order, so these go
#: first and the short files fill in behind them, instead of one long file running alone at the end.
LONGEST_FIRST = ("test_app_model.py", "test_holdout_tests.py", "test_examples.py", "test_tests_eval.py",
                 "test_cli.py", "test_confinement.py", "test_bench_prompt_tasks.py", "test_tests_search.py")


def pytest_configure(config: pytest.Config) -> None:
    """The pytest runs the tests start load only the plugins they name (``helpers.PLUGIN_AUTOLOAD``). Set in
    the process that runs tests (an xdist worker, or this one without workers), never in a controller whose
    workers are still to start: they need xdist's own plugin."""
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        os.environ[PLUGIN_AUTOLOAD] = "1"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest test files first (:data:`LONGEST_FIRST`), the others after them in their usual order."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONGEST_FIRST)))
