"""Score 1 when the top three (word, count) pairs are the expected ones."""

TEXTS = [
    ("The cat saw the dog. The dog ran!", [("the", 3), ("dog", 2), ("cat", 1)]),
    ("Red fish, blue fish, red fish.", [("fish", 3), ("red", 2), ("blue", 1)]),
    ("Go go go, said the coach; go!", [("go", 4), ("coach", 1), ("said", 1)]),
    ("a b a c b a", [("a", 3), ("b", 2), ("c", 1)]),
    ("Tick tock, tick tock, tick.", [("tick", 3), ("tock", 2)]),
    ("One.", [("one", 1)]),
]


def examples():
    return [text for text, _ in TEXTS]


def feedback(output, example):
    expected = dict(TEXTS)[example]
    got = [tuple(pair) for pair in output] if isinstance(output, list) else output
    if got == expected:
        return 1.0, "correct"
    return 0.0, f"text {example!r}: expected top words {expected}, got {output!r}"
