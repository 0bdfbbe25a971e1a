"""The measured search alone, today's and the new one side by side, on score functions written in Python.

    python -m experiments.search_alone [--seeds 3] [--steps 10] [--runs 30] [--sides before main scipy-nm cma optuna-tpe]

No program and no model: each score function stands in for a program and its judge, and each call of
it counts as one program run. Every side is driven as the loop drives the search: each step probes
the numbers (one run each), then searches from the best values so far with at most ``--runs`` runs.
Printed per problem and side: the seeds solved, the program runs to the target on each seed ("-":
not reached) and the largest final error (the distance of the best values to the known answer,
relative to it, over the seeds; where no answer is given, the score missing from the target). The
fahrenheit and rectangle rows are those benchmark tasks' judges (outputs rounded as the programs
round them, target 0.99), with the tasks' seeds.

Sides: ``before`` is the search of the base commit (runners/search.py and runners/probe.py as they
were at ``BEFORE``, read from git: hand-written line searches then a hand-written Nelder–Mead, numbers
only, no bounds); ``main`` is runners/search.py at ``MAIN`` (autotrace/search/stages.py today; issue 21
as first merged: categories, bounds, bracketing, scipy's Nelder–Mead, but no planes); the others are
today's search (with the planes where tangent planes meet the goal) with the library refiner named:
``scipy-nm`` (scipy's bounded Nelder–Mead, the one shipped),
``cma`` (pycma's CMA-ES, asked and told by generation) and ``optuna-tpe`` (Optuna's TPE sampler,
asked and told in batches of 4). Sides whose library is not installed are skipped with a note.
"""

from __future__ import annotations

import argparse
import math
import random
import subprocess
import sys
import types
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autotrace.domain import parse
from autotrace.evaluation import Evaluation, ExampleResult
from autotrace.params import ParamSpec
from autotrace.search import probe as probes
from autotrace.search.refine import Refiner, nelder_mead
from autotrace.search.space import dimensions
from autotrace.search.stages import Point, Search, score_of

BEFORE = "a680043"  # the base commit of issue 21: the hand-written search
MAIN = "a3ce474"  # issue 21's first library search, as merged: no planes
ROOT = Path(__file__).resolve().parent.parent
Values = dict[str, Any]


class Failed(Exception):
    """The program failed at these values (an exception, an overflow, a non-finite output)."""


@dataclass(frozen=True)
class Problem:
    """A score function with its parameters (marker texts give the bounds), start, target and answer."""

    name: str
    markers: dict[str, tuple[Any, str]]  # name -> (initial value, marker text)
    score: Callable[[Values], float]
    target: float
    answer: Values = field(default_factory=dict)  # known best values, for the final error

    def params(self) -> list[ParamSpec]:
        return [ParamSpec(key=n, path=Path("p.py"), module="", qualname=n, kind="literal", description=text,
                          initial=value, line=1, domain=parse(text)[0]) for n, (value, text) in self.markers.items()]


def _closeness(outputs: Sequence[float], wanted: Sequence[float]) -> float:
    for o in outputs:
        if not math.isfinite(o):
            raise Failed("non-finite output")
    return 1 - sum(abs(o - w) for o, w in zip(outputs, wanted)) / sum(abs(w) for w in wanted)


