"""trace-opt's per-call cost (run with the trace-opt venv's python); prints one JSON line.

    python overhead.py N

Times N calls of a trivial function and of a small "realistic" one, plain and wrapped by
``@bundle()`` (each call creates a MessageNode: trace-opt records while it runs), in this process.
"""

import json
import os
import sys
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from opto.trace import bundle, stop_tracing  # noqa: E402


def f(x):
    return x + 1


def work(x):
    total = 0
    for i in range(40):
        total += (i * x) % 7
    return total


bundled_f = bundle()(f)
bundled_work = bundle()(work)


def per_call(fn, n):
    started = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - started) / n * 1e6


def main():
    n = int(sys.argv[1])
    result = {
        "plain_us": per_call(f, n),
        "bundle_us": per_call(bundled_f, n),
        "plain_work_us": per_call(work, n // 10),
        "bundle_work_us": per_call(bundled_work, n // 10),
    }
    with stop_tracing():
        result["bundle_stop_tracing_us"] = per_call(bundled_f, n)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
