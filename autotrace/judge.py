"""The judge contract: how a user's ``judge.py`` turns an output into a score and a message.

``feedback(output)`` — or ``feedback(output, example)`` when the judge defines ``examples()`` — returns
a float score (higher is better), a str message, or a ``(score, message)`` tuple.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any


class JudgeError(Exception):
    """The judge itself is wrong (missing ``feedback``, bad return value, raised): the run stops."""


@dataclass(frozen=True)
class Verdict:
    score: float | None
    message: str


def load_judge(path: Path) -> ModuleType:
    """Import ``judge.py`` under a private name (it is the user's code, but never instrumented)."""
    if not path.is_file():
        raise JudgeError(f"{path}: no such judge file")
    spec = importlib.util.spec_from_file_location("_autotrace_judge", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise JudgeError(f"{path}: importing the judge raised {_reason(exc)}") from None
    if not callable(getattr(module, "feedback", None)):
        raise JudgeError(f"{path}: the judge must define feedback(output) (see the README's judge contract)")
    return module


def judge_failure_score(path: Path) -> float | None:
    """The judge module's ``failure_score = NUMBER`` (what an example that raised scores), read from its
    source without running it (the loop decides its scoring before any evaluation); None when it sets none.
    A value that is not a plain number is a :class:`JudgeError`."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, SyntaxError, ValueError):
        return None  # the worker reports an unreadable judge with its own message
    target: ast.expr
    for node in tree.body:
        if isinstance(node, ast.AnnAssign):
            target, assigned = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, assigned = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id == "failure_score" and assigned is not None:
            try:
                value = ast.literal_eval(assigned)
            except ValueError:
                value = None
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise JudgeError(f"{path}:{node.lineno}: failure_score must be a number (the score of an example "
                                 "that raised)")
            return float(value)
    return None


def examples_of(judge: ModuleType) -> list[Any] | None:
    """The judge's ``examples()`` list, or None when it defines none (the validation examples of a
    ``{"train": [...], "val": [...]}`` come after the train ones: :func:`judge_examples`)."""
    split = judge_examples(judge)
    return None if split is None else split[0]


def judge_examples(judge: ModuleType) -> tuple[list[Any], int] | None:
    """The judge's examples and how many of them, from the first, are for selection; the rest are held
    out for validation (``examples()`` returned ``{"train": [...], "val": [...]}``). None without examples()."""
    make = getattr(judge, "examples", None)
    if make is None:
        return None
    try:
        made = make()
        if isinstance(made, dict):
            if set(made) != {"train", "val"}:
                raise JudgeError(f'judge examples() returned a dict with keys {sorted(made)}: give "train" and "val"')
            train, val = list(made["train"]), list(made["val"])
            if not train:
                raise JudgeError('judge examples() returned no "train" examples')
            return train + val, len(train)
        items = list(made)
    except JudgeError:
        raise
    except Exception as exc:
        raise JudgeError(f"judge examples() raised {_reason(exc)}") from None
    if not items:
        raise JudgeError("judge examples() returned no examples")
    return items, len(items)


def judge_output(feedback: Callable[..., Any], output: Any, example: Any, with_example: bool) -> Verdict:
    try:
        result = feedback(output, example) if with_example else feedback(output)
    except Exception as exc:
        where = inspect.getsourcefile(feedback) or "judge"
        raise JudgeError(f"{where}: feedback() raised {_reason(exc)}") from None
    return normalize(result)


def _reason(exc: BaseException) -> str:
    """``Type: message`` on one line (the first line of a multi-line message)."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}{' ...' if len(lines) > 1 else ''}" if lines else type(exc).__name__


def normalize(result: Any) -> Verdict:
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], str):
        score = _score(result[0])
        return Verdict(score, result[1] or f"score {score}")
    if isinstance(result, str):
        return Verdict(None, result)
    score = _score(result)
    return Verdict(score, f"score {score}")


def _score(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise JudgeError(f"feedback() returned {value!r}: expected a float score, a str, or a (score, str) tuple")
    return float(value)
