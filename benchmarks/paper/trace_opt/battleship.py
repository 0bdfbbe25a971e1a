"""trace-opt on Battleship, as its Battleship notebook writes it: a ``Module`` policy whose ``reason`` and
``act`` are trainable bundles starting empty, trained online (one shot a step, "Got 1 reward." as the
feedback) with OptoPrime with memory. After each step the policy plays the judge's three evaluation
boards (examples/battleship/judge.py) under the same rules; one JSON line at the end.
"""

from __future__ import annotations

import json
import sys

from llm import ROOT, llm, parser, tokens

sys.path.insert(0, str(ROOT / "examples" / "battleship"))

import game  # noqa: E402
import judge  # noqa: E402
from opto.optimizers import OptoPrime  # noqa: E402
from opto.trace import GRAPH, Module, bundle, node  # noqa: E402
from opto.trace.errors import ExecutionError  # noqa: E402


class Policy(Module):
    def __call__(self, map):
        return self.select_coordinate(map).data

    def select_coordinate(self, map):
        plan = self.reason(map)
        return self.act(map, plan)

    @bundle(trainable=True)
    def act(self, map, plan):
        """
        Given a map, select a target coordinate in a game.
        X denotes hits, O denotes misses, and . denotes unknown positions.
        """
        return

    @bundle(trainable=True)
    def reason(self, map):
        """
        Given a map, analyze the board in a game.
        X denotes hits, O denotes misses, and . denotes unknown positions.
        """
        return


class Board:
    """One training game under examples/battleship's rules, shot by shot."""

    def __init__(self, seed):
        self.ships = game.place_fleet(seed)
        self.shots = [["." for _ in range(game.SIZE)] for _ in range(game.SIZE)]
        self.hits = self.misses = 0

    def shoot(self, shot):
        if not game.valid_shot(shot):
            self.misses += 1
            raise ValueError(f"a shot must be a (row, col) pair of ints in 0..{game.SIZE - 1}, got {shot!r}")
        row, col = shot
        hit = self.shots[row][col] == "." and (row, col) in self.ships
        if hit:
            self.shots[row][col] = "X"
            self.hits += 1
        else:
            self.misses += 1
            if self.shots[row][col] == ".":
                self.shots[row][col] = "O"
        return hit

    def over(self):
        return self.misses >= game.MISSES or self.hits == len(self.ships)


def evaluate(policy) -> float:
    scores = []
    for board in judge.examples():
        result = game.play(lambda m: policy(m), board)
        scores.append(judge.feedback(result, board)[0])
    return sum(scores) / len(scores)


def main() -> int:
    args = parser().parse_args()
    usage: list = []
    policy = Policy()
    optimizer = OptoPrime(policy.parameters(), llm=llm(args, usage), memory_size=args.memory_size,
                          max_tokens=args.max_tokens)
    train_seed = 1000 + 100 * args.seed  # training boards apart from the evaluation boards 0, 1, 2
    board = Board(train_seed)
    obs = node([r[:] for r in board.shots])
    score = evaluate(policy)
    best = score
    curve = [{"step": 0, "program_runs": 1, "tokens": 0, "best": best, "score": score}]
    for step in range(1, args.steps + 1):
        GRAPH.clear()
        try:
            output = policy.select_coordinate(obs)
            try:
                reward = board.shoot(output.data)
                feedback = f"Got {int(reward)} reward."
            except ValueError as exc:
                feedback = str(exc)
        except ExecutionError as exc:
            output = exc.exception_node
            feedback = output.data
        if board.over():
            train_seed += 1
            board = Board(train_seed)
        obs = node([r[:] for r in board.shots])
        optimizer.zero_feedback()
        optimizer.backward(output, feedback)
        note = ""
        try:
            optimizer.step()
        except Exception as exc:  # a reply trace-opt could not read: the step changes nothing
            note = f"step failed: {type(exc).__name__}"
        score = evaluate(policy)
        best = max(best, score)
        curve.append({"step": step, "program_runs": step + 1, "tokens": tokens(usage), "best": best,
                      "score": score, "note": note})
        print(json.dumps(curve[-1]), file=sys.stderr, flush=True)
    codes = {p.py_name: str(p.data)[:3000] for p in policy.parameters()}
    print(json.dumps({"final": score, "best": best, "program_runs": len(curve), "tokens": tokens(usage),
                      "curve": curve, "values": codes}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
