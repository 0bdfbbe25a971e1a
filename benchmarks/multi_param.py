"""Fresh multi-parameter tasks, before and after the graph's credit (issue #33 item 4).

Why: the issue measured that on programs with several marked parameters the search kept rewriting one
of them and never touched the one the wrong outputs came from. Items 1-3 made the backward pass pick
the parameter the failing outputs depend on; this benchmark checks it on four tasks written for it and
never tuned on (their hidden cases are seen by no prompt, no judge and no one choosing a setting):

* ``cart``: a class with two marked methods, both wrong; the output is what ``total()`` returns, the
  other bug (``add()``) reaches it only through the object's state.
* ``grid_agent``: a two-function agent, ``reason`` reads a board and ``act`` picks the move; both wrong.
* ``word_pipeline``: three marked functions in a row, the bug only in the middle one (``count``).
* ``record_format``: a text template constant and the parser of what it writes, both needing a change
  (the "prompt and parser" shape without a model call: the tasks run with no model set up).

Each task is run as a user would: ``autotrace optimize program.py --feedback judge.py --steps 3
--no-cache`` in a copy of its folder (``program.py`` and ``judge.py`` only), once per arm: ``after``
(this checkout's ``.venv/bin/autotrace``) and ``before`` (``/work/wt-before``, the code before the
credit), on the embedded model, seed 0 (``--seed N`` runs the after arm with another). Then the
run's patch is applied in the copy and a child Python imports the patched program and scores it on the
judge's examples (solved: all 1) and on the hidden cases. From ``autotrace show RUN_ID --json`` come
the parameters each step's answers changed, the share of new answers per step, tokens, and whether
the best came from an LLM answer or the numeric search (a ``measured step`` note).

    python -m benchmarks.multi_param [--arms after,before] [--tasks cart,...] [--steps 3]

Writes one JSON line per task and arm to ``benchmarks/results/multi_param.jsonl`` (appended, so the
arms can be run one after the other) and prints a table. Runs one optimization at a time: on a
shared 2-core machine two local-model runs would measure each other.

The correct values are :data:`SOLUTIONS`: ``tests/test_multi_param.py`` checks that they pass every
visible and hidden case and that the original values do not, so a task is solvable and not solved.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TASKS_DIR = Path(__file__).resolve().parent / "multi_tasks"
RESULTS = Path(__file__).resolve().parent / "results" / "multi_param.jsonl"
TASKS = ("cart", "grid_agent", "word_pipeline", "record_format")
ARMS = {"after": ROOT / ".venv" / "bin" / "autotrace",
        "before": Path("/work/wt-before/.venv/bin/autotrace")}

#: The parameters that must change for a task to be solved (the last part of autotrace's name).
MUST_CHANGE = {
    "cart": ("Cart.add", "Cart.total"),
    "grid_agent": ("reason", "act"),
    "word_pipeline": ("count",),
    "record_format": ("TEMPLATE", "parse"),
}

#: A correct value for each parameter that must change: source of the function (a method as it would
#: stand in its class, unindented), or the constant's value. Checked, never shown to the optimizer.
SOLUTIONS: dict[str, dict[str, Any]] = {
    "cart": {
        "Cart.add": '''\
def add(self, item, qty, price):
    old = self.lines.get(item, (0, price))[0]
    self.lines[item] = (old + qty, price)
''',
        "Cart.total": '''\
def total(self):
    subtotal = sum(qty * price for qty, price in self.lines.values())
    if subtotal >= 50:
        subtotal = subtotal * 0.9
    return round(subtotal, 2)
''',
    },
    "grid_agent": {
        "reason": '''\
def reason(board):
    found = {}
    for row, line in enumerate(board):
        for col, cell in enumerate(line):
            if cell == "P":
                found["player"] = (row, col)
            elif cell == "T":
                found["target"] = (row, col)
    return found
''',
        "act": '''\
def act(state):
    (pr, pc), (tr, tc) = state["player"], state["target"]
    if tr > pr:
        return "down"
    if tr < pr:
        return "up"
    if tc > pc:
        return "right"
    return "left"
''',
    },
    "word_pipeline": {
        "count": '''\
def count(tokens):
    counts = {}
    for word in tokens:
        counts[word] = counts.get(word, 0) + 1
    return counts
''',
    },
    "record_format": {
        "TEMPLATE": "name={name}; age={age}; city={city}",
        "parse": '''\
def parse(line):
    fields = dict(part.split("=", 1) for part in line.split("; "))
    return {"name": fields["name"], "age": int(fields["age"]), "city": fields["city"]}
''',
    },
}

#: Run in a child Python in the task's copy: load the (patched) program, score it on the judge's
#: examples and on the hidden cases. argv: program dir, task dir (for hidden.py), JSON of values to
#: put in before running ({} for the program as it stands; the tests give the solutions).
_SCORER = r'''
import json, runpy, sys, textwrap
folder, task, values = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.path.insert(0, folder)
program = runpy.run_path(folder + "/program.py", run_name="multi_param_program")
program = program["main"].__globals__  # run_path returns a copy: main reads its own globals
for name, value in values.items():
    if isinstance(value, str) and value.lstrip().startswith("def "):
        space = {}
        exec(compile(textwrap.dedent(value), "<solution " + name + ">", "exec"), program, space)
        function = next(iter(space.values()))
        if "." in name:
            cls, attr = name.split(".", 1)
            setattr(program[cls], attr, function)
        else:
            program[name] = function
    else:
        program[name] = value
main = program["main"]
judge = runpy.run_path(folder + "/judge.py")
hidden = runpy.run_path(task + "/hidden.py")
def call(example):
    try:
        return main(example)
    except Exception as exc:
        return "(%s) %s" % (type(exc).__name__, exc)
visible = []
for example in judge["examples"]():
    output = call(example)
    try:
        visible.append(float(judge["feedback"](output, example)[0]))
    except Exception:
        visible.append(0.0)
passed = [bool(hidden["passes"](call(case), expected)) for case, expected in hidden["CASES"]]
print(json.dumps({"visible": visible, "hidden_passed": sum(passed), "hidden_total": len(passed)}))
'''


def score_folder(folder: Path, task: str, values: dict[str, Any] | None = None, timeout: float = 60) -> dict[str, Any]:
    """The program in ``folder`` (with ``values`` put in) scored on the judge's examples and the task's
    hidden cases, in a child process: the program's code is the run's candidate, not ours to run here."""
    proc = subprocess.run([sys.executable, "-c", _SCORER, str(folder), str(TASKS_DIR / task), json.dumps(values or {})],
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": tail, "visible": [], "hidden_passed": 0, "hidden_total": 0}
    return json.loads(proc.stdout)


def lay_out(task: str, folder: Path) -> None:
    """A copy of the task as the optimizer may see it: program and judge, no hidden cases; an empty
    pyproject.toml makes the copy its own project root (its own run store, no config from above)."""
    folder.mkdir(parents=True)
    for name in ("program.py", "judge.py"):
        shutil.copy(TASKS_DIR / task / name, folder / name)
    (folder / "pyproject.toml").write_text("")


def _short(name: str) -> str:
    """A parameter's name without its file or module part (``program.Cart.add`` -> ``Cart.add``)."""
    name = name.split("::")[-1]
    return name[len("program."):] if name.startswith("program.") else name


