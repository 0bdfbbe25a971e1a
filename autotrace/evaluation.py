"""What running the program with some values gave: one :class:`ExampleResult` per example (with its
other draws, when the run repeats each example), an :class:`Evaluation` over them (score, rank, feedback
text) and the :class:`Feedback` the optimizer reads. What the score means: :mod:`autotrace.scoring`.

These are the numbers the loop, the search, the probes and the report compare, so they live here, below
the CLI layer. :class:`ExampleResult` crosses two boundaries, the worker's result file and the run
store, and :meth:`ExampleResult.to_dict` / :meth:`ExampleResult.from_dict` are its one JSON codec.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, Self

import networkx as nx

from autotrace import graph as g
from autotrace.pool import example_labels
from autotrace.scoring import ScoreRule
from autotrace.text import truncate

_MESSAGE_LIMIT = 600


@dataclass(frozen=True)
class Draw:
    """One run of one example: the judge's score (None: a message only, or it raised) and whether it raised."""

    score: float | None
    failed: bool

    def value(self, failure: float) -> float | None:
        """What the draw counts for in a mean: ``failure`` (the run's failure score) when it raised."""
        return failure if self.failed else self.score


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
    #: The example's other draws (``--repeats``: the same example run again with other seeds); this
    #: result's own fields are the first draw's.
    more: tuple[Draw, ...] = ()

    @property
    def draws(self) -> tuple[Draw, ...]:
        return (Draw(self.score, self.failed), *self.more)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (the worker's result file, the store's step records): one key per field."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "more"}
        if self.more:  # (one draw: the layout written before draws existed)
            data["more"] = [[d.score, d.failed] for d in self.more]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExampleResult:
        """Read :meth:`to_dict`'s form back; a key a store written before it was added may lack takes
        its default."""
        return cls(score=data.get("score"), failed=bool(data.get("failed", False)),
                   message=str(data.get("message") or ""),
                   example=None if data.get("example") is None else str(data["example"]),
                   output=str(data.get("output") or ""), graph=data.get("graph") or None,
                   held_out=bool(data.get("held_out", False)),
                   more=tuple(Draw(None if d[0] is None else float(d[0]), bool(d[1])) for d in data.get("more") or ()))

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
    #: The example's input and the program's output as the worker recorded them (``repr`` texts; the
    #: input is None when the judge gives no examples): what instruction induction reads.
    example: str | None = None
    output: str = ""


