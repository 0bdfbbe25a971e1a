"""The reflective question against the whole-problem prompt, answer by answer, on the code tasks.

For each task (at ``--seed``) the program runs once with its own function (autotrace's ``prepare``);
then both questions about that run are asked ``--samples`` times each at temperature 0.8 (seeds
1..K), one at a time, with no response cache: the whole problem (OptoPrime's prompt, as a step's
first question shows it) and the reflective question about the task's function
(:mod:`autotrace.optimizers.reflect`). Each answer's function is run on the task's visible cases
(the judge, through autotrace's evaluation) and on its hidden cases. Printed side by side::

    python -m experiments.reflect_vs_whole --tasks roman slugify --samples 3 [--base-url URL --model M]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from autotrace.llm.client import LLM, LLMConfig, Sampling, derived_seed
from autotrace.optimizers import OPTIMIZERS
from autotrace.optimizers.base import Proposal
from autotrace.optimizers.reflect import reflect
from autotrace.params import ParamKind
from autotrace.project import Project
from autotrace.runners.program_runs import make_job, run_evaluation
from autotrace.runners.optimize import SAMPLE_TEMPERATURE, Settings, prepare

from benchmarks.harness import model_server
from benchmarks.hidden_cases import check_function
from benchmarks.tasks import Task, get


def answers(task_name: str, seed: int, samples: int, server: dict, out: Path) -> dict[str, list[dict]]:
    """Per question ("whole", "reflective"): each answer's visible score, hidden cases passed and tokens."""
    task = get(task_name)
    os.environ["BENCH_SEED"] = str(seed)
    root = out / task_name
    program = task.lay_out("autotrace", root)
    settings = Settings(target=program, judge=root / "judge.py")
    project, initial = prepare(settings)
    (spec,) = [p for p in project.params if p.kind is ParamKind.CODE]
    config = LLMConfig(model=server["model"], base_url=server["base_url"], api_key="local", timeout=1800)
    results: dict[str, list[dict]] = {"whole": [], "reflective": []}
    with LLM(config) as llm:
        for k in range(1, samples + 1):
            sampling = Sampling(SAMPLE_TEMPERATURE, derived_seed(seed, "compare", k))
            whole = OPTIMIZERS["optoprime"](project.params, llm)
            for feedback in initial.feedbacks():
                whole.backward(feedback)
            asked = {"whole": whole.step_many([sampling])[0],
                     "reflective": reflect(llm, spec, spec.initial, initial.feedbacks(), whole.budget_tokens, sampling)}
            for question, proposal in asked.items():
                results[question].append(_judged(task, settings, project, proposal, spec.name, root / f"{question}-{k}"))
                print(f"  {task_name} {question} {k}: {json.dumps(results[question][-1])}", flush=True)
    return results


def _judged(task: Task, settings: Settings, project: Project, proposal: Proposal, name: str, folder: Path) -> dict:
    row = {"tokens": proposal.prompt_tokens + proposal.completion_tokens, "seconds": round(proposal.seconds, 1)}
    if name not in proposal.values:
        why = proposal.error or "; ".join(sorted(set(proposal.rejected.values()))) or "no change"
        return {**row, "visible": None, "hidden": None, "why": why[:200]}
    values = {p.name: p.initial for p in project.params} | proposal.values
    evaluation = run_evaluation(make_job(project, settings.target, settings.entry, settings.judge, values),
                                settings.limits, isolated=settings.isolated)
    hidden = check_function(task, proposal.values[name], folder)
    return {**row, "visible": evaluation.score, "hidden": hidden.get("passed", 0), "of": hidden.get("total")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["roman", "slugify"])
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--base-url")
    parser.add_argument("--model")
    parser.add_argument("--threads", type=int)
    args = parser.parse_args()
    started = time.perf_counter()
    rows = []
    with model_server(args.base_url, args.model, args.threads) as server, tempfile.TemporaryDirectory() as folder:
        for name in args.tasks:
            results = answers(name, args.seed, args.samples, server, Path(folder))
            for question, found in results.items():
                right = sum(r["visible"] == 1.0 and r["hidden"] == r["of"] for r in found)
                rows.append(f"| {name} | {question} | {right} of {len(found)} | "
                            + ", ".join("—" if r["visible"] is None else f"{r['visible']:.2f} / {r['hidden']}"
                                        for r in found)
                            + f" | {sum(r['tokens'] for r in found):,} |")
    print("\n| task | question | right on every case | each answer: visible score / hidden passed | tokens |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\n{time.perf_counter() - started:.0f} s, seed {args.seed}, {args.samples} samples per question")


if __name__ == "__main__":
    main()
