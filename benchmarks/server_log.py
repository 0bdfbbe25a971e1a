"""The prefix cache as llama.cpp's own log saw it: per request, prompt tokens evaluated and reused, from
the log an embedded server writes (``~/.cache/autotrace/logs/server-*.log``).

For a run made before autotrace recorded the server's timings (or by any other client of the server), the
log is the only account of what the cache gave. Per request llama.cpp prints ``prompt eval time = X ms /
N tokens`` (N evaluated), ``eval time = Y ms / G tokens`` (G generated) and, on release, ``n_tokens = T``,
the slot's tokens (the whole prompt and all but the last generated token): the prompt was ``T - G + 1``
tokens, of which ``T - G + 1 - N`` came from the cache. Usage::

    python -m benchmarks.server_log ~/.cache/autotrace/logs/server-2026*.log [--json]

prints, per log, the requests and the share of their prompt tokens the cache gave (after each server's
first request, which has nothing to reuse), and the seconds of prompt evaluation and generation.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

_TASK = re.compile(r"\| task (\d+) \|")
_PROMPT = re.compile(r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens")
_EVAL = re.compile(r"^\S+ I slot print_timing: .*\|\s+eval time =\s*([\d.]+) ms /\s*(\d+) tokens")
_RELEASE = re.compile(r"stop processing: n_tokens = (\d+)")


@dataclass(frozen=True)
class Request:
    """One request as the log tells it."""

    task: int
    prompt: int  # the prompt's tokens
    evaluated: int  # of those, computed
    generated: int
    prompt_seconds: float
    generation_seconds: float

    @property
    def reused(self) -> int:
        return max(self.prompt - self.evaluated, 0)


def requests(text: str) -> list[Request]:
    """The requests a server log reports, in order (one cut off before its release line is left out)."""
    found: list[Request] = []
    pending: dict[int, dict[str, float]] = {}
    for line in text.splitlines():
        task = _TASK.search(line)
        if task is None:
            continue
        number = int(task.group(1))
        if (m := _PROMPT.search(line)) is not None:
            pending[number] = {"prompt_ms": float(m.group(1)), "evaluated": int(m.group(2))}
        elif (m := _EVAL.search(line)) is not None and number in pending:
            pending[number].update(eval_ms=float(m.group(1)), generated=int(m.group(2)))
        elif (m := _RELEASE.search(line)) is not None and "generated" in pending.get(number, {}):
            seen = pending.pop(number)
            generated = int(seen["generated"])
            found.append(Request(number, int(m.group(1)) - generated + 1, int(seen["evaluated"]), generated,
                                 seen["prompt_ms"] / 1000, seen["eval_ms"] / 1000))
    return found


@dataclass(frozen=True)
class Summary:
    log: str
    requests: int
    prompt_tokens: int  # after the first request
    reused: int  # after the first request
    cache_share: float | None  # reused / prompt_tokens, after the first request
    prompt_seconds: float
    generation_seconds: float


def summary(path: Path) -> Summary:
    found = requests(path.read_text(errors="replace"))
    later = found[1:]
    prompt = sum(r.prompt for r in later)
    reused = sum(r.reused for r in later)
    return Summary(path.name, len(found), prompt, reused, round(reused / prompt, 4) if prompt else None,
                   round(sum(r.prompt_seconds for r in found), 1), round(sum(r.generation_seconds for r in found), 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.server_log", description=__doc__.splitlines()[0])
    parser.add_argument("logs", nargs="+", type=Path)
    parser.add_argument("--json", action="store_true", help="one JSON line per log")
    args = parser.parse_args(argv)
    total_prompt = total_reused = 0
    for path in args.logs:
        if not path.is_file():
            print(f"error: {path}: no such file", file=sys.stderr)
            return 2
        s = summary(path)
        total_prompt, total_reused = total_prompt + s.prompt_tokens, total_reused + s.reused
        if args.json:
            print(json.dumps(asdict(s)))
        else:
            share = "-" if s.cache_share is None else f"{s.cache_share:.0%}"
            print(f"{s.log}: {s.requests} requests, cache {share} of {s.prompt_tokens:,} prompt tokens after the "
                  f"first; prompt {s.prompt_seconds:.0f}s, generation {s.generation_seconds:.0f}s")
    if not args.json and total_prompt:
        print(f"all: cache {total_reused / total_prompt:.0%} of {total_prompt:,} prompt tokens after each first")
    return 0


if __name__ == "__main__":
    sys.exit(main())