def problems(seed: int) -> list[Problem]:
    """The benchmark's problems for one seed (the seed moves their answers)."""
    rng = random.Random(seed)
    shares = [rng.choice((0.1, 0.15, 0.2, 0.35, 0.4)) for _ in range(4)]
    a, b, c = rng.choice((4.5, 2.25, 7.0)), rng.choice((1.25, 0.8, 1.6)), rng.choice((3.0, 0.5, 12.0))
    invoices = [(rng.randint(1, 20), rng.randint(0, 30)) for _ in range(8)]
    prices = [a * n + b * km + c for n, km in invoices]
    celsius = rng.choice(((0.0, 100.0, 37.0), (10.0, 20.0, 30.0), (-40.0, 0.0, 50.0)))
    w, h = rng.choice(((6.0, 4.0), (5.0, 3.0), (8.0, 2.0)))
    d = rng.choice((0.98, 0.995, 0.9))
    total = (1 - d ** 1000) / (1 - d)
    threshold = rng.choice((37, 180, 412))
    low, high = rng.choice(((37, 45), (120, 130), (3, 6)))
    wanted_key, wanted_desc, wanted_n = rng.choice((("points", True, 3), ("age", False, 2), ("age", True, 4)))
    players = [("Ana", 31, 12), ("Ben", 19, 30), ("Cleo", 24, 7), ("Dev", 35, 22), ("Eli", 22, 18),
               ("Fay", 28, 25), ("Gus", 41, 3), ("Hana", 26, 15)]
    fields = {"name": 0, "age": 1, "points": 2}

    def listing(key: str, descending: bool, n: int) -> list[str]:
        return [p[0] for p in sorted(players, key=lambda p: p[fields[key]], reverse=descending)[:n]]

    wanted = listing(wanted_key, wanted_desc, wanted_n)

    def geometric(v: Values) -> float:
        try:
            out = sum(v["d"] ** k for k in range(1000))
        except OverflowError as error:
            raise Failed(str(error)) from None
        return _closeness([out], [total])

    def ranking(v: Values) -> float:
        got = listing(v["key"], v["descending"], v["n"])
        return sum(g == w for g, w in zip(got, wanted)) / max(len(got), len(wanted))

    readings = ((0.0, 100.0, 37.0), (10.0, 20.0, 30.0), (-40.0, 0.0, 50.0))[seed % 3]  # as the tasks pick them
    sides = ((6.0, 4.0), (5.0, 3.0), (8.0, 2.0))[seed % 3]

    def fahrenheit_judge(v: Values) -> float:
        """benchmarks/tasks/fahrenheit: outputs rounded to 0.1, full marks within 0.05 of each."""
        got = [round(v["scale"] * t + v["offset"], 1) for t in readings]
        wanted = [round(1.8 * t + 32, 1) for t in readings]
        return 1.0 if all(abs(g - f) <= 0.05 for g, f in zip(got, wanted)) else max(0.0, _closeness(got, wanted))

    def rectangle_judge(v: Values) -> float:
        """benchmarks/tasks/rectangle: area and perimeter rounded to 0.01, full marks within 0.01."""
        got = [round(v["w"] * v["h"], 2), round(2 * (v["w"] + v["h"]), 2)]
        wanted = [sides[0] * sides[1], 2 * (sides[0] + sides[1])]
        return 1.0 if all(abs(g - f) <= 0.01 for g, f in zip(got, wanted)) else max(0.0, _closeness(got, wanted))

    return [
        Problem("separable (4 shares)", {k: (0.25, "in [0, 1] share") for k in "abcd"},
                lambda v: _closeness([4000 * v[k] for k in "abcd"], [4000 * s for s in shares]), 0.999,
                dict(zip("abcd", shares))),
        Problem("linear fit (3 constants)", {"a": (1.0, "a price"), "b": (1.0, "a price"), "c": (1.0, "a price")},
                lambda v: _closeness([v["a"] * n + v["b"] * km + v["c"] for n, km in invoices], prices), 1.0,
                {"a": a, "b": b, "c": c}),
        Problem("linear fit (2 constants, exact)", {"scale": (1.0, ""), "offset": (0.0, "")},
                lambda v: _closeness([v["scale"] * t + v["offset"] for t in celsius], [1.8 * t + 32 for t in celsius]),
                1.0, {"scale": 1.8, "offset": 32.0}),
        Problem("interacting (area, perimeter)", {"w": (1.0, "> 0"), "h": (1.0, "> 0")},
                lambda v: _closeness([v["w"] * v["h"], 2 * (v["w"] + v["h"])], [w * h, 2 * (w + h)]), 0.99,
                {"w": w, "h": h}),
        Problem("Rosenbrock valley", {"x": (-1.2, ""), "y": (1.0, "")},
                lambda v: -((1 - v["x"]) ** 2 + 100 * (v["y"] - v["x"] ** 2) ** 2), -1e-6, {"x": 1.0, "y": 1.0}),
        Problem("compounding d**n, bound (0, 1)", {"d": (0.5, "in (0, 1) decay per step")}, geometric, 0.9999,
                {"d": d}),
        Problem("compounding d**n, no bound", {"d": (0.5, "decay per step, strictly between 0 and 1")}, geometric,
                0.9999, {"d": d}),
        Problem("int threshold, pass/fail", {"n": (10, "int in [1, 500]")},
                lambda v: float(v["n"] >= threshold), 1.0, {}),
        Problem("int window, 2 tests", {"n": (10, "int in [1, 500]")},
                lambda v: ((v["n"] >= low) + (v["n"] <= high)) / 2, 1.0, {}),
        Problem("fahrenheit task's judge", {"scale": (1.0, ""), "offset": (0.0, "")}, fahrenheit_judge, 0.99,
                {"scale": 1.8, "offset": 32.0}),
        Problem("rectangle task's judge", {"w": (1.0, "> 0"), "h": (1.0, "> 0")}, rectangle_judge, 0.99),
        Problem("categorical + bool + int", {"key": ("name", 'one of ("name", "age", "points")'),
                                             "descending": (False, ""), "n": (8, "int in [1, 8]")},
                ranking, 1.0, {}),
    ]


