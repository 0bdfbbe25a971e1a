"""The one option table: the command line's options, the ``[tool.autotrace]`` checks, the defaults and the
run's settings all come from :class:`autotrace.options.OptimizeOptions`."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import click
import pytest

from autotrace.config import DEFAULTS, ConfigError, load_config
from autotrace.options import OptimizeOptions
from autotrace.runners.cli import optimize, run
from autotrace.runners.optimize import Settings

ROWS = list(OptimizeOptions.rows())
#: A value of the wrong type for each base kind of option.
WRONG: dict[str, Any] = {"int": "two", "float": "1.5", "bool": "false", "str": 3, "choice": "nope", "size": [1],
                         "path": 3}


def test_the_command_takes_every_row_in_the_tables_order_and_nothing_else() -> None:
    options = [p for p in optimize.params if isinstance(p, click.Option)]
    assert [p.name for p in options] == [row.name for row in ROWS]
    for param, row in zip(options, ROWS, strict=True):
        assert param.help == row.option.help and param.opts[0] == row.flags[0].split("/")[0]


@pytest.mark.parametrize("row", [r for r in ROWS if r.config and r.option.checked_on_load], ids=lambda r: r.name)
def test_each_key_of_the_table_is_checked_by_its_kind(tmp_path: Path, row) -> None:
    value = WRONG[row.option.kind.base]
    (tmp_path / "pyproject.toml").write_text(f"[tool.autotrace]\n{row.config} = {value!r}\n".replace("'", '"'))
    with pytest.raises(ConfigError, match=re.escape(f"] {row.config} must be {row.option.kind.describe}, not")):
        load_config(tmp_path)


def test_a_file_in_the_table_is_read_from_the_pyproject_folder(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.autotrace]\nfeedback = "judge.py"\nsteps = 3\n')
    assert load_config(tmp_path) == {"feedback": str(tmp_path / "judge.py"), "steps": 3}


def test_the_settings_take_the_rows_meant_for_them_with_the_same_defaults() -> None:
    settings = {f.name: f for f in fields(Settings)}
    taken = OptimizeOptions().settings()
    assert taken and set(taken) <= set(settings)
    for name, value in taken.items():
        assert settings[name].default == value or name in ("judge", "resume", "selectors"), name
    assert DEFAULTS["steps"] == Settings(target=None, judge=None).steps == OptimizeOptions().steps


def test_the_defaults_are_the_tables_by_their_keys() -> None:
    assert {row.config: row.default for row in ROWS if row.config} == {k: v for k, v in DEFAULTS.items()
                                                                       if k != "user_repr"}
    assert DEFAULTS["feedback"] is None and DEFAULTS["target"] is None and DEFAULTS["memory"] == "4GiB"


def test_run_shares_the_tables_options_in_its_own_words() -> None:
    shared = {p.name: p for p in run.params if isinstance(p, click.Option)}
    assert shared["timeout"].default == OptimizeOptions().timeout and shared["entry"].default == "main"
    assert shared["judge"].help == "Also judge the output (and run the judge's examples)."
    assert shared["judge"].opts == ["--feedback"] and shared["selectors"].multiple
