"""The optimizer API shared by OptoPrime and OPRO, shaped like PyTorch's.

``zero_feedback()`` / ``backward(feedback)`` (once per evaluated example) / ``step()``. Unlike
PyTorch, ``step()`` only *proposes*: the loop evaluates the proposal and calls ``accept()`` with the
values the next prompt is about: the last evaluated candidate, even a worse one, so the model sees
the feedback its own change caused; if it then proposes no change, the best values again (the best
values are kept apart for the patch).

Everything sent to the model is counted with :func:`estimate_tokens` against ``budget_tokens``, so a
prompt never overflows the model's context window, whatever the size of the recorded run.
"""

from __future__ import annotations

import json
import math
import textwrap
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from string import Template
from typing import TYPE_CHECKING, Any

from autotrace.config import CODE_FORMATS, DEFAULTS
from autotrace.evaluation import Feedback
from autotrace.llm.timings import UNREPORTED, ServerTimings
from autotrace.optimizers.code_answer import CUT_OFF, ESCAPING_HINT, ONE_FUNCTION_STOP, code_cut_off, parse_code_answer
from autotrace.optimizers.credit import implicated
from autotrace.optimizers.focus import Focus
from autotrace.optimizers.uses import inputs_beside
from autotrace.optimizers.validate import answer_schema, validate
from autotrace.params import ParamKind, ParamSpec, value_to_text, written_whole
from autotrace.text import truncate

if TYPE_CHECKING:
    from autotrace.llm.client import LLM, LLMConfig, LLMReply, Sampling

#: ASCII characters per token for the estimate. Real BPE tokenizers average ~4 on English and
#: ~3.5 on code; digits and non-ASCII characters are counted as one token each (Qwen and Llama-3
#: split numbers into single digits), so the estimate errs on the high side.
CHARS_PER_TOKEN = 3.5
#: Tokens a chat template adds around each message (role markers, separators).
MESSAGE_OVERHEAD = 8
_DROP_DIGITS = str.maketrans("", "", "0123456789")


def estimate_tokens(text: str) -> int:
    """A cheap, conservative token count: no tokenizer is needed, and it runs at C speed (O(len))."""
    if not text:
        return 0
    digits = len(text) - len(text.translate(_DROP_DIGITS))
    wide = 0 if text.isascii() else len(text) - len(text.encode("ascii", "ignore"))
    return digits + wide + math.ceil((len(text) - digits - wide) / CHARS_PER_TOKEN)


def prompt_tokens(messages: Sequence[Mapping[str, str]], schema: Mapping[str, Any] | None = None) -> int:
    """Estimated prompt size of a chat request; the schema counts too (some servers put it in the prompt)."""
    total = sum(estimate_tokens(m["content"]) + MESSAGE_OVERHEAD for m in messages)
    return total + (estimate_tokens(repr(schema)) if schema else 0)