# --- the sides ---------------------------------------------------------------------------------------


def _before_modules() -> tuple[types.ModuleType, types.ModuleType]:
    """runners/probe.py and runners/search.py of the base commit, loaded from git."""
    loaded = []
    for name in ("probe", "search"):
        source = subprocess.run(["git", "show", f"{BEFORE}:runners/{name}.py"], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout
        source = source.replace("from .probe import", "from autotrace.runners._before_probe import")
        module = types.ModuleType(f"autotrace.runners._before_{name}")
        module.__package__ = "autotrace.runners"
        sys.modules[module.__name__] = module
        exec(compile(source, f"{BEFORE}:runners/{name}.py", "exec"), module.__dict__)
        loaded.append(module)
    return loaded[0], loaded[1]


def _main_search() -> types.ModuleType:
    """runners/search.py at ``MAIN`` (its probe, space and refine modules are today's, unchanged, now
    in :mod:`autotrace.search`)."""
    source = subprocess.run(["git", "show", f"{MAIN}:runners/search.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    source = source.replace("from .evaluation import", "from autotrace.evaluation import")
    module = types.ModuleType("autotrace.search._main_search")
    module.__package__ = "autotrace.search"
    sys.modules[module.__name__] = module
    exec(compile(source, f"{MAIN}:runners/search.py", "exec"), module.__dict__)
    return module


def optuna_tpe_refiner(dims, start, sizes, scores, done) -> None:
    """Optuna's TPE sampler, asked for a batch of 4 trials, told their scores, until ``done``."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=1))
    distributions = {}
    for d in dims:
        reach = sizes.get(d.name) or abs(start[d.name]) or 1.0
        low = max(d.domain.low, start[d.name] - 2 * reach)
        high = min(d.domain.high, start[d.name] + 2 * reach)
        if d.integer:
            distributions[d.name] = optuna.distributions.IntDistribution(int(low), int(high))
        else:
            distributions[d.name] = optuna.distributions.FloatDistribution(low, high, log=d.log and low > 0)
    study.enqueue_trial({d.name: start[d.name] for d in dims})
    while not done():
        trials = [study.ask(distributions) for _ in range(4)]
        found = scores([{**start, **t.params} for t in trials])
        for trial, s in zip(trials, found):
            if math.isnan(s):
                return
            study.tell(trial, s if math.isfinite(s) else -1e300)


def cma_refiner(dims, start, sizes, scores, done) -> None:
    """pycma's CMA-ES, asked and told a whole generation at a time, until ``done``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pycma warns that matplotlib (for its plots) is missing
        import cma

        x0 = [float(start[d.name]) for d in dims]
        stds = [sizes.get(d.name) or abs(x) * 0.1 or 0.1 for d, x in zip(dims, x0)]
        bounds = [[None if math.isinf(d.domain.low) else d.domain.low for d in dims],
                  [None if math.isinf(d.domain.high) else d.domain.high for d in dims]]
        es = cma.CMAEvolutionStrategy(x0, 1.0, {"bounds": bounds, "CMA_stds": stds, "seed": 1, "verbose": -9,
                                                "integer_variables": [i for i, d in enumerate(dims) if d.integer],
                                                "tolfun": 0, "tolx": 1e-12})
        while not done() and not es.stop():
            asked = es.ask()
            found = scores([{**start, **{d.name: d.value(x) for d, x in zip(dims, point)}} for point in asked])
            if any(math.isnan(s) for s in found):
                return
            worst = max((-s for s in found if math.isfinite(s)), default=0.0)
            es.tell(asked, [-s if math.isfinite(s) else worst + 1 + abs(worst) for s in found])


REFINERS: dict[str, tuple[Refiner, str]] = {"scipy-nm": (nelder_mead, "scipy"), "cma": (cma_refiner, "cma"),
                                            "optuna-tpe": (optuna_tpe_refiner, "optuna")}


@dataclass
class Outcome:
    runs_to_target: int | None
    error: float


def drive(problem: Problem, side: str, steps: int, runs: int) -> Outcome:
    """The loop without the model: probes, then a search from the best values, step after step."""
    ran = 0
    reached_at: int | None = None

    scores: dict[str, float] = {}  # as the loop keeps them: values run before are not run again

    def evaluate(values: Values) -> Evaluation:
        nonlocal ran
        ran += 1
        evaluation = run(values)
        scores[repr(sorted(values.items()))] = score_of(evaluation)
        return evaluation

    def known(values: Values) -> float | None:
        return scores.get(repr(sorted(values.items())))

    def run(values: Values) -> Evaluation:
        nonlocal reached_at
        try:
            score = problem.score(values)
            if not math.isfinite(score):
                raise Failed("non-finite score")
        except (Failed, ZeroDivisionError, OverflowError) as error:
            return Evaluation([ExampleResult(failed=True, message=str(error))])
        if score >= problem.target and reached_at is None:
            reached_at = ran
        return Evaluation([ExampleResult(score=score)])

    params = problem.params()
    values = {p.name: p.initial for p in params}
    current = evaluate(values)
    if side == "before":
        old_probe, old_search = _before_modules()
    enough: Callable[[Evaluation], bool] = lambda e: e.complete_score is not None and e.complete_score >= problem.target
    for _ in range(steps):
        if reached_at is not None:
            break
        if side == "before":
            measured = old_probe.probe(params, values, current, evaluate, enough)
        else:
            measured = probes.probe(params, values, current, evaluate, enough)
        if reached_at is not None:
            break
        start = Point(values, score_of(current), current)  # as the loop does: from the values, not the best probe
        goal = probes.goal_score(start.score, problem.target) if math.isfinite(start.score) else None
        if side == "before":
            search = old_search.Search(start, measured, goal, evaluate, known, enough, runs)
        elif side == "main":
            search = _main_search().Search(dimensions(params, values), start, measured, goal,
                                           lambda batch: [evaluate(v) for v in batch], known, enough, runs)
        else:
            search = Search(dimensions(params, values), start, measured, goal,
                            lambda batch: [evaluate(v) for v in batch], known, enough, runs,
                            refiner=REFINERS[side][0])
        found = search.run()
        tried = [found] + [Point(p.values, score_of(p.evaluation), p.evaluation) for p in measured if p.evaluation]
        top = max(tried, key=lambda p: p.score)
        if top.evaluation is not None and top.score > start.score:
            values, current = top.values, top.evaluation
    error = 0.0 if not problem.answer else max(abs(values[k] - want) / abs(want) for k, want in problem.answer.items())
    if not problem.answer and reached_at is None:
        error = problem.target - score_of(current)
    return Outcome(reached_at, error)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--problems", nargs="+", type=int, help="only these problems (their row numbers from 1)")
    parser.add_argument("--sides", nargs="+", default=["before", "main", "scipy-nm", "cma", "optuna-tpe"])
    args = parser.parse_args(argv)
    sides = []
    for side in args.sides:
        library = REFINERS[side][1] if side in REFINERS else None
        try:
            if library:
                with warnings.catch_warnings():  # pycma: no matplotlib for its plots
                    warnings.simplefilter("ignore")
                    __import__(library)
        except ImportError:
            print(f"skipped {side}: {library} is not installed")
            continue
        sides.append(side)
    names = [p.name for p in problems(0)]
    print(f"search alone: {args.seeds} seeds, {args.steps} steps of probes + at most {args.runs} runs; "
          "per side: solved seeds, program runs to the target per seed, largest final error")
    print("| problem | " + " | ".join(sides) + " |")
    print("| --- |" + " --- |" * len(sides))
    for i, name in enumerate(names):
        if args.problems and i + 1 not in args.problems:
            continue
        cells = []
        for side in sides:
            outcomes = [drive(problems(seed)[i], side, args.steps, args.runs) for seed in range(args.seeds)]
            solved = [o.runs_to_target for o in outcomes if o.runs_to_target is not None]
            runs = "/".join("-" if o.runs_to_target is None else str(o.runs_to_target) for o in outcomes)
            worst = max(o.error for o in outcomes)
            cells.append(f"{len(solved)}/{len(outcomes)}, {runs} runs, err {worst:.2g}")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
