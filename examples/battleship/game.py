"""The Battleship board and the rules of a game against it.

A 10 x 10 board holds the classic fleet (5, 4, 3, 3, 2 squares: 17 ship squares), placed at random
from the board's seed. The player sees a map of its own shots: ``"X"`` a hit, ``"O"`` a miss, ``"."``
not shot yet. A hit earns another shot; the game ends after ``MISSES`` misses or when every ship
square is hit. A shot that is not a (row, col) pair of ints on the board, or an error raised while
choosing it, counts as a miss.
"""

import random

SIZE = 10
FLEET = (5, 4, 3, 3, 2)
MISSES = 25


def place_fleet(seed):
    """The set of (row, col) squares the fleet occupies on board ``seed``."""
    rng = random.Random(f"battleship-board-{seed}")
    occupied = set()
    for length in FLEET:
        while True:
            vertical = rng.random() < 0.5
            row = rng.randrange(SIZE - (length - 1 if vertical else 0))
            col = rng.randrange(SIZE - (0 if vertical else length - 1))
            squares = {(row + i, col) if vertical else (row, col + i) for i in range(length)}
            if not squares & occupied:
                occupied |= squares
                break
    return occupied


def valid_shot(shot):
    """True when ``shot`` is a (row, col) pair of ints on the board."""
    return (isinstance(shot, (tuple, list)) and len(shot) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in shot)
            and all(0 <= v < SIZE for v in shot))


def play(choose, seed):
    """Play one game on board ``seed``, ``choose(map)`` picking each shot; what happened, as a dict."""
    ships = place_fleet(seed)
    shots = [["." for _ in range(SIZE)] for _ in range(SIZE)]
    hits = misses = invalid = repeated = 0
    first_problem = ""
    while misses < MISSES and hits < len(ships):
        try:
            shot = choose([row[:] for row in shots])
        except Exception as exc:  # the policy's own error: a wasted shot, and the feedback says which
            shot, problem = None, f"choosing a shot raised {type(exc).__name__}: {exc}"
        else:
            problem = "" if valid_shot(shot) else f"a shot must be a (row, col) pair of ints in 0..{SIZE - 1}, got {shot!r}"
        if problem:
            invalid += 1
            misses += 1
            first_problem = first_problem or problem
            continue
        row, col = shot
        if shots[row][col] != ".":
            repeated += 1
            misses += 1
        elif (row, col) in ships:
            shots[row][col] = "X"
            hits += 1
        else:
            shots[row][col] = "O"
            misses += 1
    return {"hits": hits, "ship_squares": len(ships), "shots": hits + misses, "invalid": invalid,
            "repeated": repeated, "problem": first_problem, "map": "\n".join(" ".join(r) for r in shots)}
