"""Running the shipped examples in a test: a copy of one, ``autotrace run`` on it, plain Python in it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from helpers import child_env
from inprocess import run_cli

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def copy_example(name: str, tmp_path: Path) -> Path:
    folder = tmp_path / name
    shutil.copytree(EXAMPLES / name, folder, ignore=shutil.ignore_patterns("__pycache__", ".autotrace"))
    return folder


def environment(**extra: str) -> dict[str, str]:
    env = child_env("OPENAI_", "AUTOTRACE_")
    return {**env, **extra}


def autotrace_run(folder: Path, target: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli("run", target, "--feedback", "judge.py", *args, cwd=folder, env=environment(**env))


def python(folder: Path, code: str) -> str:
    """Run ``code`` with plain Python in ``folder`` (no autotrace involved); its stdout."""
    result = subprocess.run([sys.executable, "-c", code], cwd=folder, env=environment(), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def replace_once(path: Path, old: str, new: str) -> None:
    source = path.read_text()
    assert source.count(old) == 1, f"{old!r} not found once in {path}"
    path.write_text(source.replace(old, new))
