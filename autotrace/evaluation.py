"""What running the program with some values gave: one :class:`ExampleResult` per example, an
:class:`Evaluation` over them (score, rank, feedback text) and the :class:`Feedback` the optimizer reads.

These are the numbers the loop, the search, the probes and the report compare, so they live here, below
the CLI layer. :class:`ExampleResult` crosses two boundaries, the worker's result file and the run
store, and :meth:`ExampleResult.to_dict` / :meth:`ExampleResult.from_dict` are its one JSON codec.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import networkx as nx

from autotrace import graph as g
from autotrace.pool import example_labels
from autotrace.text import truncate

_MESSAGE_LIMIT = 600


@dataclass(frozen=True)
class ExampleResult:
    """One example's run: the judge's score (None when it gives only a message or the run failed),
    whether the entry raised (its message is then the traceback), the message, the example's input
    and the entry's output as short texts (``example`` is None when the judge has no examples; in
    ``--tests`` mode it is the test's node id and ``output`` its outcome), and the recorded run as
    :func:`autotrace.graph.to_json` gives it (None when it was not recorded)."""

    score: float | None = None
    failed: bool = False
    message: str = ""
    example: str | None = None
    output: str = ""
    graph: dict[str, Any] | None = None
    #: A validation example (``--holdout``, or the judge's ``{"train", "val"}``): kept out of the score.
    held_out: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (the worker's result file, the store's step records): one key per field."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExampleResult:
        """Read :meth:`to_dict`'s form back; a key a store written before it was added may lack takes
        its default."""
        return cls(score=data.get("score"), failed=bool(data.get("failed", False)), message=str(data.get("message") or ""),
                   example=None if data.get("example") is None else str(data["example"]),
                   output=str(data.get("output") or ""), graph=data.get("graph") or None,
                   held_out=bool(data.get("held_out", False)))

    def with_note(self, note: str) -> ExampleResult:
        """This result with ``note`` said after its message (what the run did outside its folders)."""
        return replace(self, message=f"{self.message}\n{note}".strip())


def examples_from_dicts(items: Iterable[Mapping[str, Any]]) -> tuple[ExampleResult, ...]:
    return tuple(ExampleResult.from_dict(item) for item in items)


@dataclass
class Feedback:
    """What one evaluated example says: its recorded run (None when it was not traced), a text, a score."""

    graph: nx.DiGraph | None
    text: str
    score: float | None


@dataclass(frozen=True)
class Evaluation:
    """What running the program with some values gave: per-example results, or why there were none."""

    examples: tuple[ExampleResult, ...]
    problem: str | None = None  # the program did not import or the worker crashed
    #: The validation examples (``--holdout``, or the judge's ``{"train", "val"}``): run with every
    #: candidate, kept out of its score, rank and feedback, so that the patch can be chosen on them.
    holdout: tuple[ExampleResult, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "examples", tuple(self.examples))
        object.__setattr__(self, "holdout", tuple(self.holdout))

    @classmethod
    def split(cls, examples: Iterable[ExampleResult], problem: str | None = None) -> Evaluation:
        """The examples the worker marked ``held_out`` as :attr:`holdout`, the others as :attr:`examples`."""
        examples = tuple(examples)
        return cls(tuple(e for e in examples if not e.held_out), problem, tuple(e for e in examples if e.held_out))

    def to_record(self) -> dict[str, Any]:
        """The JSON form the run store keeps (a step's, a pooled candidate's): :meth:`from_record` reads it."""
        return {"examples": [e.to_dict() for e in self.examples], "problem": self.problem,
                "holdout": [e.to_dict() for e in self.holdout]}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Evaluation:
        """Read :meth:`to_record`'s keys back from a stored record (``holdout`` absent in older stores)."""
        return cls(examples_from_dicts(record["examples"]), record.get("problem"),
                   examples_from_dicts(record.get("holdout", ())))

    @property
    def validation(self) -> Evaluation:
        """The validation examples as an evaluation of their own, of this one's kind (a test suite's
        describes itself as tests), failed when the program did not run."""
        return type(self)(self.holdout, self.problem)

    def example_scores(self) -> dict[str, float | None]:
        """Each example's score by its label (:func:`autotrace.pool.example_labels`), for the pool's
        per-example front: None when the example could not be judged, 0 when it ran unscored; nothing
        when the program did not run."""
        if self.problem:
            return {}
        return {label: None if e.failed else float(e.score) if e.score is not None else 0.0
                for label, e in zip(example_labels(self.examples), self.examples)}

    @property
    def failures(self) -> int:
        return len(self.examples) if self.problem else sum(1 for e in self.examples if e.failed)

    @property
    def score(self) -> float | None:
        """Mean judge score over the examples that ran (None when the judge gives only messages)."""
        scores = [e.score for e in self.examples if e.score is not None and not e.failed]
        return sum(scores) / len(scores) if scores and not self.problem else None

    @property
    def complete_score(self) -> float | None:
        """The score when every example ran and was scored, else None: what a measurement may compare."""
        return None if self.problem or self.failures else self.score

    @property
    def rank(self) -> tuple[float, float]:
        """Sort key, higher is better: fewer failing examples first, then the mean score."""
        if self.problem:
            return (-math.inf, -math.inf)
        score = self.score
        return (-float(self.failures), score if score is not None else -math.inf)

    def message(self) -> str:
        """All feedback in one text, each example's part kept short."""
        if self.problem:
            return self.problem
        if len(self.examples) == 1:
            return truncate(self.examples[0].message, _MESSAGE_LIMIT * 3, "ends")
        parts = []
        for i, example in enumerate(self.examples, 1):
            verdict = "FAILED" if example.failed else f"score {example.score}"
            parts.append(f"[example {i}] input {example.example} -> output {example.output}: "
                         f"{verdict}. {truncate(example.message, _MESSAGE_LIMIT, 'ends')}")
        return "\n".join(parts)

    def feedbacks(self) -> list[Feedback]:
        if self.problem:
            return [Feedback(graph=None, text=self.problem, score=None)]
        return [Feedback(graph=g.from_json(e.graph) if e.graph else None,
                         text=truncate(e.message, _MESSAGE_LIMIT * 3, "ends"), score=e.score)
                for e in self.examples]

    def describe(self) -> str:
        if self.problem:
            return "failed"
        score = self.score
        text = f"{score:.4g}" if score is not None else "n/a"
        text += f" ({self.failures}/{len(self.examples)} failed)" if self.failures else ""
        return text + (f", val {self.validation.describe()}" if self.holdout else "")