def _same(a: str | None, b: str | None) -> bool:
    """Two values' texts are the same value: equal, or code with equal ASTs (an answer that only drops
    the marker comment or re-indents the docstring changed nothing)."""
    if a == b:
        return True
    if a is None or b is None:
        return False
    try:
        return ast.dump(ast.parse(textwrap.dedent(a))) == ast.dump(ast.parse(textwrap.dedent(b)))
    except SyntaxError:
        return False


def answers_of(step: dict[str, Any]) -> list[dict[str, str]]:
    """The values each of a step's answers proposed: the kept one (``candidate``), then the others
    (``other_answers``: further candidates and the asks again)."""
    answers = [dict(step.get("candidate") or {})] if step.get("response") or step.get("candidate") else []
    answers += [dict(a.get("candidate") or {}) for a in step.get("other_answers") or []]
    return answers


def step_summary(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per step after the initial values: the parameters its answers changed, how many answers it had
    and how many were new (changed something and proposed a set of values not seen before in the run:
    as the engine counted them when the step record has them, else read from the stored answers), its
    score, tokens, seconds and note."""
    if not steps:
        return []
    seen = [dict(steps[0]["values"])]
    out = []
    for previous, step in zip(steps, steps[1:], strict=False):
        base = dict(previous["values"])
        changed: set[str] = set()
        answers = answers_of(step)
        new = 0
        for answer in answers:
            differs = {name for name, text in answer.items() if not _same(base.get(name), text)}
            changed |= differs
            values = {**base, **{name: answer[name] for name in differs}}
            if differs and not any(_same_values(values, other) for other in seen):
                new += 1
                seen.append(values)
        if not any(_same_values(dict(step["values"]), other) for other in seen):
            seen.append(dict(step["values"]))
        note = step.get("note") or ""
        if step.get("new_answers") is not None:  # counted by the engine as it evaluated them
            new, answers = step["new_answers"], [{}] * step["answers"]
        out.append({"step": step["step"], "score": step.get("score"), "answers": len(answers), "new": new,
                    "changed": sorted(_short(n) for n in changed),
                    "tokens": (step.get("prompt_tokens") or 0) + (step.get("completion_tokens") or 0),
                    "seconds": round(step.get("seconds") or 0.0, 1), "note": note,
                    "measured": note.startswith("measured step")})
    return out


def _same_values(a: dict[str, str], b: dict[str, str]) -> bool:
    return a.keys() == b.keys() and all(_same(a[name], b[name]) for name in a)


def run_one(task: str, arm: str, steps: int, work: Path, timeout: float,
            server: dict[str, str] | None = None, seed: int = 0) -> dict[str, Any]:
    """One optimization of ``task`` with ``arm``'s autotrace, and what it gave. ``server`` (its base_url and
    model): the model the run asks, instead of the embedded one autotrace starts itself; ``seed``: the run's
    ``--seed`` (the before arm predates the option and runs seed 0 only)."""
    binary = ARMS[arm]
    folder = work / f"{task}-{arm}-seed{seed}"
    lay_out(task, folder)
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    command = [str(binary), "optimize", "program.py", "--feedback", "judge.py", "--steps", str(steps), "--no-cache"]
    if seed:
        if arm == "before":
            raise ValueError("the before arm has no --seed option: it runs seed 0 only")
        command += ["--seed", str(seed)]
    if server is not None:
        command += ["--model", server["model"], "--base-url", server["base_url"]]
        env["OPENAI_API_KEY"] = "local"
    load = os.getloadavg()[0]
    started = time.perf_counter()
    try:
        proc = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=timeout)
        exit_code, stderr = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired as exc:
        raw = exc.stderr or b""
        exit_code, stderr = None, raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    seconds = time.perf_counter() - started
    result: dict[str, Any] = {"task": task, "arm": arm, "seed": seed, "steps_budget": steps, "exit_code": exit_code,
                              "seconds": round(seconds, 1), "command": " ".join(command), "folder": str(folder),
                              "load": load}
    result["stderr_tail"] = stderr.strip().splitlines()[-4:]
    return describe(result, task, arm, folder)


def describe(result: dict[str, Any], task: str, arm: str, folder: Path) -> dict[str, Any]:
    """What the run stored in ``folder`` gave: its patch applied (once: a program already patched is
    left as it is), the patched program scored, and the steps read from ``autotrace show --json``."""
    binary = ARMS[arm]
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    runs = sorted((folder / ".autotrace" / "runs").glob("*")) if (folder / ".autotrace" / "runs").is_dir() else []
    if not runs:
        result.update(error="no run stored")
        return result
    run_id = runs[-1].name
    shown = subprocess.run([str(binary), "show", run_id, "--json"], cwd=folder, env=env, capture_output=True, text=True)
    record = json.loads(shown.stdout) if shown.returncode == 0 else {"steps": []}
    steps_done = record["steps"]
    patch = runs[-1] / "patch.diff"
    applied = result.get("applied") or ""
    original = (TASKS_DIR / task / "program.py").read_text() == (folder / "program.py").read_text()
    if original and patch.is_file() and patch.read_text().strip():
        done = subprocess.run([str(binary), "apply", run_id], cwd=folder, env=env, capture_output=True, text=True)
        applied = (done.stdout + done.stderr).strip()
    best_step = _best_step(steps_done)
    if result.get("partial") and best_step:
        # a run stopped before its end wrote no patch: score the best values it had stored
        start, best = steps_done[0]["values"], steps_done[best_step]["values"]
        scored = score_folder(folder, task, {_short(n): t for n, t in best.items() if not _same(start.get(n), t)})
    else:
        scored = score_folder(folder, task)
    per_step = step_summary(steps_done)
    first3 = set().union(*[set(s["changed"]) for s in per_step[:3]]) if per_step else set()
    result.update(
        run_id=run_id, applied=applied or "no patch",
        visible=scored.get("visible"), solved=bool(scored.get("visible")) and all(v == 1 for v in scored["visible"]),
        visible_score=round(sum(scored["visible"]) / len(scored["visible"]), 3) if scored.get("visible") else None,
        hidden_passed=scored.get("hidden_passed"), hidden_total=scored.get("hidden_total"),
        hidden_rate=round(scored["hidden_passed"] / scored["hidden_total"], 3) if scored.get("hidden_total") else None,
        score_error=scored.get("error"),
        must_change=list(MUST_CHANGE[task]),
        must_changed_in_3={name: name in first3 for name in MUST_CHANGE[task]},
        steps=per_step,
        new_per_step=[f"{s['new']}/{s['answers']}" for s in per_step],
        tokens=sum(s["tokens"] for s in per_step),
        seconds=result.get("seconds") or round(sum(s["seconds"] for s in per_step), 1),
        best_step=best_step,
        best_from=(None if best_step is None else "initial" if best_step == 0
                   else "measured" if per_step[best_step - 1]["measured"] else "llm"),
    )
    return result


def _best_step(steps: list[dict[str, Any]]) -> int | None:
    """The first step whose score is the run's best (0: the initial values were never beaten)."""
    scored = [(float(s["score"]), s["step"]) for s in steps if isinstance(s.get("score"), (int, float))]
    if not scored:
        return None
    top = max(score for score, _ in scored)
    return min(step for score, step in scored if score == top)


