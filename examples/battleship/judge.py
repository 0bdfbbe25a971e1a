"""Score: the share of ship squares hit in a game (a hit earns another shot; 25 misses end it), on three boards."""


def examples():
    return [0, 1, 2]  # board numbers: the same three boards for every candidate


def feedback(game, board):
    share = game["hits"] / game["ship_squares"]
    message = (f"board {board}: hit {game['hits']} of {game['ship_squares']} ship squares in {game['shots']} shots "
               f"({share:.0%}); the game ends after 25 misses, a hit earns another shot")
    if game["invalid"]:
        message += f"; {game['invalid']} shots were invalid, the first: {game['problem']}"
    if game["repeated"]:
        message += f"; {game['repeated']} shots hit a square already shot (wasted misses)"
    return share, message + "\nfinal map:\n" + game["map"]
