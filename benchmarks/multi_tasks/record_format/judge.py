"""Half the score for the written line (it must read "name=<name>; age=<age>; city=<city>"), half for
parsing it back into the same record (age an int)."""

RECORDS = [
    {"name": "Alice", "age": 30, "city": "Paris"},
    {"name": "Bob", "age": 7, "city": "Oslo"},
    {"name": "Chen", "age": 45, "city": "Kyoto"},
    {"name": "Dana", "age": 62, "city": "Lima"},
    {"name": "Eve", "age": 19, "city": "Cairo"},
]


def examples():
    return RECORDS


def feedback(output, example):
    expected_line = f"name={example['name']}; age={example['age']}; city={example['city']}"
    if not isinstance(output, dict):
        return 0.0, f"record {example}: expected a dict with 'line' and 'parsed', got {output!r}"
    score, problems = 0.0, []
    if output.get("line") == expected_line:
        score += 0.5
    else:
        problems.append(f"expected line {expected_line!r}, got {output.get('line')!r}")
    if output.get("parsed") == example and isinstance(output["parsed"].get("age"), int):
        score += 0.5
    else:
        problems.append(f"expected parse(line) to give {example!r}, got {output.get('parsed')!r}")
    return score, f"record {example}: " + ("; ".join(problems) or "correct")
