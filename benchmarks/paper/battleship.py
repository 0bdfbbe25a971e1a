"""Battleship (paper §1.2, Fig. 1): a policy of ``reason(map)`` and ``act(map, plan)``, both starting empty.

Score: the share of ship squares hit, a hit earning another shot, 25 misses ending a game, averaged
over the judge's three boards (higher is better). One program run is one evaluation of the policy on
those three boards. Sides, each given the same steps:
  autotrace   ``autotrace optimize policy.py --feedback judge.py``
  trace-opt   trace_opt/battleship.py (the Trace notebook's online loop; evaluated after each step)
  baseline    enumeration: shoot the squares in reading order (the paper's "enumerating" reference),
              on the same three boards and, as ``enumeration-100``, on boards 0..99
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

from .common import EXAMPLES, WORK, fresh_copy, run_autotrace, run_trace_opt

STEPS = 20
QUICK_STEPS = 3


def _game():
    path = str(EXAMPLES / "battleship")
    if path not in sys.path:
        sys.path.insert(0, path)
    import game

    return game


def enumerate_shots(map):
    """The first square not shot yet, in reading order."""
    for row, cells in enumerate(map):
        for col, cell in enumerate(cells):
            if cell == ".":
                return row, col
    return 0, 0


def baseline() -> list[dict[str, Any]]:
    game = _game()
    records = []
    for task, boards in (("boards0-2", range(3)), ("boards0-99", range(100))):
        started = time.perf_counter()
        shares = [(g := game.play(enumerate_shots, b))["hits"] / g["ship_squares"] for b in boards]
        records.append({"task": task, "score": statistics.mean(shares), "program_runs": 1, "tokens": 0,
                        "seconds": time.perf_counter() - started, "method": "enumeration (reading order)"})
    return records


def run_side(side: str, seed: int, steps: int, server: dict[str, Any] | None, quick: bool,
             tasks: str | None) -> list[dict[str, Any]]:
    """The run.py entry: one record (the three evaluation boards) per side and seed."""
    if side == "baseline":
        return baseline()
    assert server is not None
    if side == "trace-opt":
        result = run_trace_opt("battleship.py", ["--steps", str(steps), "--seed", str(seed)], server)
        if "error" in result:
            return [{"task": "boards0-2", "error": result["error"]}]
        return [{"task": "boards0-2", "score": result["best"], "final": result["final"],
                 "program_runs": result["program_runs"], "tokens": result["tokens"], "seconds": result["seconds"],
                 "curve": result["curve"], "values": result["values"]}]
    extra = ["--max-unchanged", "0", "--timeout", "120"] + (["--no-probe", "--no-measured-step"]
                                                             if side == "autotrace-llm" else [])
    run_dir = fresh_copy("battleship", WORK / "runs" / f"battleship-seed{seed}-{side}")
    result = run_autotrace(run_dir, "policy.py", steps, server, [*extra, "--seed", str(seed)])
    if "error" in result:
        return [{"task": "boards0-2", **result}]
    return [{"task": "boards0-2", "score": result["best"], "program_runs": result["program_runs"],
             "tokens": result["tokens"], "seconds": result["seconds"], "values": result["values"],
             "command": result["command"], "curve": result["curve"]}]
