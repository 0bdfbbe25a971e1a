"""Which answer format for code, measured: fenced blocks against code in a JSON string, side by side.

    python -m experiments.code_format [--tasks ...] [--seeds 2] [--steps 4] [--stop-at 15:10] [--out DIR]

Both arms are autotrace (``benchmarks.autotrace_side``, the same settings) with only
``Settings.code_format`` differing: "fenced" (the function in a ```python block, a free-text answer) or
"json" (the function as a string in the grammar-constrained JSON answer). One model server (autotrace's
LocalServer, or ``--base-url``) serves both, and the arms run interleaved task by task, the first arm
alternating, so the machine's load falls on both alike. The figures are counts, not wall times: answers,
answers rejected for a syntax error (and of those, code that came out of a JSON string), answers that
stopped at max_tokens and lost their code, runs solved, and the hidden-case pass rate of each run's
final function (:mod:`benchmarks.hidden_cases`). ``--stop-at HH:MM`` (UTC) starts no new task pair
after that time, so a run on a busy machine ends with whole pairs.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from autotrace.config import CODE_FORMATS

from benchmarks import harness, tasks

ARMS = CODE_FORMATS
CODE_TASKS = tuple(t.name for t in tasks.TASKS if t.kind == "code")


def answer_counts(run_dir: Path, max_tokens: int) -> dict[str, int]:
    """Per answer of the run's stored steps: answered at all, stopped at max_tokens, code lost to that
    limit, rejected for a syntax error, and of those, code that came out of a JSON string."""
    counts = {"answers": 0, "at_limit": 0, "code_cut_off": 0, "syntax": 0, "syntax_from_json": 0}
    json_arm = run_dir.name.endswith("-json")
    for record in harness.stored_steps(run_dir):
        if not record.response:
            continue
        counts["answers"] += 1
        counts["at_limit"] += record.completion_tokens >= max_tokens
        reasons = list(record.rejected.values())
        text = " ".join(reasons) + " " + record.note
        counts["code_cut_off"] += "max_tokens limit" in text
        syntax = [reason for reason in reasons if reason.startswith("syntax error")]
        counts["syntax"] += bool(syntax)
        counts["syntax_from_json"] += bool(syntax) and (json_arm or any("JSON string" in r for r in syntax))
    return counts


def summary(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per arm: the summed counts, runs solved, mean best visible score, hidden cases passed."""
    out = {}
    for arm in ARMS:
        mine = [r for r in runs if r.get("code_format") == arm]
        total = {key: sum(r["counts"][key] for r in mine) for key in
                 ("answers", "at_limit", "code_cut_off", "syntax", "syntax_from_json")}
        hidden = [r["hidden"] for r in mine if r.get("hidden") and "total" in r["hidden"]]
        best = [r["best_score"] for r in mine if r.get("best_score") is not None]
        out[arm] = {**total, "runs": len(mine), "solved": sum(1 for r in mine if r.get("solved")),
                    "visible": sum(best) / len(best) if best else None,
                    "hidden_passed": sum(h["passed"] for h in hidden), "hidden_total": sum(h["total"] for h in hidden),
                    "hidden_all": sum(1 for h in hidden if h["passed"] == h["total"]),
                    "errors": sum(1 for r in mine if r.get("error"))}
    return out


