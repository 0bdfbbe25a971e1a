"""The one truncation helper: a cut text fits its limit, says how long it was and keeps the part asked for."""

import pytest

from autotrace.text import truncate

TEXT = "call line\n" + "x" * 5000 + "\nValueError: the error"


@pytest.mark.parametrize("keep", ["head", "tail", "ends"])
@pytest.mark.parametrize("limit", [40, 100, 1000])
def test_a_cut_text_fits_its_limit_and_says_how_long_it_was(keep: str, limit: int) -> None:
    cut = truncate(TEXT, limit, keep)  # type: ignore[arg-type]
    assert len(cut) == limit and f"({len(TEXT):,} chars)" in cut


def test_each_mode_keeps_its_part() -> None:
    assert truncate(TEXT, 100).startswith("call line\n")
    assert truncate(TEXT, 100, "tail").endswith("\nValueError: the error")
    ends = truncate(TEXT, 100, "ends")
    assert ends.startswith("call line") and ends.endswith("ValueError: the error")


def test_a_short_text_is_unchanged_and_a_tiny_limit_gives_the_note() -> None:
    assert truncate("short", 5, "ends") == "short"
    assert truncate(TEXT, 3) == truncate(TEXT, 3, "ends") == f"... ({len(TEXT):,} chars)"
