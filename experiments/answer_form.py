"""The same stored question asked in other answer forms: how many tokens each answer takes, where they go,
and whether its function still passes the task's hidden cases.

For each run directory, the whole-program question of its first step (the messages the step record kept)
is asked again at temperature 0, seed 0, no response cache, in each ``--forms``:

* ``asked``: the messages as stored, max_tokens 1024;
* ``stop``: the same, the answer ended at the first closing code fence (:data:`ONE_FUNCTION_STOP`);
* ``rule``: the answer format of the branch's code (its prompt files) and the stop;
* ``short``: as ``rule``, the reasoning asked "in one short sentence" instead of three.

Each answer is split by :func:`benchmarks.answer_parts.split_answer` and its function run on the task's
hidden cases. Usage (under the model lock)::

    flock /work/model.lock python -m experiments.answer_form RUN_DIR [RUN_DIR ...] [--forms asked stop rule]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

from autotrace.llm.client import LLM, LLMConfig, Sampling
from autotrace.optimizers.base import answer_format
from autotrace.optimizers.code_answer import ONE_FUNCTION_STOP, parse_code_answer
from autotrace.params import ParamKind, ParamSpec
from benchmarks.answer_parts import split_answer
from benchmarks.harness import model_server, stored_steps
from benchmarks.hidden_cases import check_function
from benchmarks.tasks import get

_FORMAT = re.compile(r"\nAnswer in this format\..*\Z", re.DOTALL)


def task_of(run: Path) -> str:
    return run.name.split("-seed")[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--forms", nargs="+", default=["asked", "stop", "rule"])
    parser.add_argument("--speculative", default="", help="the embedded server's speculative decoding")
    parser.add_argument("--base-url")
    parser.add_argument("--model")
    args = parser.parse_args(argv)
    with model_server(args.base_url, args.model, None, speculative=args.speculative) as server:
        llm = LLM(LLMConfig(model=server["model"], base_url=server["base_url"], api_key=None, timeout=900))
        for run in args.runs:
            steps = stored_steps(run)
            first = next(r for r in steps if r.step == 1 and r.prompt)
            start = steps[0].values
            name, source = next((k, v) for k, v in start.items() if "def " in v)
            module, _, qualname = name.rpartition(".")
            spec = ParamSpec(key=f"{module}.py::{qualname}", path=Path(f"{module}.py"), module=module,
                             qualname=qualname, kind=ParamKind.CODE, description="", initial=source, line=1)
            task = get(task_of(run))
            for form in args.forms:
                messages = [dict(m) for m in first.prompt]
                if form in ("rule", "short"):
                    fmt = answer_format([spec], {name: source}, code_as_code=True)
                    if form == "short":
                        fmt = fmt.replace("in at most three short sentences", "in one short sentence")
                    messages[-1]["content"] = _FORMAT.sub("\n" + fmt, messages[-1]["content"])
                stop = ONE_FUNCTION_STOP if form != "asked" else ()
                reply = llm.complete_text(messages, sampling=Sampling(0.0, 0), stop=stop)
                answer = parse_code_answer(reply.text, [spec], {name: source})
                code = answer.data["suggestion"].get(name)
                with tempfile.TemporaryDirectory() as folder:
                    hidden = check_function(task, code, Path(folder) / "t") if code else {}
                print(json.dumps({"run": run.name, "form": form, "speculative": args.speculative, "completion_tokens": reply.completion_tokens,
                                  "prompt_tokens": reply.prompt_tokens,
                                  "generation_seconds": round(reply.timings.generation_seconds, 1),
                                  "parts": split_answer(reply.text, [source]), "hidden": hidden,
                                  "problems": answer.problems, "text": reply.text}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
