"""Parameters: what autotrace may change in a user's program, and how values cross process boundaries.

A parameter is either a *literal* (a module- or class-level constant whose right side is a literal) or
*code* (a whole function or method, shown to the optimizer as source). Values travel between the
optimization loop and the evaluation worker as text: literals as ``repr`` (read back with
``ast.literal_eval``), code as source, so nothing but data crosses a process boundary.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from autotrace.domain import Domain

ParamKind = Literal["literal", "code"]

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

    @property
    def name(self) -> str:
        return f"{self.module}.{self.qualname}" if self.module else self.qualname


def literal_to_text(value: Any) -> str:
    """Render a literal parameter value so that :func:`text_to_literal` gives it back."""
    text = repr(value)
    if text_to_literal(text) != value:  # e.g. nan, or an object that is no literal
        raise ValueError(f"value {text[:80]} is not a Python literal")
    return text


def text_to_literal(text: str) -> Any:
    return ast.literal_eval(text)


def same_kind(old: Any, new: Any) -> bool:
    """Whether ``new`` may replace ``old``: numbers stay numbers, strings strings, containers containers."""
    if isinstance(old, bool) or isinstance(new, bool):
        return isinstance(old, bool) and isinstance(new, bool)
    if isinstance(old, (int, float)) and isinstance(new, (int, float)):
        return True
    if old is None:
        return True
    return type(old) is type(new)
