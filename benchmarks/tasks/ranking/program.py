"""Pick the right option for each of three slots so the program lists the wanted players."""

SORT_KEY = "name"  # autotrace: param one of ("name", "age", "points") field to sort the players by
DESCENDING = False  # autotrace: param True sorts from highest to lowest
TOP_N = 8  # autotrace: param int in [1, 8] how many players to list

PLAYERS = (
    {"name": "Ana", "age": 31, "points": 12},
    {"name": "Ben", "age": 19, "points": 30},
    {"name": "Cleo", "age": 24, "points": 7},
    {"name": "Dev", "age": 35, "points": 22},
    {"name": "Eli", "age": 22, "points": 18},
    {"name": "Fay", "age": 28, "points": 25},
    {"name": "Gus", "age": 41, "points": 3},
    {"name": "Hana", "age": 26, "points": 15},
)


def sort_players(players, key, descending):
    """The players ordered by the field `key`, highest first when `descending`."""
    return sorted(players, key=lambda p: p[key], reverse=descending)


def top(players, n):
    """The first n players."""
    return players[:n]


def names(players):
    """The players' names."""
    return [p["name"] for p in players]


def main():
    return names(top(sort_players(PLAYERS, SORT_KEY, DESCENDING), TOP_N))
