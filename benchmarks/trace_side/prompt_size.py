"""trace-opt's OptoPrime prompt for a chain of N recorded calls (run with the trace-opt venv's python).

    python prompt_size.py N OUT.json

Builds the chain with ``@bundle()`` calls on a trainable node, sends the feedback with
``backward``, and asks OptoPrime for its prompt the way ``step()`` does (``summarize`` then
``construct_prompt`` then ``replace_symbols``), without calling an LLM.
"""

import json
import os
import sys
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from opto.optimizers import OptoPrime  # noqa: E402
from opto.trace import bundle, node  # noqa: E402
from opto.utils.llm import AbstractModel  # noqa: E402

FEEDBACK = "The output is {output:g} but should be 2.0."


@bundle()
def grow(x, rate):
    """Multiply x by rate."""
    return x * rate


def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    rate = node(1.001, name="RATE", trainable=True, constraint="growth factor applied at each step")
    started = time.perf_counter()
    x = 1.0
    for _ in range(n):
        x = grow(x, rate)
    run_seconds = time.perf_counter() - started
    optimizer = OptoPrime([rate], llm=AbstractModel(lambda: None))
    started = time.perf_counter()
    optimizer.zero_feedback()
    optimizer.backward(x, FEEDBACK.format(output=x.data))
    summary = optimizer.summarize()
    system, user = optimizer.construct_prompt(summary)
    system = optimizer.replace_symbols(system, optimizer.prompt_symbols)
    user = optimizer.replace_symbols(user, optimizer.prompt_symbols)
    prompt_seconds = time.perf_counter() - started
    with open(out, "w") as handle:
        json.dump({"n": n, "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
                   "run_seconds": run_seconds, "prompt_seconds": prompt_seconds}, handle)


if __name__ == "__main__":
    main()