def table(rows: list[dict[str, Any]]) -> str:
    """The results as a plain-text table, one line per task and arm."""
    head = ("task", "arm", "solved", "visible", "hidden", "changed in steps 1-3", "must change ok", "new/step",
            "tokens", "seconds", "best from")
    lines = [head]
    for r in rows:
        changed = "; ".join(f"{s['step']}:{','.join(s['changed']) or '-'}" for s in r.get("steps", []))
        ok = "yes" if r.get("must_changed_in_3") and all(r["must_changed_in_3"].values()) else "no"
        lines.append((r["task"], r["arm"], "yes" if r.get("solved") else "no", str(r.get("visible_score")),
                      f"{r.get('hidden_passed')}/{r.get('hidden_total')}", changed, ok,
                      " ".join(r.get("new_per_step", [])), str(r.get("tokens")), str(r.get("seconds")),
                      str(r.get("best_from"))))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) for line in lines)


def _run_model(line: dict[str, Any]) -> str:
    """The model the run asked, from its stored config (a long run's log tail no longer names it)."""
    from autotrace.store import RunStore, StoreError

    db = Path(line.get("folder") or "/nonexistent") / ".autotrace" / "autotrace.db"
    if not db.is_file() or not line.get("run_id"):
        return "unknown"
    try:
        with RunStore(db) as store:
            run = store.get_run(line["run_id"])
    except (StoreError, OSError, KeyError):
        run = None
    return run.config.model if run is not None and run.config.model else "unknown"


