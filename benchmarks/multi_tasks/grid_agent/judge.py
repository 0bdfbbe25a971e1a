"""Score 1 when the player reaches the target in the fewest moves possible (the row distance plus the
column distance); the message shows the moves and the last board."""

BOARDS = [
    ["P...", "....", "...T"],
    ["....", "T..P", "...."],
    ["..T", "...", "...", ".P."],
    ["P....", ".....", "....T"],
    [".....", "..P..", ".....", "T...."],
    ["T..", "...", "..P"],
]


def examples():
    return BOARDS


def _where(board, mark):
    return next((r, line.index(mark)) for r, line in enumerate(board) if mark in line)


def feedback(output, example):
    (pr, pc), (tr, tc) = _where(example, "P"), _where(example, "T")
    fewest = abs(pr - tr) + abs(pc - tc)
    moves = output.get("moves") if isinstance(output, dict) else None
    if isinstance(output, dict) and output.get("reached") and len(moves) == fewest:
        return 1.0, "reached the target in the fewest moves"
    board = "/".join(example)
    last = "/".join(output.get("board", [])) if isinstance(output, dict) else repr(output)
    reached = output.get("reached") if isinstance(output, dict) else None
    return 0.0, (f"board {board} (P at row {pr}, col {pc}; T at row {tr}, col {tc}): expected to reach T in "
                 f"{fewest} moves; moves made {moves}, reached: {reached}, last board {last}")
