"""Parameter kinds: one enum, read from the wire word, written back as the same word."""

import json
from pathlib import Path

import pytest

from autotrace.params import ParamKind, ParamSpec
from autotrace.recorder import ParamNode


def spec(kind: object) -> ParamSpec:
    return ParamSpec(key="m.py::X", path=Path("m.py"), module="m", qualname="X", kind=kind,  # type: ignore[arg-type]
                     description="", initial=1, line=1)


@pytest.mark.parametrize(("word", "kind"), [("literal", ParamKind.LITERAL), ("code", ParamKind.CODE)])
def test_the_wire_word_becomes_the_enum_member_and_back(word: str, kind: ParamKind) -> None:
    assert spec(word).kind is kind
    assert ParamNode("m.X", 1, word).kind is kind
    assert json.loads(json.dumps({"kind": spec(word).kind})) == {"kind": word}


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="'function' is not a valid ParamKind"):
        spec("function")
