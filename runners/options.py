"""The command line's options built from the one table (:class:`autotrace.options.OptimizeOptions`): each
row becomes a click option with its flags, type, default, metavar and help, so that an option is written
once and ``optimize --help`` lists them in the table's order."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from autotrace.config import parse_size
from autotrace.options import Kind, OptimizeOptions, Row, row

F = TypeVar("F", bound=Callable[..., Any])


class Size(click.ParamType):
    """A size in bytes, given as ``2GiB``, ``512M``, ``1000000`` or ``none`` (no limit)."""

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int | None:
        try:
            return parse_size(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def click_type(kind: Kind) -> Any:
    """The click type of a :class:`autotrace.options.Kind` (None for a switch: a flag takes none)."""
    if kind.base == "int":
        return click.IntRange(None if kind.low is None else int(kind.low),
                              None if kind.high is None else int(kind.high))
    if kind.base == "float":
        if kind.low is None and kind.high is None:
            return float
        return click.FloatRange(kind.low, kind.high, min_open=kind.low_open, max_open=kind.high_open)
    if kind.base == "choice":
        return click.Choice(kind.choices)
    if kind.base == "size":
        return Size()
    if kind.base == "path":
        return click.Path(path_type=Path)
    return None  # bool, str: click's own


def click_option(found: Row, **override: Any) -> Callable[[F], F]:
    """The click option of one row (``override``: what another command says differently, its help say)."""
    spec = found.option
    settings: dict[str, Any] = {"default": found.default, "help": spec.help}
    if spec.kind.base == "bool" and not any("/" in flag for flag in found.flags):
        settings["is_flag"] = True
    elif (kind := click_type(spec.kind)) is not None:
        settings["type"] = kind
    if spec.metavar is not None:
        settings["metavar"] = spec.metavar
    if spec.show_default is not None:
        settings["show_default"] = spec.show_default
    if spec.multiple:
        settings["multiple"] = True
    if spec.flag_value is not None:
        settings.update(is_flag=False, flag_value=spec.flag_value)
    settings.update(override)
    return click.option(*found.flags, found.name, **settings)


def optimize_options(command: F) -> F:
    """Decorate ``command`` with every option of the table, in its order."""
    for found in reversed(list(OptimizeOptions.rows())):
        command = click_option(found)(command)
    return command


def shared_option(name: str, **override: Any) -> Callable[[F], F]:
    """Option ``name`` of the table for another command (``run``), with what it says differently."""
    return click_option(row(name), **override)
