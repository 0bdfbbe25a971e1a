"""What the run store (:mod:`autotrace.store`) holds: a run's row (:class:`RunRecord`: how it was started,
:class:`RunConfig` with its :class:`Scoring`, and how it ended, :class:`RunSummary`), its steps
(:class:`StepRecord`) and its pool's candidates (:class:`CandidateRecord`).

The engine writes them, and ``autotrace show``, ``runs``, the report, resume and the benchmarks read them
back; each of them names a field instead of spelling a key, and each type's ``to_…``/``from_…`` pair is
the one JSON codec between it and its column. The JSON keeps the layout autotrace wrote before these
types existed, so older stores open unchanged; the run's config, summary and pool rows carry a
:data:`RECORD_VERSION`, and one written by a newer autotrace is refused with one line.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from autotrace.evaluation import Evaluation
from autotrace.llm.timings import UNREPORTED, ServerTimings
from autotrace.pool import Candidate


@dataclass(frozen=True)
class OtherAnswer:
    """One of a step's answers besides the one the step kept (``--candidates``)."""

    response: str
    error: str | None
    candidate: Mapping[str, str]  # the values it proposed, as text


@dataclass(frozen=True)
class StepRecord:
    """One stored optimizer step: the values it ended with and their evaluation, what was proposed (or
    measured) and why, the prompt and the answer, and what the step cost."""

    values: Mapping[str, str]  # every parameter's text after the step
    evaluation: Evaluation
    candidate: Mapping[str, str] = field(default_factory=dict)  # what the step proposed or measured
    rejected: Mapping[str, str] = field(default_factory=dict)  # parameter (or "") -> why the validator refused it
    reasoning: str = ""
    prompt: tuple[Mapping[str, Any], ...] = ()  # the messages sent
    response: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    seconds: float = 0.0
    note: str = ""
    sensitivity: str = ""  # the measured #Sensitivity shown to the optimizer
    #: The score of every program run the step made (None: not recorded by the autotrace that made the run).
    evaluated: tuple[float | None, ...] | None = None
    #: The pooled candidate(s) the step started from, by id (:class:`autotrace.pool.Candidate`); the
    #: report draws the lineage from them.
    parent: tuple[int, ...] = ()
    front: tuple[int, ...] = ()  # the pool's front after the step, by candidate id
    other_answers: tuple[OtherAnswer, ...] = ()
    merge: MergeNote | None = None
    step: int = 0  # set by the store when the record is read
    created: float | None = None  # set by the store when the record is read
    #: The evaluation in words and its feedback text as the writer gave them ("" when building a record:
    #: taken from ``evaluation``). Stored, not recomputed on reading: a test suite's evaluation describes
    #: itself in tests ("0.667 (2/3 pass)"), which the stored examples alone do not say.
    describe: str = ""
    feedback: str = ""
    #: What the server said the step's model calls cost: prompt tokens evaluated and taken from its cache,
    #: tokens generated, and the seconds of each (:mod:`autotrace.llm.timings`).
    timings: ServerTimings = UNREPORTED
    #: The model's answers the step had (those asked, not skipped as a repeated question) and how many
    #: of them were new: changed something, and gave values not evaluated before in the run. None: a
    #: step that asked nothing, or an autotrace that did not count them.
    answers: int | None = None
    new_answers: int | None = None

    def __post_init__(self) -> None:
        if not self.describe:
            object.__setattr__(self, "describe", self.evaluation.describe())
        if not self.feedback:
            object.__setattr__(self, "feedback", self.evaluation.message())
        for name in ("prompt", "parent", "front", "other_answers"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.evaluated is not None:
            object.__setattr__(self, "evaluated", tuple(self.evaluated))

    @property
    def score(self) -> float | None:
        return self.evaluation.score

    @property
    def status(self) -> str:
        return "ok" if self.evaluation.problem is None else "failed"

    @property
    def runs(self) -> int | None:
        """Programs run in this step (None: not recorded)."""
        return None if self.evaluated is None else len(self.evaluated)

    def to_record(self) -> dict[str, Any]:
        """The JSON form of the ``steps.record`` column (without ``step`` and ``created``: they are
        columns of their own); :meth:`from_record` reads it."""
        record: dict[str, Any] = {
            "values": dict(self.values), "score": self.score, "describe": self.describe, "feedback": self.feedback,
            **self.evaluation.to_record(), "candidate": dict(self.candidate), "rejected": dict(self.rejected),
            "reasoning": self.reasoning, "prompt": [dict(m) for m in self.prompt], "response": self.response,
            "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens, "cached": self.cached,
            "seconds": self.seconds, "note": self.note, "sensitivity": self.sensitivity,
            "timings": self.timings.to_json(),
        }
        if self.evaluated is not None:
            record.update(runs=len(self.evaluated), evaluated=list(self.evaluated))
        record.update(status=self.status, parent=list(self.parent), front=list(self.front),
                      other_answers=[asdict(a) for a in self.other_answers],
                      merge=asdict(self.merge) if self.merge else None)
        if self.answers is not None:
            record.update(answers=self.answers, new_answers=self.new_answers)
        return record

    @classmethod
    def from_record(cls, data: Mapping[str, Any], step: int = 0, created: float | None = None) -> StepRecord:
        """Read :meth:`to_record`'s form back. A key a store written before it was added may lack takes its
        default (``evaluated``, ``parent``, ``front``, ``other_answers``, ``merge``, ``holdout``, ``answers``,
        ``new_answers``)."""
        merge = data.get("merge")
        evaluated = data.get("evaluated")
        return cls(
            values=_texts(data.get("values")), evaluation=Evaluation.from_record(data),
            candidate=_texts(data.get("candidate")),
            rejected=_texts(data.get("rejected")),
            reasoning=str(data.get("reasoning") or ""), prompt=tuple(data.get("prompt") or ()),
            response=str(data.get("response") or ""), prompt_tokens=int(data.get("prompt_tokens") or 0),
            completion_tokens=int(data.get("completion_tokens") or 0), cached=bool(data.get("cached")),
            seconds=float(data.get("seconds") or 0.0), note=str(data.get("note") or ""),
            sensitivity=str(data.get("sensitivity") or ""),
            evaluated=tuple(evaluated) if isinstance(evaluated, list) else None,
            parent=_ids(data.get("parent")), front=_ids(data.get("front")),
            other_answers=tuple(OtherAnswer(str(a.get("response") or ""), a.get("error"), _texts(a.get("candidate")))
                                for a in data.get("other_answers") or ()),
            merge=MergeNote(str(merge.get("note") or ""), str(merge.get("response") or "")) if merge else None,
            step=step, created=created,
            describe=str(data.get("describe") or ""), feedback=str(data.get("feedback") or ""),
            timings=ServerTimings.from_json(data.get("timings")),
            answers=_count(data.get("answers")), new_answers=_count(data.get("new_answers")),
        )


@dataclass(frozen=True)
class Scoring:
    """The settings that decide what a run's scores mean, beyond the program and its judge: which tests are
    run (``--tests PATH``, ``-k``) and which examples or tests are held out (``--holdout``,
    ``--holdout-tests``). Stored with the run (its config's ``scoring``): a resumed run scored otherwise
    would compare its new candidates with a pool whose scores meant something else.

    On resume the stored settings are used; one the user gives again with a different value is an error
    (:meth:`resumed`) rather than overridden: a user who types ``--holdout-tests slow`` means it, and a run
    cannot honour it halfway, so they are told to start a new run (or drop the option) before anything is
    run or asked."""

    holdout: float = 0.0  # the fraction of the judge's examples held out
    tests: str | None = None  # the tests run (``--tests``), as an absolute path; None: a judge's run
    keyword: str | None = None  # ``-k``
    holdout_tests: str | None = None  # ``--holdout-tests``
    #: Draws per example, whether the paired test compares candidates, and the failure score the user
    #: set (:class:`autotrace.scoring.ScoreRule`): decided when the run starts, kept on resume.
    repeats: int = 1
    noisy: bool = False
    failure_score: float | None = None
    seed: int = 0  # the run's seed (``--seed``): which examples are held out, each draw's seed

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Scoring:
        """Read :meth:`to_json`'s form back (a key missing takes its default)."""
        def text(key: str) -> str | None:
            return None if data.get(key) is None else str(data[key])

        failure = data.get("failure_score")
        return cls(holdout=float(data.get("holdout") or 0.0), tests=text("tests"), keyword=text("keyword"),
                   holdout_tests=text("holdout_tests"), repeats=int(data.get("repeats") or 1),
                   noisy=bool(data.get("noisy")), failure_score=None if failure is None else float(failure),
                   seed=int(data.get("seed") or 0))

    def resumed(self, given: Scoring, explicit: Collection[str], run_id: str) -> Scoring:
        """The scoring run ``run_id`` goes on with: this one, the stored. ValueError (one line) when ``given``
        (what the command line says) asks for other tests, or gives an option in ``explicit`` (field names
        the user typed) another value."""
        if given.tests != self.tests:
            started = f"the tests in {self.tests}" if self.tests else "a program under a judge"
            raise ValueError(f"run {run_id} optimized {started}, not "
                             + (f"the tests in {given.tests}" if given.tests else "a program under a judge")
                             + ": resume it as it was started, or start a new run")
        for name, option in SCORING_OPTIONS.items():
            stored, asked = getattr(self, name), getattr(given, name)
            if name in explicit and asked != stored:
                raise ValueError(f"run {run_id} was started with {_said(option, stored)}, not {_said(option, asked)}: "
                                 f"drop {option} to resume it as it was, or start a new run")
        return self

    def restored(self, given: Scoring) -> list[str]:
        """The options whose stored value differs from ``given`` (the command line's defaults), as
        ``--holdout-tests 'slow'``: what a resumed run says it keeps."""
        return [_said(option, getattr(self, name)) for name, option in SCORING_OPTIONS.items()
                if getattr(self, name) != getattr(given, name)]


#: The options of :class:`Scoring` a resume may leave out, by field (the ``optimize`` command's parameter
#: names are the field names).
SCORING_OPTIONS = {"holdout": "--holdout", "keyword": "-k", "holdout_tests": "--holdout-tests", "seed": "--seed"}


def _said(option: str, value: Any) -> str:
    if value is None:
        return f"no {option}"
    return f"{option} {value!r}" if isinstance(value, str) else f"{option} {value:g}"


#: The layout version of the JSON written for a run's config (:class:`RunConfig`), its summary
#: (:class:`RunSummary`) and its pool's rows (:class:`CandidateRecord`). A record without one has the
#: layout written before versions were (the same keys, some missing: they take their defaults); a record
#: of a higher version was written by a newer autotrace and is not read (:class:`RecordError`).
RECORD_VERSION = 1


class RecordError(ValueError):
    """A stored record this autotrace cannot read (a newer version's, or not a record); one line."""


def _checked(data: Any, what: str) -> Mapping[str, Any]:
    """``data`` as a record of a version this autotrace reads, or :class:`RecordError`."""
    if not isinstance(data, Mapping):
        raise RecordError(f"{what} is not a record ({type(data).__name__})")
    version = data.get("version", RECORD_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version > RECORD_VERSION:
        raise RecordError(f"{what} has record version {version!r}, written by a newer autotrace (this one reads up "
                          f"to {RECORD_VERSION}): upgrade autotrace to read it")
    return data


@dataclass(frozen=True)
class RunSubject:
    """What a run optimizes: the program (``target``, None for a test suite's run), its judge, the entry
    function called and the selectors that named parameters besides the markers."""

    target: str | None = None
    judge: str | None = None
    entry: str | None = None
    selectors: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunConfig:
    """How a run was started (the ``runs.config`` column): what it optimizes, with which optimizer and
    model, over which parameters in which project, and what its scores mean."""

    subject: RunSubject = RunSubject()
    steps: int = 0
    optimizer: str = ""
    model: str = ""
    params: tuple[str, ...] = ()  # the parameters' names
    root: str | None = None  # the project's folder
    candidates: int = 1  # answers asked for per step
    scoring: Scoring | None = None  # None: a run stored before the scoring was

    def to_json(self) -> dict[str, Any]:
        """The JSON form of the column (flat: the subject's fields beside the others); :meth:`from_json`."""
        return {"version": RECORD_VERSION, **asdict(self.subject), "selectors": list(self.subject.selectors),
                "steps": self.steps, "optimizer": self.optimizer, "model": self.model, "params": list(self.params),
                "root": self.root, "candidates": self.candidates,
                "scoring": self.scoring.to_json() if self.scoring else None}

    @classmethod
    def from_json(cls, data: Any, what: str = "the run's config") -> RunConfig:
        """Read :meth:`to_json`'s form back (a key missing takes its default); :class:`RecordError` for a
        newer version's record."""
        data = _checked(data, what)
        scoring = data.get("scoring")
        return cls(subject=RunSubject(target=_text(data, "target"), judge=_text(data, "judge"),
                                      entry=_text(data, "entry"),
                                      selectors=tuple(str(s) for s in data.get("selectors") or ())),
                   steps=int(data.get("steps") or 0), optimizer=str(data.get("optimizer") or ""),
                   model=str(data.get("model") or ""), params=tuple(str(p) for p in data.get("params") or ()),
                   root=_text(data, "root"), candidates=int(data.get("candidates") or 1),
                   scoring=Scoring.from_json(scoring) if isinstance(scoring, Mapping) else None)


@dataclass(frozen=True)
class RunSummary:
    """How a finished run ended (the ``runs.best`` column): its best values and their evaluation, whether
    it reached the target, how many programs it ran, why it stopped early and why it wrote no patch."""

    score: float | None = None
    describe: str = ""  # the best evaluation in words, as the progress line says it
    validation: float | None = None  # the best values' score on the held-out examples (None: none held out)
    values: Mapping[str, str] = field(default_factory=dict)  # every parameter's best value, as text
    reached_target: bool = False
    evaluations: int = 0
    stopped: str = ""  # why the run ended before its last step ("" for none)
    no_patch: str = ""  # why no patch was written ("" when one was)

    def to_json(self) -> dict[str, Any]:
        """The JSON form of the column; :meth:`from_json` reads it."""
        return {"version": RECORD_VERSION, **asdict(self), "values": dict(self.values)}

    @classmethod
    def from_json(cls, data: Any, what: str = "the run's summary") -> RunSummary:
        """Read :meth:`to_json`'s form back (a key missing takes its default); :class:`RecordError` for a
        newer version's record."""
        data = _checked(data, what)
        return cls(score=_number(data.get("score")), describe=str(data.get("describe") or ""),
                   validation=_number(data.get("validation")), values=_texts(data.get("values")),
                   reached_target=bool(data.get("reached_target")), evaluations=int(data.get("evaluations") or 0),
                   stopped=str(data.get("stopped") or ""), no_patch=str(data.get("no_patch") or ""))


@dataclass(frozen=True)
class CandidateRecord:
    """One row of a run's pool (the ``candidates`` table): the candidate and its evaluation."""

    candidate: Candidate
    evaluation: Evaluation

    def to_record(self) -> dict[str, Any]:
        """The JSON form of the row (the evaluation's keys beside ``candidate``); :meth:`from_record`."""
        return {"version": RECORD_VERSION, "candidate": self.candidate.to_json(), **self.evaluation.to_record()}

    @classmethod
    def from_record(cls, data: Any, what: str = "a pool's candidate") -> CandidateRecord:
        """Read :meth:`to_record`'s form back; :class:`RecordError` for a newer version's record."""
        data = _checked(data, what)
        try:
            return cls(Candidate.from_json(data["candidate"]), Evaluation.from_record(data))
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordError(f"{what} is not a candidate record ({type(exc).__name__}: {exc})") from None


@dataclass(frozen=True)
class RunRecord:
    """One run's row: when and how it was started (:class:`RunConfig`), how it ended (:class:`RunSummary`,
    None while it runs) and how many steps it stored."""

    id: str
    created: float
    finished: float | None
    status: str
    best_score: float | None
    steps: int  # stored steps, the initial values' step 0 included
    config: RunConfig
    best: RunSummary | None

    @property
    def scoring(self) -> Scoring | None:
        """What the run's scores mean (:class:`Scoring`); None for a run stored before it was recorded."""
        return self.config.scoring

    @property
    def best_describe(self) -> str:
        """The best result as the progress line says it ("" while the run has none)."""
        return self.best.describe if self.best else ""

    def to_json(self) -> dict[str, Any]:
        """The row as JSON (``autotrace show --json``)."""
        return {"id": self.id, "created": self.created, "finished": self.finished, "status": self.status,
                "best_score": self.best_score, "steps": self.steps, "config": self.config.to_json(),
                "best": self.best.to_json() if self.best else None}


@dataclass(frozen=True)
class MergeNote:
    """What a step's merge of two candidates did, and the model's reply when it was asked."""

    note: str
    response: str


def _texts(data: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (data or {}).items()}


def _text(data: Mapping[str, Any], key: str) -> str | None:
    return None if data.get(key) is None else str(data[key])


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _ids(data: Sequence[Any] | None) -> tuple[int, ...]:
    return tuple(int(i) for i in data or ())


def _count(data: Any) -> int | None:
    return None if data is None else int(data)