@dataclass(frozen=True)
class Evaluation:
    """What running the program with some values gave: per-example results, or why there were none."""

    examples: tuple[ExampleResult, ...]
    problem: str | None = None  # the program did not import or the worker crashed
    #: The validation examples (``--holdout``, or the judge's ``{"train", "val"}``): run with every
    #: candidate, kept out of its score, rank and feedback, so that the patch can be chosen on them.
    holdout: tuple[ExampleResult, ...] = ()
    #: The run's scoring (its failure score), shared by all of its evaluations; None for an evaluation
    #: outside a run, whose failure score comes from its own scores (0 when they are all in [0, 1]).
    rule: ScoreRule | None = field(default=None, compare=False, repr=False)
    #: False when the program ran without the recorder (a measured search's point): its examples have no
    #: graph until :meth:`with_graphs` gives them a recorded run's.
    recorded: bool = field(default=True, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "examples", tuple(self.examples))
        object.__setattr__(self, "holdout", tuple(self.holdout))

    @classmethod
    def split(cls, examples: Iterable[ExampleResult], problem: str | None = None) -> Self:
        """The examples the worker marked ``held_out`` as :attr:`holdout`, the others as :attr:`examples`."""
        examples = tuple(examples)
        return cls(tuple(e for e in examples if not e.held_out), problem, tuple(e for e in examples if e.held_out))

    def to_record(self) -> dict[str, Any]:
        """The JSON form the run store keeps (a step's, a pooled candidate's): :meth:`from_record` reads it."""
        record = {"examples": [e.to_dict() for e in self.examples], "problem": self.problem,
                  "holdout": [e.to_dict() for e in self.holdout]}
        return record if self.recorded else {**record, "unrecorded": True}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Self:
        """Read :meth:`to_record`'s keys back from a stored record (``holdout`` absent in older stores)."""
        return cls(examples_from_dicts(record["examples"]), record.get("problem"),
                   examples_from_dicts(record.get("holdout", ())), recorded=not record.get("unrecorded", False))

    def with_graphs(self, again: Evaluation) -> Evaluation:
        """This evaluation with the graphs of ``again``, a recorded run of the same values: its scores,
        messages and outputs stay this one's (what the run compared and kept). An example that ``again``
        judged otherwise (a program whose output varies beyond its seed) says so in its message, since its
        graph then shows another output than the one scored."""
        def joined(kept: tuple[ExampleResult, ...], recorded: tuple[ExampleResult, ...]) -> tuple[ExampleResult, ...]:
            out = []
            for i, example in enumerate(kept):
                other = recorded[i] if i < len(recorded) and not again.problem else None
                if other is None:
                    out.append(example)
                    continue
                example = replace(example, graph=other.graph)
                if (other.score, other.failed, other.output) != (example.score, example.failed, example.output):
                    verdict = "raised" if other.failed else f"scored {other.score}"
                    example = example.with_note(f"(the recorded run shown is another run of the same values: "
                                                f"it returned {truncate(other.output, 200)} and {verdict})")
                out.append(example)
            return tuple(out)

        return replace(self, examples=joined(self.examples, again.examples),
                       holdout=joined(self.holdout, again.holdout), recorded=True)

    @property
    def validation(self) -> Evaluation:
        """The validation examples as an evaluation of their own, of this one's kind (a test suite's
        describes itself as tests), failed when the program did not run."""
        return type(self)(self.holdout, self.problem, rule=self.rule)

    def under(self, rule: ScoreRule) -> Evaluation:
        """This evaluation scored by a run's ``rule`` (which takes its scores into account)."""
        rule.see(self.judged())
        return replace(self, rule=rule)

    def judged(self) -> list[float]:
        """Every score the judge gave, validation examples and every draw included."""
        return [d.score for e in (*self.examples, *self.holdout) for d in e.draws
                if d.score is not None and not d.failed]

    @classmethod
    def combine(cls, draws: Sequence[Evaluation]) -> Evaluation:
        """One evaluation of the same values run several times (``--repeats``): the first draw's results
        with the others' scores as each example's :attr:`ExampleResult.more`. A draw whose program did
        not run counts as raising on every example; when the first did not run, neither did this."""
        first = draws[0]
        if first.problem or len(draws) == 1:
            return first

        def merged(results: tuple[ExampleResult, ...],
                   others: list[tuple[ExampleResult, ...]]) -> tuple[ExampleResult, ...]:
            out = []
            for i, result in enumerate(results):
                more = [*result.more]
                for other in others:
                    more.extend(other[i].draws if i < len(other) else (Draw(None, True),))
                out.append(replace(result, more=tuple(more)))
            return tuple(out)

        def part(evaluation: Evaluation, name: str) -> tuple[ExampleResult, ...]:
            return () if evaluation.problem else getattr(evaluation, name)

        return replace(first, examples=merged(first.examples, [part(d, "examples") for d in draws[1:]]),
                       holdout=merged(first.holdout, [part(d, "holdout") for d in draws[1:]]))

    @property
    def failure_score(self) -> float:
        """What an example that raised scores (:class:`autotrace.scoring.ScoreRule`)."""
        if self.rule is not None:
            return self.rule.failure_score
        own = ScoreRule()  # the same rule over this evaluation's scores alone
        own.see(self.judged())
        return own.failure_score

    def example_scores(self) -> dict[str, float | None]:
        """Each example's score by its label (:func:`autotrace.pool.example_labels`), for the pool's
        per-example front: the mean of its draws, a raising draw at the failure score, 0 when it ran
        unscored; nothing when the program did not run."""
        if self.problem:
            return {}
        failure = self.failure_score
        return {label: _mean([d.value(failure) or 0.0 for d in e.draws])
                for label, e in zip(example_labels(self.examples), self.examples, strict=False)}

    @property
    def raised(self) -> int:
        """Runs that raised (or timed out): every draw of every example counted; all when nothing ran."""
        if self.problem:
            return max(1, len(self.examples))
        return sum(d.failed for e in self.examples for d in e.draws)

    @property
    def runs(self) -> int:
        """Runs judged: examples times draws."""
        return sum(len(e.draws) for e in self.examples)

    @property
    def failures(self) -> int:
        """Examples whose (first) run raised: what the feedback calls failed."""
        return len(self.examples) if self.problem else sum(1 for e in self.examples if e.failed)

    @property
    def score(self) -> float | None:
        """The judge's mean over every example (each example the mean of its draws), a raising run
        scoring :attr:`failure_score`; None when the program did not run or the judge gives only
        messages."""
        if self.problem:
            return None
        failure = self.failure_score
        means = []
        for example in self.examples:
            known = [v for d in example.draws if (v := d.value(failure)) is not None]
            if known:
                means.append(_mean(known))
        return _mean(means) if means else None

    @property
    def stderr(self) -> float | None:
        """The standard error of :attr:`score` from its draws (the spread of each draw's mean over the
        examples); None with one draw."""
        draws = min((len(e.draws) for e in self.examples), default=1)
        if self.problem or draws < 2:
            return None
        failure = self.failure_score
        per_draw = []
        for k in range(draws):
            known = [v for e in self.examples if (v := e.draws[k].value(failure)) is not None]
            if known:
                per_draw.append(_mean(known))
        if len(per_draw) < 2:
            return None
        mean = _mean(per_draw)
        return math.sqrt(sum((v - mean) ** 2 for v in per_draw) / (len(per_draw) - 1) / len(per_draw))

    @property
    def complete_score(self) -> float | None:
        """The score when no run raised, else None: what reaching ``--target`` requires."""
        return None if self.problem or self.raised else self.score

    @property
    def rank(self) -> tuple[float, float]:
        """Sort key, higher is better: the score, then fewer raising runs (ties only)."""
        if self.problem:
            return (-math.inf, -math.inf)
        score = self.score
        return (score if score is not None else -math.inf, -float(self.raised))

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
                         text=truncate(e.message, _MESSAGE_LIMIT * 3, "ends"), score=e.score,
                         example=e.example, output=e.output)
                for e in self.examples]

    def describe(self) -> str:
        """The score as progress, ``show`` and the report say it: ``0.5, 3 of 6 raised``; with draws,
        ``0.5 ± 0.04``."""
        if self.problem:
            return "failed"
        score, stderr = self.score, self.stderr
        text = f"{score:.4g}" if score is not None else "n/a"
        text += f" ± {stderr:.2g}" if stderr is not None else ""
        text += f", {self.raised} of {self.runs} raised" if self.raised else ""
        return text + (f", val {self.validation.describe()}" if self.holdout else "")


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)
