"""Run the paper's experiments side by side and append one JSON line per run to a results file.

    python -m benchmarks.paper.run --experiment numeric_graphs --side baseline --seeds 0
    python -m benchmarks.paper.run --experiment battleship --side autotrace --side trace-opt --seeds 0,1 --quick

Every side gets the same model server (``--base-url``, else the embedded model started once) and the
same number of steps. Sides: autotrace, autotrace-llm (no probes, no measured search), trace-opt,
baseline (the experiment's classic method(s)). Lines go to benchmarks/results/paper.jsonl (``--out``).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

from .common import RESULTS, append_result, commit

EXPERIMENTS = ("numeric_graphs", "battleship", "traffic")
SIDES = ("autotrace", "autotrace-llm", "trace-opt", "baseline")


def _server(base_url: str | None, model: str | None, needed: bool):
    if not needed:
        return contextlib.nullcontext(None)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from benchmarks.harness import model_server

    return model_server(base_url, model, None, say=lambda text: print(text, file=sys.stderr))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", choices=EXPERIMENTS, required=True)
    parser.add_argument("--side", choices=SIDES, action="append", required=True)
    parser.add_argument("--seeds", default="0", help="comma-separated seeds")
    parser.add_argument("--steps", type=int, help="optimization steps (default: the paper's)")
    parser.add_argument("--tasks", help="numeric_graphs: comma-separated graph numbers (default: 0..29)")
    parser.add_argument("--quick", action="store_true", help="a few steps on a small instance (the slow test's)")
    parser.add_argument("--base-url", help="an OpenAI-compatible server (default: the embedded model)")
    parser.add_argument("--model", help="its model name")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds must be comma-separated integers, got {args.seeds!r}")

    from . import battleship, numeric, traffic

    module = {"numeric_graphs": numeric, "battleship": battleship, "traffic": traffic}[args.experiment]
    steps = args.steps or (module.QUICK_STEPS if args.quick else module.STEPS)
    needs_llm = any(side != "baseline" for side in args.side)
    head = commit()
    with _server(args.base_url, args.model, needs_llm) as server:
        for seed in seeds:
            for side in args.side:
                started = time.perf_counter()
                records = module.run_side(side, seed, steps, server, args.quick, args.tasks)
                for record in records:
                    line = {"commit": head, "experiment": args.experiment, "side": side,
                            "model": server["model"] if server and side != "baseline" else None, "seed": seed,
                            "steps": steps, "quick": args.quick, **record}
                    append_result(args.out, line)
                    print(f"{args.experiment} {side} seed {seed} {record.get('task')}: score={record.get('score')} "
                          f"runs={record.get('program_runs')} tokens={record.get('tokens')}"
                          + (f" error: {record['error']}" if record.get("error") else ""), file=sys.stderr)
                print(f"  ({side}, seed {seed}: {time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
