"""Cutting long texts to a size: one helper, so every shortened text in prompts, graphs, reports and
feedback says the same thing about what was left out."""

from __future__ import annotations

from typing import Literal


def truncate(text: str, limit: int, keep: Literal["head", "tail", "ends"] = "head") -> str:
    """``text`` in at most ``limit`` characters (the note about the cut included, and only the note when
    the limit leaves no room beside it), saying how long it was.

    ``keep`` says which part matters: the start (``"head"``: a value, a source, a label), the end
    (``"tail"``: printed output, a collection error), or both ends (``"ends"``: a traceback, whose
    call and error sit at the two ends)."""
    if len(text) <= limit:
        return text
    note = f"... ({len(text):,} chars)"
    room = max(0, limit - len(note) - 1)
    if keep == "head":
        return text[: max(0, limit - len(note))] + note
    if keep == "tail":
        return note + "\n" + text[len(text) - room:] if room else note
    head = room // 2
    return text[:head] + "\n" + note + "\n" + text[len(text) - (room - head - 1):] if room > 1 else note
