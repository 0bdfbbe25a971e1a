"""What the command line prints beyond plain lines: aligned tables and colours.

Colour only where a person reads it: when the stream is a terminal and ``NO_COLOR`` is unset
(https://no-color.org); never in a pipe, a file or a CI log. click strips colour codes from a stream
that is not a terminal already, but it does not know ``NO_COLOR``: :func:`colour` decides both.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import click


def colour(stream: TextIO | None = None) -> bool:
    """Whether to colour text written to ``stream`` (default stdout)."""
    stream = stream if stream is not None else sys.stdout
    if "NO_COLOR" in os.environ and os.environ["NO_COLOR"] != "":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def paint(text: str, on: bool, **style: Any) -> str:
    """``text`` styled with click.style's ``style`` (fg=, bold=, dim=) when ``on``, else as it is."""
    return click.style(text, **style) if on else text


def score_style(describe: str) -> dict[str, Any]:
    """How a score reads at a glance: red when something failed or raised, else as it is."""
    return {"fg": "red"} if "failed" in describe or "raised" in describe else {}


def table(header: Sequence[str], rows: Sequence[Sequence[str]], right: frozenset[int] = frozenset()) -> list[str]:
    """Columns padded to their widest cell (``right``: the columns aligned right, numbers), two spaces apart."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = [str(c).rjust(w) if i in right else str(c).ljust(w)
                  for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(padded).rstrip()

    return [line(header), *(line(row) for row in rows)]
