"""A Battleship player: ``reason`` reads the map into a plan, ``act`` picks the next shot from map and plan.

Both start empty; autotrace writes them. The map is a list of 10 rows of 10 cells: "X" a hit, "O" a
miss, "." not shot yet. A shot is a (row, col) pair of ints from 0 to 9.
"""

from game import play


def reason(map):  # autotrace: param analyze the board: X hits, O misses, . unknown; return a plan for act
    return


def act(map, plan):  # autotrace: param return the next (row, col) to shoot, given the map and the plan
    return


def choose(map):
    plan = reason(map)
    return act(map, plan)


def main(board=0):
    """Play one game on board number ``board``."""
    return play(choose, board)


if __name__ == "__main__":
    print(main()["map"])