def default_budget(config: LLMConfig) -> int:
    """Prompt tokens that fit the window with room for the answer and a margin for estimate error."""
    margin = max(256, config.context_tokens // 16)
    budget = config.context_tokens - config.max_tokens - margin
    if budget < 512:
        raise ValueError(
            f"context_tokens={config.context_tokens} leaves only {budget} prompt tokens after "
            f"max_tokens={config.max_tokens}: use a larger context or a smaller max_tokens"
        )
    return budget


@cache
def load_prompt(name: str) -> str:
    """A prompt file from ``autotrace/prompts`` (package data, so prompts are edited as text)."""
    return files("autotrace").joinpath("prompts", name).read_text(encoding="utf-8")


def fill(name: str, **values: str) -> str:
    """Fill a ``$placeholder`` template (``string.Template``: JSON braces in prompts need no escaping)."""
    return Template(load_prompt(name)).substitute(values)


@dataclass(frozen=True)
class Sensitivity:
    """Measurements made for this step: ``text`` for the #Sensitivity section, ``estimates`` the value
    each numeric parameter is estimated to need (also shown in its slot of the answer format)."""

    text: str = ""
    estimates: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Attempt:
    """One earlier candidate for the memory: its values as text (code as source), score and feedback."""

    values: dict[str, str]
    score: float | None
    feedback: str


@dataclass(frozen=True)
class Tried:
    """A value a parameter had in an evaluated attempt (as text: code as source) and that attempt's score."""

    text: str
    score: float | None


@dataclass
class Proposal:
    """What one ``step()`` produced. ``values`` holds only validated, changed values (code as source)."""

    values: dict[str, Any]
    rejected: dict[str, str]
    reasoning: str
    messages: list[dict]
    response: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    cached: bool
    error: str | None
    #: The step's question had been asked before and the LLM repeats itself (see ``LLM.repeats_itself``),
    #: so it was not asked again: the answer would be the one that led here, and the run has stalled.
    repeated: bool = False
    #: Its only problem was its form, not its idea: code that did not parse after coming out of a JSON
    #: string (its escaping), or code cut off by the max_tokens limit. The loop does not count it as an
    #: answer that changed nothing.
    escaping: bool = False
    #: What the server said the answer cost (prompt tokens evaluated and reused from its cache, seconds).
    timings: ServerTimings = UNREPORTED
    #: The parameter a one-parameter question was about (None: the whole problem), and how it was put
    #: (:class:`autotrace.optimizers.focus.Way`'s value): what the next question varies when it collapsed.
    about: str | None = None
    way: str = ""
    #: The parameters the answer gave again as they are (an answer rewriting a function unchanged).
    unchanged: tuple[str, ...] = ()

    @classmethod
    def from_reply(cls, messages: list[dict], reply: LLMReply, values: dict[str, Any], rejected: dict[str, str],
                   reasoning: str, error: str | None) -> Proposal:
        """The proposal an answer gave: ``values`` and ``rejected`` as read from it, the reply's costs."""
        return cls(values=values, rejected=rejected, reasoning=reasoning, messages=messages, response=reply.text,
                   prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens,
                   seconds=reply.seconds, cached=reply.cached, error=error, timings=reply.timings)

    @classmethod
    def failed(cls, messages: list[dict], error: str) -> Proposal:
        """No answer: the question could not be asked (``error`` says why)."""
        return cls({}, {}, "", messages, "", 0, 0, 0.0, False, error)


class BudgetError(ValueError):
    """The parameters alone do not fit the prompt budget, so no prompt can be built."""


class Optimizer(ABC):
    """Holds the current values, the feedback of this step and the memory; subclasses write the prompt.

    ``instruction`` says what the program should achieve; without it a generic objective is used.
    With ``code_as_code`` (a class setting) a problem with a (code) variable is asked for a free-form
    answer with the code in fenced blocks (:mod:`.code_answer`) instead of a JSON object.
    """

    code_as_code = False

    def __init__(
        self,
        params: Sequence[ParamSpec],
        llm: LLM,
        *,
        budget_tokens: int | None = None,
        memory: int = 5,
        instruction: str | None = None,
        code_format: str = DEFAULTS["code_format"],
    ) -> None:
        if code_format not in CODE_FORMATS:
            raise ValueError(f"code_format must be one of {', '.join(CODE_FORMATS)}, not {code_format!r}")
        if not params:
            raise ValueError("an optimizer needs at least one parameter")
        names = [p.name for p in params]
        if len(set(names)) != len(names):
            raise ValueError(f"parameter names must be unique: {sorted(n for n in names if names.count(n) > 1)}")
        self.params: tuple[ParamSpec, ...] = tuple(params)
        self.llm = llm
        self.budget_tokens = default_budget(llm.config) if budget_tokens is None else budget_tokens
        self.memory = memory
        self.instruction = (instruction or load_prompt("default_instruction.txt")).strip()
        self.code_format = code_format
        self.values: dict[str, Any] = {p.name: p.initial for p in params}
        self.feedback: list[Feedback] = []
        self.attempts: list[Attempt] = []
        #: What the loop measured about this step's values beyond the feedback (its numeric
        #: sensitivity probes): a prompt section and an estimated value per probed parameter.
        self.sensitivity = Sensitivity()
        #: Problems with the previous step's answer (name -> reason, "" for the whole answer),
        #: shown to the model once so it can correct itself.
        self.last_problems: dict[str, str] = {}
        self._asked: set[str] = set()  # ``LLM.question_key`` of each question asked, to see one repeated
        #: Which parameter the reflective question asks about next, and how (:meth:`reflect`).
        self.focus = Focus()
        #: The answers that gave nothing new since the last one-parameter question, said in the next:
        #: the parameters each was about and why (:meth:`collapsed`).
        self.collapses: list[tuple[tuple[str, ...], str]] = []

    def zero_feedback(self) -> None:
        self.feedback.clear()

    def backward(self, feedback: Feedback) -> None:
        self.feedback.append(feedback)

    def accept(self, values: Mapping[str, Any]) -> None:
        unknown = set(values) - set(self.values)
        if unknown:
            raise KeyError(f"unknown parameters: {sorted(unknown)}")
        self.values.update(values)

    def remember(self, attempt: Attempt) -> None:
        """Add ``attempt`` to the memory, unless it has the values of the last one: a step that changed
        nothing leaves the memory as it was (rather than pushing real attempts out of it), so the next
        question is this one's again, which :meth:`step` recognises."""
        if not self.attempts or self.attempts[-1].values != attempt.values:
            self.attempts.append(attempt)

    def step(self) -> Proposal:
        """Ask the model once and validate its answer; ``self.values`` is left unchanged.

        A bad answer gives a Proposal with ``error`` set (and no values), a question asked before of an
        LLM that repeats itself one with ``repeated`` set; only an unusable endpoint raises
        (:class:`autotrace.llm.client.LLMError`).
        """
        return self.step_many([self.llm.sampling])[0]

    def step_many(self, samplings: Sequence[Sampling]) -> list[Proposal]:
        """One answer per sampling (temperature and seed) to the same prompt, asked concurrently
        (``--candidates``): the prompt is built once, and a server with as many slots decodes them side
        by side. Each answer is validated as :meth:`step` validates one; #Problems for the next step
        gathers theirs."""
        if not self.feedback:
            return [Proposal.failed([], "no feedback: call backward() before step()") for _ in samplings]
        text = self.answers_in_text
        schema = None if text else answer_schema(self.params, self.values)
        try:
            messages = self.build_messages(self.budget_tokens - prompt_tokens([], schema))
        except BudgetError as exc:
            return [Proposal.failed([], str(exc)) for _ in samplings]
        stop = self.answer_stop if text else ()
        asked: list[Sampling] = []
        for sampling in samplings:
            question = self.llm.question_key(messages, schema, text=text, sampling=sampling, stop=stop)
            if question not in self._asked or not self.llm.repeats_itself:
                self._asked.add(question)
                asked.append(sampling)

        def ask(sampling: Sampling) -> LLMReply:
            if text:
                return self.llm.complete_text(messages, sampling=sampling, stop=stop)
            return self.llm.complete_json(messages, schema, sampling=sampling)

        with ThreadPoolExecutor(max_workers=max(1, len(asked))) as pool:
            replies = dict(zip(asked, pool.map(ask, asked), strict=True))
        proposals, problems = [], {}
        for sampling in samplings:
            if sampling not in replies:
                proposals.append(Proposal({}, {}, "", messages, "", 0, 0, 0.0, False, None, repeated=True))
                continue
            reply = replies[sampling]
            proposals.append(self._text_proposal(messages, reply) if text else self._proposal(messages, reply))
            problems.update(self.last_problems)
        answered = [p for p in proposals if not p.repeated]
        if answered:
            self.last_problems = problems
        if answered and not any(p.values or p.rejected or p.error for p in answered):
            # Small models often answer "keep everything" although the feedback says the output is wrong.
            # Asking again in the same conversation re-sends the whole prompt and seldom changes the
            # answer (docs/decisions/answers-and-questions.md); saying so in the next step's #Problems
            # costs a line, and makes that prompt differ from this one.
            # With a function among the variables, "how far to move it" is no help: say how code changes.
            code = any(p.kind is ParamKind.CODE for p in self.params)
            self.last_problems = {"": load_prompt("unchanged_code.txt" if code else "unchanged.txt").strip()}
        return proposals

    def measured(self, sensitivity: Sensitivity) -> None:
        """What this step's probes measured about the current values: shown in every prompt until the next step's."""
        self.sensitivity = sensitivity

    def tell(self, problem: str) -> None:
        """A problem with the last answer that its values do not show (it repeated a candidate run
        before): said in the next prompt's #Problems."""
        self.last_problems[""] = problem

    def reflect(self, sampling: Sampling) -> Proposal | None:
        """The reflective question (:mod:`.reflect`) about the one parameter the feedback implicates most
        that was not tried without gain, put another way after answers about it collapsed (:mod:`.focus`),
        or None when no parameter can be asked about alone. What it rejects is said in the next whole
        prompt's #Problems."""
        from autotrace.optimizers.reflect import reflect, reflect_targets, tried_scores

        targets = reflect_targets(self.params, self.values, self.feedback)
        if not targets:
            return None
        best = max((a.score for a in self.attempts if a.score is not None), default=None)
        ask = self.focus.ask(targets, implicated(self.feedback), best, self.values)
        collapses, self.collapses = self.collapses[-3:], []
        said = [f"- an answer{' about ' + ', '.join(names) if names else ''}: {why}" for names, why in collapses]
        others = dict.fromkeys(name for names, _ in collapses for name in names if name != ask.spec.name)
        said += [f"- {line}" for name in others if (line := tried_scores(name, self.tried(name)))]
        proposal = reflect(self.llm, ask.spec, self.values[ask.spec.name], self.feedback, self.budget_tokens,
                           sampling, self.tried(ask.spec.name), ask.way, ask.example, "\n".join(said))
        self.last_problems.update(proposal.rejected)
        return proposal

    def collapsed(self, names: Sequence[str], why: str) -> None:
        """An answer about ``names`` (the parameter a one-parameter question was about, or those it
        changed; none for a whole answer that changed nothing) gave nothing new, ``why``: the next
        one-parameter question moves on, or is put another way (:mod:`.focus`), and says so."""
        self.focus.collapsed(names)
        self.collapses.append((tuple(names), why))

    def rewritten(self, names: Sequence[str], gained: bool) -> bool:
        """New values of ``names`` were run (``gained``: one beat the best): True when they went round in
        circles, every one of ``names`` changed before without gain (:meth:`.focus.Focus.rewrote`). Only
        functions and texts count, and only with another one to move on to: numbers are tuned by the
        measured search, and a lone function has no other parameter to ask about."""
        whole = {p.name for p in self.params if written_whole(p, self.values[p.name])}
        if len(whole) < 2:
            return False
        return self.focus.rewrote([name for name in names if name in whole], gained)

    def tried(self, name: str) -> list[Tried]:
        """The values of parameter ``name`` that earlier attempts ran, other than its current one, each
        once with the score of the last attempt that ran it, oldest first: what an answer about this
        parameter alone should not give again (the reflective question has no memory of its own)."""
        current = self.current_texts()[name]
        last: dict[str, float | None] = {}
        for attempt in self.attempts:
            text = attempt.values.get(name)
            if text is not None and text != current:
                last.pop(text, None)
                last[text] = attempt.score
        return [Tried(text, score) for text, score in last.items()]

    def implicated_order(self) -> list[str]:
        """The parameters this step's feedback implicates, most first, those tried without gain since the
        last gain after the others (:mod:`.focus`): what a merge prefers to combine."""
        names = [c.name for c in implicated(self.feedback)]
        return [n for n in names if n not in self.focus.spent] + [n for n in names if n in self.focus.spent]

    def implicated_target(self, targets: Sequence[ParamSpec]) -> ParamSpec:
        """The one of ``targets`` (the parameters a reflective question can be about) to ask about now:
        the one this step's feedback implicates most that was not tried without gain (:mod:`.focus`)."""
        best = max((a.score for a in self.attempts if a.score is not None), default=None)
        return self.focus.choose(targets, implicated(self.feedback), best)

    @abstractmethod
    def build_messages(self, budget: int) -> list[dict]:
        """The chat messages for this step, at most ``budget`` tokens by :func:`prompt_tokens`."""

    @property
    def answers_in_text(self) -> bool:
        """Whether this problem's answer is free text with code blocks (see ``code_as_code``)."""
        return self.code_as_code and self.code_format == "fenced" and any(p.kind is ParamKind.CODE for p in self.params)

    @property
    def answer_stop(self) -> tuple[str, ...]:
        """Where the server may end a free-form answer: after its code block when the problem is one
        function and nothing else (the answer is complete there); with more variables an answer has a
        block for each function it changes and a JSON object after them, so it runs to its end."""
        one = len(self.params) == 1 and self.params[0].kind is ParamKind.CODE
        return ONE_FUNCTION_STOP if one else ()

    # -- answers ---------------------------------------------------------------------------------

    def _text_proposal(self, messages: list[dict], reply: LLMReply) -> Proposal:
        """A free-form answer (:func:`.code_answer.parse_code_answer`) validated like a JSON one."""
        if reply.error is not None:
            self.last_problems = {"": reply.error}
            return Proposal.from_reply(messages, reply, {}, {}, "", reply.error)
        answer = parse_code_answer(reply.text, self.params, self.values)
        cut_off = reply.truncated and code_cut_off(reply.text)
        if cut_off:  # a function cut off mid-body may still parse: none of this answer's code is used
            answer.data["suggestion"].update({p.name: None for p in self.params if p.kind is ParamKind.CODE})
            answer.problems = {"": CUT_OFF.format(limit=self.llm.config.max_tokens)}
        accepted, rejected = validate(answer.data["suggestion"], self.params, self.values, self.text_inputs())
        for name in answer.from_json & set(rejected):
            if rejected[name].startswith("syntax error"):
                rejected[name] = f"{rejected[name]} {ESCAPING_HINT}"
        rejected = {**answer.problems, **rejected}
        changed = {k: v for k, v in accepted.items() if not _same(v, self.values[k])}
        self.last_problems = dict(rejected)
        proposal = Proposal.from_reply(messages, reply, changed, rejected, answer.data["reasoning"][:2000], None)
        proposal.unchanged = tuple(k for k in accepted if k not in changed)
        proposal.escaping = not changed and bool(rejected) and all(
            ESCAPING_HINT in reason or reason.startswith(CUT_OFF[:40]) for reason in rejected.values())
        return proposal

    def _proposal(self, messages: list[dict], reply: LLMReply) -> Proposal:
        data = reply.data
        error = reply.error
        if data is not None and not isinstance(data.get("suggestion"), dict):
            data, error = None, 'the answer has no "suggestion" object'
        if data is None:
            error = error or "the answer held no JSON object"
            self.last_problems = {"": error}
            return Proposal.from_reply(messages, reply, {}, {}, "", error)
        accepted, rejected = validate(data["suggestion"], self.params, self.values, self.text_inputs())
        changed = {k: v for k, v in accepted.items() if not _same(v, self.values[k])}
        self.last_problems = dict(rejected)
        reasoning = data.get("reasoning")
        reasoning = reasoning if isinstance(reasoning, str) else ""
        proposal = Proposal.from_reply(messages, reply, changed, rejected, reasoning, None)
        proposal.unchanged = tuple(k for k in accepted if k not in changed)
        return proposal

    def text_inputs(self) -> dict[str, list[str]]:
        """Per text parameter, the inputs this step's runs sent with it, which a new text may not quote."""
        return {p.name: inputs_beside(p, self.values[p.name], self.feedback) for p in self.params}

    # -- prompt pieces shared by subclasses ------------------------------------------------------

    def current_texts(self) -> dict[str, str]:
        """Current values as :class:`Attempt` holds them: code as source, literals as ``repr``."""
        return {p.name: value_to_text(p.kind, self.values[p.name]) for p in self.params}

    def problems_section(self) -> str:
        """The previous answer's problems, one line each, so the model does not repeat them; nothing
        when it had none."""
        lines = [f"- {name}: {truncate(reason, 300)}" if name else f"- {truncate(reason, 300)}"
                 for name, reason in self.last_problems.items()]
        return section("#Problems with your previous answer", "\n".join(lines))


def section(title: str, text: str) -> str:
    """A prompt section ending in a blank line, or nothing when ``text`` is empty: a section that
    says "(none)" costs tokens and tells the model nothing."""
    return f"{title}\n{text}\n\n" if text else ""


def sensitivity_section(sensitivity: Sensitivity) -> str:
    """The #Sensitivity section of a prompt, or nothing when no measurement was made."""
    title = "#Sensitivity (measured: each variable nudged alone from the current values)"
    return section(title, sensitivity.text.strip())


#: (value chars, feedback chars) for memory entries, from roomy to terse.
_ATTEMPT_DETAIL = ((2000, 400), (400, 200), (120, 80), (40, 0))


def attempts_text(attempts: Sequence[Attempt], current: Mapping[str, str], value_chars: int,
                  feedback_chars: int, first: int = 1, skip_current: bool = False) -> str:
    """Earlier attempts as indented blocks: ``attempt i: score s``, the values that differ from
    ``current`` (unchanged code would only repeat #Variables), and the feedback, or the number of the
    earlier attempt that got the same feedback (a model stuck on one answer repeats it word for word);
    "" for no attempts.
    An attempt with the current values is left out when ``skip_current``: its feedback is the one the
    prompt shows. Attempts are numbered from ``first``."""
    blocks = []
    seen: dict[str, int] = {}
    for i, attempt in enumerate(attempts, start=first):
        score = "no score" if attempt.score is None else f"score {attempt.score:g}"
        lines = [f"attempt {i}: {score}"]
        changed = {name: text for name, text in attempt.values.items() if current.get(name) != text}
        if skip_current and not changed:
            continue
        for name, text in changed.items():
            text = truncate(text, value_chars).rstrip()
            lines.append(f"  {name} =\n{textwrap.indent(text, '    ')}" if "\n" in text else f"  {name} = {text}")
        if not changed:
            lines.append("  (the current values)")
        text = " ".join(attempt.feedback.split())
        if feedback_chars and text:
            same = seen.setdefault(text, i)
            lines.append(f"  feedback: same as attempt {same}" if same != i else
                         f"  feedback: {truncate(text, feedback_chars)}")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def fit_attempts(attempts: Sequence[Attempt], current: Mapping[str, str], budget: int, *,
                 feedback: bool = True, skip_current: bool = False) -> str:
    """:func:`attempts_text` at the most detail that fits ``budget``; shrinks values first, then drops
    entries from the front (the oldest, or with ascending scores the worst)."""
    tries = [(detail, 0) for detail in _ATTEMPT_DETAIL]
    tries += [(_ATTEMPT_DETAIL[-1], start) for start in range(1, len(attempts))]
    for (value_chars, feedback_chars), start in tries:
        text = attempts_text(attempts[start:], current, value_chars, feedback_chars if feedback else 0, start + 1,
                             skip_current)
        if estimate_tokens(text) <= budget:
            return text
    return "(omitted to fit the prompt budget)"


def answer_format(params: Sequence[ParamSpec], values: Mapping[str, Any],
                  estimates: Mapping[str, Any] | None = None, *, code_as_code: bool = False) -> str:
    """How to answer, with the answer's shape: this problem's names and a typed placeholder for each value.

    With ``code_as_code`` and a (code) variable among ``params``: reasoning, then each changed
    function in a fenced block, then a JSON object for the other variables (if any).

    Placeholders, not sample values: small models copy a sample value verbatim. The worked example
    in the system prompt is about another program for the same reason. A *measured* estimate is
    the exception: it goes into its slot because small models read the format most closely.
    """
    estimates = estimates or {}

    def slot(p: ParamSpec) -> str:
        hint = f" (measured estimate: {number_text(estimates[p.name])})" if p.name in estimates else ""
        return f"{json.dumps(p.name)}: <{_placeholder(p, values[p.name])}{hint}, or null>"

    code = [p for p in params if p.kind is ParamKind.CODE]
    if code_as_code and code:
        others = [p for p in params if p.kind is not ParamKind.CODE]
        last = ("\nLast, one JSON object with a new value for each other variable you change, null for the others: {"
                + ", ".join(slot(p) for p in others) + "}" if others else "")
        return fill("answer_format_code.txt", names=", ".join(p.name for p in code), last=last).rstrip("\n")
    slots = ", ".join(slot(p) for p in params)
    reasoning = "<what is wrong, which variable causes it, and how to fix it>"
    return ("Answer with one JSON object in this format: a new value for each variable you change, null for the "
            'others.\n{"reasoning": "' + reasoning + '", "suggestion": {' + slots + "}}")


def _placeholder(spec: ParamSpec, value: Any) -> str:
    if spec.kind is ParamKind.CODE:
        return "the complete new source of the function as a string"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple, set)):
        return "a JSON array"
    if isinstance(value, dict):
        return "a JSON object"
    return "a Python literal"


def number_text(value: Any) -> str:
    """A number as prompts show it: floats to 4 significant digits (a measured estimate is shown the
    same way in the #Sensitivity section and in the answer format)."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same type (``1 == 1.0 == True`` must still count as a change of type)."""
    return type(a) is type(b) and a == b