def paired(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs whose (task, seed) was run in both formats: a run cut short has no partner to compare."""
    arms: dict[tuple[str, int], set[str]] = {}
    for r in runs:
        arms.setdefault((r["task"], r["seed"]), set()).add(r["code_format"])
    return [r for r in runs if arms[(r["task"], r["seed"])] == set(ARMS)]


def table(runs: list[dict[str, Any]]) -> str:
    """The markdown tables: per arm over the task/seed pairs run in both formats, then per run."""
    both = paired(runs)
    rows = ["| format | runs | answers | rejected: syntax error | of which code from a JSON string | "
            "stopped at max_tokens | code lost to max_tokens | runs solved | mean best visible score | "
            "hidden cases passed | runs passing every hidden case |", "|" + "---|" * 11]
    for arm, s in summary(both).items():
        visible = "—" if s["visible"] is None else f"{s['visible']:.3f}"
        hidden = f"{s['hidden_passed']}/{s['hidden_total']}" + (
            f" ({s['hidden_passed'] / s['hidden_total']:.0%})" if s["hidden_total"] else "")
        rows.append(f"| {arm} | {s['runs']} | {s['answers']} | {s['syntax']} | {s['syntax_from_json']} | "
                    f"{s['at_limit']} | {s['code_cut_off']} | {s['solved']}/{s['runs']} | {visible} | {hidden} | "
                    f"{s['hidden_all']}/{s['runs']} |")
    rows += ["", "| task | seed | format | solved at step | best visible | hidden passed | answers | syntax | "
             "at max_tokens | scores by step | stopped |", "|" + "---|" * 11]
    for r in runs:
        c, h = r["counts"], r.get("hidden") or {}
        scores = " ".join("n/a" if s.get("score") is None else f"{s['score']:.2f}" for s in r.get("steps", []))
        stopped = (r.get("error") or r.get("stopped") or "").replace("|", "/")[:90]
        stopped += "" if r in both else " (its other format was not run: not in the totals)"
        rows.append(f"| {r['task']} | {r['seed']} | {r['code_format']} | {r.get('solved_step') if r.get('solved') else '—'} | "
                    f"{'—' if r.get('best_score') is None else format(r['best_score'], '.3f')} | {h.get('passed', '—')}/{h.get('total', '—')} | {c['answers']} | "
                    f"{c['syntax']} | {c['at_limit']} | {scores} | {stopped} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.code_format", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=list(CODE_TASKS), choices=CODE_TASKS)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=1024)
    parser.add_argument("--run-timeout", type=float, default=1200.0)
    parser.add_argument("--base-url", default=None)
    parser.add_argument("--model", default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--stop-at", default=None, metavar="HH:MM", help="UTC time after which no task pair starts")
    parser.add_argument("--out", type=Path, default=None, help="results folder (default .bench/results/<stamp>-code-format)")
    parser.add_argument("--render", type=Path, default=None, metavar="RESULTS.json", help="only print the tables")
    args = parser.parse_args(argv)
    if args.render:
        print(table(json.loads(args.render.read_text())["runs"]))
        return 0
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    out_dir = args.out or harness.BENCH / "results" / f"{stamp}-code-format"
    out_dir.mkdir(parents=True, exist_ok=True)
    say = lambda text: print(text, flush=True)  # noqa: E731
    command = "python -m experiments.code_format " + shlex.join(argv if argv is not None else sys.argv[1:])
    results: dict[str, Any] = {"command": command, "stamp": stamp, "runs": []}
    stop = None
    if args.stop_at:
        hour, minute = map(int, args.stop_at.split(":"))
        stop = datetime.now(timezone.utc).replace(hour=hour, minute=minute, second=0, microsecond=0)
    with harness.model_server(args.base_url, args.model, args.threads, say) as server:
        results["server"] = server
        for seed in range(args.seeds):
            for index, name in enumerate(args.tasks):
                if stop is not None and datetime.now(timezone.utc) >= stop:
                    say(f"stopped at {args.stop_at} UTC before {name} seed {seed}")
                    results["stopped_early"] = f"{name} seed {seed}"
                    break
                task = tasks.get(name)
                for arm in ARMS if (index + seed) % 2 == 0 else ARMS[::-1]:
                    say(f"  {name} seed {seed} {arm} ...")
                    result = harness.run_task(task, "autotrace", seed, args.steps, server, out_dir, None,
                                              args.run_timeout, args.max_tokens, code_format=arm)
                    result["counts"] = answer_counts(Path(result["run_dir"]), args.max_tokens)
                    results["runs"].append(result)
                    say(f"    solved={result.get('solved')} best={result.get('best_score')} "
                        f"hidden={(result.get('hidden') or {}).get('passed')} counts={result['counts']}")
                    (out_dir / "results.json").write_text(json.dumps(results, indent=1, default=str))
            else:
                continue
            break
    print(table(results["runs"]))
    print(f"raw: {out_dir / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
