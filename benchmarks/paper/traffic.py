"""Traffic-light control (paper Fig. 5b/c): two integer green times in [15, 90] from 15, minimizing UXsim's
delay per vehicle plus its spread across origin-destination pairs (examples/traffic).

Score: the loss in seconds at the best green times found (lower is better). A program run is one
30-minute simulation. Sides:
  autotrace   ``autotrace optimize signals.py --feedback judge.py --measured-runs 20`` (probes and the
              measured search; about 45 simulations in 2 steps)
  trace-opt   trace_opt/traffic.py (the Trace notebook's loop: one simulation a step)
  baseline    SCATS-style proportional split (1 simulation); Gaussian process (scikit-optimize's
              gp_minimize, 50 calls); particle swarm (pyswarms, 5 particles x 10 iterations)
Simulations are deterministic in the two green times, so the baselines share a cache of them on disk
(.bench/paper/traffic_cache.json); a cached simulation still counts as a program run of the method.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from .common import EXAMPLES, WORK, fresh_copy, run_autotrace, run_trace_opt

STEPS = 20  # trace-opt's steps (the paper's iterations); autotrace's are AUTOTRACE_STEPS
QUICK_STEPS = 2
AUTOTRACE_STEPS = 2
MEASURED_RUNS = 20
LOW, HIGH = 15, 90
CACHE = WORK / "traffic_cache.json"


def _intersection():
    path = str(EXAMPLES / "traffic")
    if path not in sys.path:
        sys.path.insert(0, path)
    import intersection

    return intersection


class Simulator:
    """The loss at (ew, ns), simulated once per pair ever and kept in the cache file; counts the calls."""

    def __init__(self, cache: Path = CACHE):
        self.cache_path = cache
        self.cache: dict[str, float] = json.loads(cache.read_text()) if cache.is_file() else {}
        self.calls: list[tuple[int, int, float]] = []

    def __call__(self, ew: float, ns: float) -> float:
        ew, ns = int(round(min(max(ew, LOW), HIGH))), int(round(min(max(ns, LOW), HIGH)))
        key = f"{ew},{ns}"
        if key not in self.cache:
            intersection = _intersection()
            self.cache[key] = intersection.loss(intersection.simulate(ew, ns))["loss"]
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.cache_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.cache))
            tmp.replace(self.cache_path)
        self.calls.append((ew, ns, self.cache[key]))
        return self.cache[key]

    def curve(self) -> list[dict[str, Any]]:
        best, points = None, []
        for i, (_, _, loss) in enumerate(self.calls, 1):
            best = loss if best is None else min(best, loss)
            points.append({"program_runs": i, "tokens": 0, "best": best, "score": loss})
        return points

    def result(self, method: str, started: float) -> dict[str, Any]:
        ew, ns, loss = min(self.calls, key=lambda c: c[2])
        return {"task": "intersection", "method": method, "score": loss, "values": {"EW_GREEN": ew, "NS_GREEN": ns},
                "program_runs": len(self.calls), "tokens": 0, "seconds": time.perf_counter() - started,
                "curve": self.curve()}


def scats(sim: Simulator) -> tuple[int, int]:
    """SCATS-style proportional split, without search: the lighter direction gets the minimum green and the
    heavier one the same green per vehicle (the shortest cycle that keeps both at or above the minimum)."""
    rates = _intersection().demand()
    flow = {"EW": 0.0, "NS": 0.0}
    for (origin, _, _), rate in rates.items():
        flow["EW" if origin in ("W1", "E1") else "NS"] += rate
    light = min(flow.values())
    ew, ns = (round(min(HIGH, LOW * flow[d] / light)) for d in ("EW", "NS"))
    sim(ew, ns)
    return ew, ns


def gaussian_process(sim: Simulator, seed: int, calls: int = 50) -> None:
    from skopt import gp_minimize
    from skopt.space import Integer

    gp_minimize(lambda p: sim(p[0], p[1]), [Integer(LOW, HIGH), Integer(LOW, HIGH)], n_calls=calls,
                random_state=seed)


def particle_swarm(sim: Simulator, seed: int, particles: int = 5, iterations: int = 10) -> None:
    import numpy as np
    import pyswarms

    np.random.seed(seed)  # pyswarms draws its swarm from numpy's global generator
    optimizer = pyswarms.single.GlobalBestPSO(n_particles=particles, dimensions=2,
                                              options={"c1": 0.5, "c2": 0.3, "w": 0.9},
                                              bounds=(np.array([LOW, LOW]), np.array([HIGH, HIGH])))
    optimizer.optimize(lambda xs: np.array([sim(x[0], x[1]) for x in xs]), iters=iterations, verbose=False)


def run_side(side: str, seed: int, steps: int, server: dict[str, Any] | None, quick: bool,
             tasks: str | None) -> list[dict[str, Any]]:
    """The run.py entry: baseline gives one record per method; the LLM sides one record each."""
    if side == "baseline":
        records = []
        for method, run in (("SCATS-style proportional", lambda s: scats(s)),
                            ("Gaussian process (scikit-optimize, 50 calls)",
                             lambda s: gaussian_process(s, seed, 10 if quick else 50)),
                            ("PSO (pyswarms, 5 particles x 10)",
                             lambda s: particle_swarm(s, seed, 5, 2 if quick else 10))):
            sim, started = Simulator(), time.perf_counter()
            run(sim)
            records.append(sim.result(method, started))
        return records
    assert server is not None
    if side == "trace-opt":
        result = run_trace_opt("traffic.py", ["--steps", str(steps), "--seed", str(seed)], server, needs=("uxsim",))
        if "error" in result:
            return [{"task": "intersection", "error": result["error"]}]
        return [{"task": "intersection", "score": result["best"], "final": result["final"],
                 "program_runs": result["program_runs"], "tokens": result["tokens"], "seconds": result["seconds"],
                 "curve": result["curve"], "values": result["values"]}]
    autotrace_steps = min(steps, AUTOTRACE_STEPS) if not quick else 1
    extra = ["--max-unchanged", "0", "--timeout", "600", "--measured-runs", str(MEASURED_RUNS)]
    if side == "autotrace-llm":
        extra += ["--no-probe", "--no-measured-step"]
        autotrace_steps = steps
    run_dir = fresh_copy("traffic", WORK / "runs" / f"traffic-seed{seed}-{side}")
    result = run_autotrace(run_dir, "signals.py", autotrace_steps, server, [*extra, "--seed", str(seed)])
    if "error" in result:
        return [{"task": "intersection", **result}]
    return [{"task": "intersection", "score": abs(result["best"]), "program_runs": result["program_runs"],
             "tokens": result["tokens"], "seconds": result["seconds"], "values": result["values"],
             "command": result["command"],
             "curve": [{**c, "best": abs(c["best"]) if c["best"] is not None else None} for c in result["curve"]]}]
