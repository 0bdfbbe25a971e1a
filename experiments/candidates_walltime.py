"""Wall time of one step's N answers (``--candidates N``) against one answer, on the embedded model.

For each N the embedded server is started through the project's own code (``LocalServer`` with N
slots, each with today's context), warmed with one request, then asked for one optimizer step of
examples/fix_bug (its real first prompt) with N samplings, concurrently as the loop asks them, with
no response cache. Startup is not timed. Printed side by side, with the ratio to N = 1::

    python -m experiments.candidates_walltime --n 1 2 4 --repeats 2
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from autotrace.llm.client import LLM, LLMConfig, Sampling, derived_seed
from autotrace.llm.provision import resolve_gguf
from autotrace.llm.server import LocalServer
from autotrace.optimizers import OPTIMIZERS
from autotrace.runners.optimize import SAMPLE_TEMPERATURE, Settings, prepare

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fix_bug"


def step_seconds(n: int, repeats: int, gguf: Path) -> tuple[list[float], int]:
    """Seconds of each repeat of one step with ``n`` answers, and the completion tokens of the last."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "fix_bug"
        shutil.copytree(EXAMPLE, root)
        settings = Settings(target=root / "stats.py", judge=root / "judge.py")
        project, initial = prepare(settings)
        config = LLMConfig(model="local", base_url=None, api_key=None)
        with LocalServer(gguf, n_ctx=config.context_tokens, slots=n) as server:
            config = LLMConfig(model=server.model_name, base_url=server.base_url, api_key="local", timeout=900)
            with LLM(config) as llm:
                llm.complete_text([{"role": "user", "content": "Say hi."}])  # load and warm the model
                times, tokens = [], 0
                for repeat in range(repeats):
                    optimizer = OPTIMIZERS["optoprime"](project.params, llm)
                    for feedback in initial.feedbacks():
                        optimizer.backward(feedback)
                    samplings = [Sampling(0.0 if i == 0 else SAMPLE_TEMPERATURE, derived_seed(repeat, 1, i))
                                 for i in range(n)]
                    started = time.perf_counter()
                    proposals = optimizer.step_many(samplings)
                    times.append(time.perf_counter() - started)
                    tokens = sum(p.completion_tokens for p in proposals)
    return times, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    gguf = resolve_gguf(None, "1.5b")
    rows = [(n, *step_seconds(n, args.repeats, gguf)) for n in args.n]
    base = statistics.median(rows[0][1])
    print("| answers per step (N) | step wall time, s (median) | vs N=1 | per answer, s | completion tokens |")
    print("|---|---|---|---|---|")
    for n, times, tokens in rows:
        median = statistics.median(times)
        print(f"| {n} | {median:.1f} ({', '.join(f'{t:.1f}' for t in times)}) | {median / base:.2f}x "
              f"| {median / n:.1f} | {tokens} |")


if __name__ == "__main__":
    main()
