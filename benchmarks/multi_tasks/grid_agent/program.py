"""A one-player grid game: the player P walks to the target T, one move a turn. `reason` reads the
board, `act` picks the move; both are marked and both are wrong (reason swaps row and column, act
moves away from the target vertically). The game itself is not a parameter."""

MOVES = {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}
MAX_TURNS = 12


def reason(board):  # autotrace: param
    """Where the player and the target are: {"player": (row, col), "target": (row, col)}, rows
    counted from the top line of the board, columns from the left, both from 0."""
    found = {}
    for row, line in enumerate(board):
        for col, cell in enumerate(line):
            if cell == "P":
                found["player"] = (col, row)
            elif cell == "T":
                found["target"] = (col, row)
    return found


def act(state):  # autotrace: param
    """The move ("up", "down", "left" or "right") that brings the player one square closer to the
    target; "up" goes to the row above (row - 1)."""
    (pr, pc), (tr, tc) = state["player"], state["target"]
    if tr > pr:
        return "up"
    if tr < pr:
        return "down"
    if tc > pc:
        return "right"
    return "left"


def play(board, turn):
    """The board after the move `turn`: the player moves one square, staying on the board."""
    rows = [list(line) for line in board]
    (pr, pc), = [(r, c) for r, line in enumerate(rows) for c, cell in enumerate(line) if cell == "P"]
    dr, dc = MOVES.get(turn, (0, 0))
    nr, nc = min(max(pr + dr, 0), len(rows) - 1), min(max(pc + dc, 0), len(rows[0]) - 1)
    rows[pr][pc] = "."
    reached = rows[nr][nc] == "T"
    rows[nr][nc] = "P"
    return ["".join(line) for line in rows], reached


def main(board):
    """Play one board: {"reached": whether P got to T, "moves": the moves made, "board": the last board}."""
    moves = []
    for _ in range(MAX_TURNS):
        turn = act(reason(board))
        moves.append(turn)
        board, reached = play(board, turn)
        if reached:
            return {"reached": True, "moves": moves, "board": board}
    return {"reached": False, "moves": moves, "board": board}
