"""Small edits of a function's source, in the SEARCH/REPLACE form (as aider and other coding tools ask
for them): a model that rewrites a long function whole tends to give back the same function, or
to lose a line on the way; asked for the few lines to change, it copies only those.

An edit is applied exactly: its SEARCH lines must occur once in the source as they stand (with their
indentation); otherwise the whole answer is rejected with the reason, said to the model next time,
rather than guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from autotrace.text import truncate

#: One block: ``<<<<<<< SEARCH`` / the lines to find / ``=======`` / the lines to put there / ``>>>>>>> REPLACE``.
_BLOCK = re.compile(r"^<{5,9} ?SEARCH[^\n]*\n(.*?)^={5,9}[ \t]*\n(.*?)^>{5,9} ?REPLACE[^\n]*$",
                    re.DOTALL | re.MULTILINE)

#: How an edit is asked for (the answer format of the question that asks for one).
EDIT_FORMAT = ("<<<<<<< SEARCH\n<the lines to change, copied exactly from the current value, with their "
               "indentation>\n=======\n<the lines to put in their place>\n>>>>>>> REPLACE")


@dataclass(frozen=True)
class Edit:
    """One SEARCH/REPLACE block: the text to find and the text to put in its place."""

    search: str
    replace: str


def parse_edits(text: str) -> list[Edit]:
    """The SEARCH/REPLACE blocks of an answer, in order (none when it has none)."""
    return [Edit(search, replace) for search, replace in _BLOCK.findall(text)]


def apply_edits(source: str, edits: list[Edit]) -> tuple[str | None, str | None]:
    """``(new source, None)`` with every edit applied in turn, or ``(None, reason)`` when one does not
    apply: no edits, an empty SEARCH, or SEARCH lines that do not occur exactly once."""
    if not edits:
        return None, "the answer held no SEARCH/REPLACE block"
    source = source if source.endswith("\n") else source + "\n"  # a last SEARCH line ends with one too
    for number, edit in enumerate(edits, 1):
        which = f"edit {number}" if len(edits) > 1 else "the edit"
        if not edit.search.strip():
            return None, f"{which} has no SEARCH lines: copy the lines to change from the current value"
        found = source.count(edit.search)
        if found == 0:
            first = truncate(edit.search.strip().splitlines()[0], 80)
            return None, (f"{which} was not applied: its SEARCH lines do not occur exactly in the function "
                          f"(from {first!r}); copy them with their indentation")
        if found > 1:
            return None, (f"{which} was not applied: its SEARCH lines occur {found} times; give more lines so "
                          "they occur once")
        source = source.replace(edit.search, edit.replace, 1)
    return source, None
