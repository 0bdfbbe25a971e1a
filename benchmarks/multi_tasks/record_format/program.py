"""A record is written as one line with a text template and read back by a parser: the template and
the parser are both marked and both wrong. The line must read "name=...; age=...; city=..." and the
parser must give back the record, age as an int."""

TEMPLATE = "{name}, {age}, {city}"  # autotrace: param the line one record is written as


def parse(line):  # autotrace: param
    """The record a line written with TEMPLATE holds: {"name": str, "age": int, "city": str}."""
    name, age, city = line.split(", ")
    return {"name": name, "age": age, "city": city}


def main(record):
    line = TEMPLATE.format(**record)
    return {"line": line, "parsed": parse(line)}