def _before_commit() -> str:
    """The short commit the ``before`` arm's checkout is at."""
    checkout = ARMS["before"].parents[2]
    found = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return found.stdout.strip() or f"before ({checkout})"


def _record(line: dict[str, Any], steps: int, record: Path, model: str | None) -> None:
    """Append the run's typed row to ``record`` (benchmarks/results/quality.jsonl: what BENCHMARKS.md is
    made from). ``model``: the one the run was given (None: the embedded one its log names)."""
    from benchmarks import rows as quality

    model = model or _run_model(line)
    if line["arm"] == "after":
        command = (f"python -m benchmarks --sections quality --tasks {line['task']} --seeds 1 "
                   f"--first-seed {line.get('seed', 0)} --sides autotrace --steps {steps}")
    else:
        command = f"python -m benchmarks.multi_param --arms {line['arm']} --tasks {line['task']} --steps {steps}"
    commit = quality.head_commit() if line["arm"] == "after" else _before_commit()
    quality.append([quality.from_multi_param(line, commit=commit, model=model, command=command,
                                             load=line.get("load"))], record)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arms", default="after,before")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0, help="the runs' --seed (the after arm only)")
    parser.add_argument("--timeout", type=float, default=2400.0, help="seconds one optimization may take")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--base-url", default=None, help="an OpenAI-compatible server the runs ask (default: the "
                        "embedded model, which each run starts)")
    parser.add_argument("--model", default="local", help="its model name")
    parser.add_argument("--record", type=Path, default=ROOT / "benchmarks" / "results" / "quality.jsonl",
                        help="where each run's typed row is appended")
    parser.add_argument("--no-record", dest="record", action="store_const", const=None, help="append no rows")
    parser.add_argument("--redescribe", action="store_true",
                        help="no new run: describe again the stored run of every line of --out (after a fix of "
                             "this script's reading), rewriting the file")
    parser.add_argument("--partial", nargs=3, metavar=("FOLDER", "TASK", "ARM"),
                        help="no new run: describe a run still under way (or killed) from what its store holds")
    args = parser.parse_args(argv)
    if args.partial:
        folder, task, arm = Path(args.partial[0]), args.partial[1], args.partial[2]
        steps_stored = len(json.loads(subprocess.run(
            [str(ARMS[arm]), "show", sorted((folder / ".autotrace" / "runs").glob("*"))[-1].name, "--json"],
            cwd=folder, capture_output=True, text=True).stdout)["steps"]) - 1
        row = describe({"task": task, "arm": arm, "seed": 0, "steps_budget": args.steps, "folder": str(folder),
                        "partial": f"stopped at the deadline after {steps_stored} of {args.steps} steps: no patch; "
                                   "visible and hidden are the best stored values'"}, task, arm, folder)
        row["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
        with args.out.open("a") as out:
            out.write(json.dumps(row) + "\n")
        print(table([row]))
        return 0
    if args.redescribe:
        rows = [json.loads(line) for line in args.out.read_text().splitlines() if line.strip()]
        rows = [{**describe(row, row["task"], row["arm"], Path(row["folder"])), "redescribed": True} for row in rows]
        args.out.write_text("".join(json.dumps(row) + "\n" for row in rows))
        print(table(rows))
        return 0
    work = Path(tempfile.mkdtemp(prefix="multi_param-"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for arm in args.arms.split(","):
        for task in args.tasks.split(","):
            print(f"{time.strftime('%H:%M:%S')} {task} {arm} ...", file=sys.stderr, flush=True)
            server = {"base_url": args.base_url, "model": args.model} if args.base_url else None
            row = run_one(task, arm, args.steps, work, args.timeout, server, args.seed)
            row["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
            with args.out.open("a") as out:
                out.write(json.dumps(row) + "\n")
            rows.append(row)
            if args.record is not None:
                _record(row, args.steps, args.record, args.model if args.base_url else None)
            print(table([row]).splitlines()[1], file=sys.stderr, flush=True)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
