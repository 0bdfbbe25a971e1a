"""trace-opt on the traffic intersection, as its numerical-optimization notebook writes it: the two green
times trainable ``node``s with their range as constraint, the simulation and its analysis ``bundle``s
(not trainable), OptoPrime with memory told the notebook's objective, the loss as feedback. One
simulation a step; one JSON line at the end.
"""

from __future__ import annotations

import json
import sys

from llm import ROOT, llm, parser, tokens

sys.path.insert(0, str(ROOT / "examples" / "traffic"))

import intersection  # noqa: E402
from opto.optimizers import OptoPrime  # noqa: E402
from opto.trace import GRAPH, bundle, node  # noqa: E402
from opto.trace.bundle import ExceptionNode  # noqa: E402

LOW, HIGH = 15, 90
RATES = intersection.demand()


@bundle(trainable=False, allow_external_dependencies=True)
def simulate(ew_green, ns_green):
    """Run 30 minutes of the intersection with these green times (integers in [15, 90] seconds)."""
    assert LOW <= ew_green <= HIGH, "EW green time out of bounds."
    assert LOW <= ns_green <= HIGH, "NS green time out of bounds."
    return intersection.simulate(int(ew_green), int(ns_green), RATES)


@bundle(trainable=False, allow_external_dependencies=True)
def analyze(world):
    """The OVERALL SCORE (delay per vehicle plus its spread across origin-destination pairs) and its parts."""
    result = intersection.loss(world)
    return {"OVERALL SCORE": result["loss"], **result}


def main() -> int:
    args = parser().parse_args()
    usage: list = []
    ew = node(LOW, trainable=True, name="EW_green_time", constraint=f"[{LOW},{HIGH}]")
    ns = node(LOW, trainable=True, name="NS_green_time", constraint=f"[{LOW},{HIGH}]")
    optimizer = OptoPrime([ew, ns], llm=llm(args, usage), memory_size=args.memory_size, max_tokens=args.max_tokens)
    optimizer.objective = (
        "You should suggest values for the variables so that the OVERALL SCORE is as small as possible.\n"
        "There is a trade-off in setting the green light durations.\n"
        "If the green light duration for a given direction is set too low, then vehicles will queue up over time "
        "and experience delays, thereby lowering the score for the intersection.\n"
        "If the green light duration for a given direction is set too high, vehicles in the other direction will "
        "queue up and experience delays, thereby lowering the score for the intersection.\n"
        "The goal is to find a balance for each direction (East-West and North-South) that minimizes the overall "
        "score of the intersection.\n" + optimizer.default_objective)
    curve, best, loss = [], None, None
    for step in range(args.steps + 1):
        GRAPH.clear()
        values = (ew.data, ns.data)
        try:
            result = analyze(simulate(ew, ns))
            loss = float(result.data["OVERALL SCORE"])
            feedback = (f"OVERALL SCORE: {loss}\nPlease try to optimize the intersection further. If you are "
                        "certain that you have found the optimal solution, please suggest it again.")
        except Exception as exc:  # out of bounds or not a number: the exception is the feedback
            result = ExceptionNode(exc, inputs={"EW_green_time": ew, "NS_green_time": ns},
                                   description="[exception] Simulation raises an exception with these inputs.",
                                   name="exception_step")
            loss, feedback = None, str(exc)
        if loss is not None and (best is None or loss < best):
            best = loss
        curve.append({"step": step, "program_runs": step + 1, "tokens": tokens(usage), "best": best, "score": loss,
                      "values": [str(v) for v in values]})
        print(json.dumps(curve[-1]), file=sys.stderr, flush=True)
        if step == args.steps:
            break
        optimizer.zero_feedback()
        optimizer.backward(result, feedback)
        try:
            optimizer.step()
        except Exception as exc:  # a reply trace-opt could not read: the step changes nothing
            curve[-1]["note"] = f"step failed: {type(exc).__name__}"
    print(json.dumps({"final": loss, "best": best, "program_runs": len(curve), "tokens": tokens(usage),
                      "curve": curve, "values": {"EW": str(ew.data), "NS": str(ns.data)}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
