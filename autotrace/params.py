"""Parameters: what autotrace may change in a user's program, and how values cross process boundaries.

A parameter is either a *literal* (a module- or class-level constant whose right side is a literal) or
*code* (a whole function or method, shown to the optimizer as source). Values travel between the
optimization loop and the evaluation worker as text: literals as ``repr`` (read back with
``ast.literal_eval``), code as source, so nothing but data crosses a process boundary.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from autotrace.domain import Domain


class ParamKind(StrEnum):
    """What a parameter is. At process and storage boundaries (job params, the pytest report, graph node
    attributes) it travels as its ``value``, the plain word ``"literal"`` or ``"code"``: execnet, which
    carries xdist workers' reports, serializes plain types only."""

    LITERAL = "literal"  # a module- or class-level constant whose right side is a literal
    CODE = "code"  # a whole function or method, shown to the optimizer as source


@dataclass(frozen=True)
class ParamSpec:
    """One marked parameter, located in a source file.

    ``key`` (``"pkg/rates.py::BASE_FEE"``) identifies it on disk; ``name`` (``"pkg.rates.BASE_FEE"``)
    is what the optimizer and the user see.
    """

    key: str
    path: Path
    module: str
    qualname: str
    kind: ParamKind
    description: str
    initial: Any
    line: int
    signature: str = field(default="", compare=False)
    #: The values a literal may take, from the bound its marker starts with (None: any of its kind).
    domain: Domain | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", ParamKind(self.kind))  # accepts the wire word too

    @property
    def name(self) -> str:
        return f"{self.module}.{self.qualname}" if self.module else self.qualname


def written_whole(spec: ParamSpec, value: Any) -> bool:
    """A function or a text: a value the model writes again whole (asked about alone, two versions
    merged by the model), not one it tunes (a number, a container)."""
    return spec.kind is ParamKind.CODE or isinstance(value, str)


def literal_to_text(value: Any) -> str:
    """Render a literal parameter value so that :func:`text_to_literal` gives it back."""
    text = repr(value)
    if text_to_literal(text) != value:  # e.g. nan, or an object that is no literal
        raise ValueError(f"value {text[:80]} is not a Python literal")
    return text


def text_to_literal(text: str) -> Any:
    return ast.literal_eval(text)


def value_to_text(kind: ParamKind, value: Any) -> str:
    """A parameter value as the text that crosses process and storage boundaries: code is its source,
    a literal its checked ``repr`` (:func:`literal_to_text`)."""
    return value if kind is ParamKind.CODE else literal_to_text(value)


def text_to_value(kind: ParamKind, text: str) -> Any:
    """The inverse of :func:`value_to_text`."""
    return text if kind is ParamKind.CODE else text_to_literal(text)


def same_kind(old: Any, new: Any) -> bool:
    """Whether ``new`` may replace ``old``: numbers stay numbers, strings strings, containers containers."""
    if isinstance(old, bool) or isinstance(new, bool):
        return isinstance(old, bool) and isinstance(new, bool)
    if isinstance(old, (int, float)) and isinstance(new, (int, float)):
        return True
    if old is None:
        return True
    return type(old) is type(new)
