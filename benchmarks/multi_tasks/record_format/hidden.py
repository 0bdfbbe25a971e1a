"""Records the optimizer never sees (spaces in names and cities, one-digit and three-digit ages)."""

CASES = [
    ({"name": "Ann Lee", "age": 5, "city": "New York"}, "name=Ann Lee; age=5; city=New York"),
    ({"name": "Zoe", "age": 101, "city": "Rome"}, "name=Zoe; age=101; city=Rome"),
    ({"name": "Omar", "age": 33, "city": "Buenos Aires"}, "name=Omar; age=33; city=Buenos Aires"),
    ({"name": "Li", "age": 0, "city": "Xi'an"}, "name=Li; age=0; city=Xi'an"),
    ({"name": "Jo", "age": 48, "city": "Sao Paulo"}, "name=Jo; age=48; city=Sao Paulo"),
]


def passes(output, expected):
    return isinstance(output, dict) and output.get("line") == expected and output.get("parsed") == _record(expected)


def _record(line):
    fields = dict(part.split("=", 1) for part in line.split("; "))
    return {"name": fields["name"], "age": int(fields["age"]), "city": fields["city"]}
