"""End to end on the real embedded model (Qwen2.5-Coder-1.5B): no key, no network, a real optimization.

Slow (the model answers in tens of seconds on 2 cores), so it runs with ``-m slow`` — CI runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.model]

PROGRAM = '''"""Solve 3x + 2 = 20 for x."""

X = 1.0  # autotrace: param


def main():
    return 3 * X + 2
'''
JUDGE = '''def feedback(output):
    error = output - 20
    if abs(error) < 1e-9:
        return 0.0, "correct: the output is 20"
    return -abs(error), f"the output is {output} but it must be 20 ({'too high' if error > 0 else 'too low'} by {abs(error):g})"
'''


def test_local_model_solves_a_linear_equation_and_writes_a_patch(tmp_path, model_ready):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "app.py").write_text(PROGRAM)
    (tmp_path / "judge.py").write_text(JUDGE)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AUTOTRACE_MODEL")}
    done = subprocess.run(
        [sys.executable, "-m", "autotrace", "optimize", "app.py", "--feedback", "judge.py", "--steps", "4",
         "--target", "-0.001", "--no-measured-step"],  # the model must answer: its estimate would solve this
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800)
    assert "model: local qwen2.5-coder-1.5b-instruct-q4_k_m" in done.stderr
    # 0: the target was reached; 1: the steps ran out first. Whether a 1.5B model solves it in 4
    # steps is a quality figure (benchmarks/); what must hold is the whole path on the real model:
    assert done.returncode in (0, 1), done.stderr[-2000:]
    assert "changed app.X" in done.stderr, done.stderr[-2000:]  # a real answer was parsed, validated, evaluated
    (patch,) = (tmp_path / ".autotrace" / "runs").glob("*/patch.diff")
    assert (tmp_path / "app.py").read_text() == PROGRAM  # not applied without --apply
    if done.returncode == 0:
        assert "+X = 6.0  # autotrace: param" in done.stdout
    if patch.read_text():
        subprocess.run(["git", "apply", "--check", str(patch)], cwd=tmp_path, check=True)


def test_example_a_reaches_its_target_on_the_local_model(tmp_path, model_ready):
    """Issue #2's "done": set-up command 1's optimization of examples/fit_constants (the same command
    as scripts/demo.sh, in a scratch copy) reaches its -0.5 target and writes a patch git applies."""
    import shutil
    from pathlib import Path

    example = tmp_path / "fit_constants"
    shutil.copytree(Path(__file__).resolve().parents[1] / "examples" / "fit_constants", example,
                    ignore=shutil.ignore_patterns(".autotrace", "__pycache__"))
    subprocess.run(["git", "init", "-q"], cwd=example, check=True)
    before = {name: (example / name).read_text() for name in ("main.py", "pricing.py")}
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AUTOTRACE_MODEL")}
    done = subprocess.run(
        [sys.executable, "-m", "autotrace", "optimize", "main.py", "--feedback", "judge.py", "--model", "local",
         "--steps", "10", "--target", "-0.5"],
        cwd=example, env=env, capture_output=True, text=True, timeout=3000)
    assert done.returncode == 0, done.stderr[-3000:]
    best = float(done.stderr.split("best score: ")[1].split()[0])
    assert best >= -0.5
    assert {name: (example / name).read_text() for name in before} == before  # only a patch, no edits
    (patch,) = (example / ".autotrace" / "runs").glob("*/patch.diff")
    subprocess.run(["git", "apply", "--check", str(patch)], cwd=example, check=True)
