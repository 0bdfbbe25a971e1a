"""A reflective question about one function or text (GEPA's reflective mutation): a short prompt that
shows one parameter, what the recorded runs did with it, and the feedback, and asks for its new value.

The whole-problem prompt (:mod:`.render`) shows every call of the run, and on a small model one
parameter can drown in it. The two questions were right equally often, this one for fewer tokens
(docs/decisions/answers-and-questions.md). Being different questions, they fail differently, so a step
that asks again alternates them: the loop asks this one for every other answer asked again
(``--resample``), about a function the run called or a text it passed on. The answer is a fenced block,
as a merge's is (:mod:`autotrace.merge`), read by :func:`parse_one_value` and validated as any proposal
is.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from autotrace.evaluation import Feedback
from autotrace.llm.jsonfix import extract_json
from autotrace.optimizers.base import Proposal, Tried, fill, load_prompt, prompt_tokens, section
from autotrace.optimizers.code_answer import ONE_FUNCTION_STOP, parse_code_answer
from autotrace.optimizers.credit import failing
from autotrace.optimizers.edits import EDIT_FORMAT, apply_edits, parse_edits
from autotrace.optimizers.focus import Way
from autotrace.optimizers.uses import inputs_beside, uses_of
from autotrace.optimizers.validate import validate
from autotrace.params import ParamKind, ParamSpec, value_to_text, written_whole
from autotrace.text import truncate

if TYPE_CHECKING:
    from autotrace.llm.client import LLM, Sampling

#: (calls shown, characters per call line, examples' feedback shown, characters per feedback, values
#: tried before shown, characters per value), from roomy to terse: the first that fits the budget is used.
_DETAIL = ((8, 300, 5, 600, 4, 1200), (5, 200, 3, 300, 3, 400), (3, 120, 1, 200, 2, 150))
#: Characters a call line may run over its share: :func:`uses_of` shortens one to about the share; a
#: longer one loses its middle, keeping the call and what it returned.
_SLACK = 20
_COLLAPSE = "#Answers that gave nothing new (since the last question about one variable)"
_TRIED = "#Tried before (each of these was run; an answer giving one of them again is not run)"
_TASK_CODE = ("Write the function again with the fix, so that it returns what #Feedback expects for every input, "
              "not only the ones shown. First say in one or two sentences what is wrong; then give the whole "
              "function in one ```python block: the whole def, with the same name and parameters.")
_TASK_EXAMPLE = ("Write the function again so that it returns what the judge expects for this example, fixing the "
                 "cause so that it does so for every other input too. First say in one or two sentences what goes "
                 "wrong on this example; then give the whole function in one ```python block: the whole def, with "
                 "the same name and parameters.")
_TASK_EDIT = ("Change only the few lines that are wrong. First say in one or two sentences what is wrong; then give "
              "each change as a block in this form (the SEARCH lines must occur once in #Current value, exactly):\n"
              + EDIT_FORMAT)
_TASK_TEXT = ("Write a new text for {name} that makes the outputs what #Feedback expects. The program passes the "
              "text on as it is, so the text must say everything needed: what the task is, and exactly what to "
              "answer, in the form #Feedback asks for. First say in one sentence what the new text must ask for; "
              "then give the whole new text in one ```text block.")


def reflect_targets(params: Sequence[ParamSpec], values: Mapping[str, Any],
                    feedback: Sequence[Feedback]) -> list[ParamSpec]:
    """The functions some recorded run called and the texts it used: what the feedback can say
    something about, and what a model can write again whole."""
    return [p for p in params if written_whole(p, values[p.name])
            and any(f.graph is not None and uses_of(f.graph, p, values[p.name]) for f in feedback)]


def reflect_messages(spec: ParamSpec, value: Any, feedback: Sequence[Feedback], budget: int,
                     tried: Sequence[Tried] = (), way: Way = Way.WHOLE, example: int = 0,
                     collapse: str = "") -> list[dict[str, str]] | None:
    """The chat messages asking for a new value of ``spec`` (currently ``value``), at most ``budget``
    tokens; None when even the tersest version does not fit. ``tried``: its values earlier attempts
    ran, with their scores, shown (the latest) so that the answer is not one of them: an answer
    repeating a value already run gives the step nothing. ``way``: the question put whole (all the
    feedback), about one failing example (the ``example``-th of :func:`failing_examples`, modulo
    their number: its input, output and the judge's words), or asking a function for a small edit.
    ``collapse``: the answers since the last such question that gave nothing new, and the scores of the
    values tried for the other parameters they were about (shown before the values tried for this one)."""
    code = spec.kind is ParamKind.CODE
    ranked = sorted(feedback, key=lambda f: f.score if f.score is not None else float("-inf"))
    one: Feedback | None = None
    if way is Way.EXAMPLE:
        fails = failing_examples(feedback)
        one = fails[example % len(fails)] if fails else None
        ranked = [one] if one is not None else ranked
    graphs = [item.graph for item in ranked if item.graph is not None]
    task = ((_TASK_EDIT if way is Way.EDIT else _TASK_EXAMPLE if one is not None else _TASK_CODE) if code
            else _TASK_TEXT.format(name=spec.name))
    for calls, call_chars, examples, feedback_chars, values, value_chars in _DETAIL:
        uses: list[str] = []
        for line in (line for graph in graphs for line in uses_of(graph, spec, value, call_chars)):
            line = truncate(line, call_chars + _SLACK, keep="ends")
            if line not in uses and len(uses) < calls:
                uses.append(line)
        if one is not None:
            said = _one_example(one, len(failing_examples(feedback)), feedback_chars)
        else:
            heads = [f"- score {f.score:g}: " if f.score is not None else "- " for f in ranked[:examples]]
            said = [head + (_lines(truncate(_rows(f.text), feedback_chars)) or "(no text)")
                    for head, f in zip(heads, ranked[:examples], strict=True)]
            if len(ranked) > examples:
                said.append(f"- ... {len(ranked) - examples} more examples")
        user = fill("reflect.txt", variable=spec.name, kind="code" if code else "str",
                    fence="python" if code else "text",
                    description=f": {spec.description}" if spec.description else "",
                    value=(value_to_text(spec.kind, value) if code else str(value)).rstrip("\n"),
                    uses="\n".join(uses), feedback="\n".join(said) or "(none)",
                    tried=section(_COLLAPSE, collapse)
                    + section(_TRIED, "\n".join(_tried_line(t, value_chars) for t in tried[-values:])),
                    task=task)
        system = load_prompt("reflect_system_code.txt" if code else "reflect_system_text.txt").strip()
        messages = [{"role": "system", "content": system},
                    {"role": "user", "content": user.rstrip()}]
        if prompt_tokens(messages) <= budget:
            return messages
    return None


def failing_examples(feedback: Sequence[Feedback]) -> list[Feedback]:
    """The examples to ask about one at a time: the failing ones the credit walks
    (:func:`autotrace.optimizers.credit.failing`), or, with no recorded graph, those scoring below the
    best (all of them when they scored alike), lowest first."""
    if any(f.graph is not None for f in feedback):
        return [feedback[i - 1] for i in failing(feedback)]
    scores = [f.score for f in feedback if f.score is not None]
    best = max(scores, default=None)
    below = [f for f in feedback if f.score is None or (best is not None and f.score < best)]
    return sorted(below or list(feedback), key=lambda f: f.score if f.score is not None else float("-inf"))


def _one_example(item: Feedback, failing_count: int, chars: int) -> list[str]:
    """The #Feedback lines of a question about one failing example: what went in, what came out, what
    the judge said of it."""
    score = f" (score {item.score:g})" if item.score is not None else ""
    lines = [f"One failing example of {failing_count}, asked about alone:"]
    if item.example is not None:
        lines.append(f"- input: {truncate(item.example, chars)}")
    if item.output:
        lines.append(f"- output: {truncate(item.output, chars)}")
    lines.append(f"- the judge{score}: {_lines(truncate(_rows(item.text), chars)) or '(no text)'}")
    return lines


def _rows(text: str) -> str:
    """A judge's text with the spaces in each line made single and blank lines dropped, its line breaks
    kept: a text in rows (a game's board, a table) says nothing once its rows run together."""
    return "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())


def _lines(text: str) -> str:
    """A text of several lines as the continuation of a ``- `` item: its later lines indented."""
    return text.replace("\n", "\n  ")


def tried_scores(name: str, tried: Sequence[Tried]) -> str:
    """``x: 2 other values tried, scoring 0.2 and 0.4`` ("" when none was)."""
    if not tried:
        return ""
    scores = [f"{t.score:g}" if t.score is not None else "no score" for t in tried]
    listed = scores[0] if len(scores) == 1 else ", ".join(scores[:-1]) + " and " + scores[-1]
    return f"{name}: {len(tried)} other value{'s' if len(tried) > 1 else ''} tried, scoring {listed}"


def _tried_line(tried: Tried, chars: int) -> str:
    """``- score 0.5: 'text'``; a function's source (or any text of several lines) below, indented."""
    score = "no score" if tried.score is None else f"score {tried.score:g}"
    text = truncate(tried.text.rstrip("\n"), chars)
    return f"- {score}:\n{textwrap.indent(text, '    ')}" if "\n" in text else f"- {score}: {text}"


def parse_one_value(text: str, spec: ParamSpec, current: Any,
                    inputs: Sequence[str] = ()) -> tuple[Any | None, str | None]:
    """``(value, None)`` for the new value of ``spec`` in an answer (a fenced block; for a text, a JSON
    object naming it is read too), validated as a proposal's (a text may not quote ``inputs``);
    ``(None, reason)`` when there is none usable, ``(None, None)`` when it is the current value."""
    if spec.kind is ParamKind.CODE:
        answer = parse_code_answer(text, [spec], {spec.name: current})
        found = answer.data["suggestion"].get(spec.name)
        if found is None:
            return None, answer.problems.get("") or "the answer held no ```python block with the function"
    else:
        found = _first_block(text)
        if found is None:
            data, _ = extract_json(text)
            inner = data.get("suggestion", data) if isinstance(data, dict) else None
            found = inner.get(spec.name) if isinstance(inner, dict) else None
        if found is None:
            return None, "the answer held no ```text block with the new text"
    accepted, rejected = validate({spec.name: found}, [spec], {spec.name: current}, {spec.name: inputs})
    if spec.name in rejected:
        return None, rejected[spec.name]
    value = accepted.get(spec.name)
    return (None, None) if value is None or (type(value) is type(current) and value == current) else (value, None)


def _first_block(text: str) -> str | None:
    """The body of the first fenced block (the fence's language word dropped), None without one."""
    parts = text.split("```", 2)
    if len(parts) < 3:
        return None
    if "\n" not in parts[1]:
        return parts[1].strip()
    first, _, body = parts[1].partition("\n")
    return (body or first).rstrip("\n")


def reflect(llm: LLM, spec: ParamSpec, value: Any, feedback: Sequence[Feedback], budget: int,
            sampling: Sampling, tried: Sequence[Tried] = (), way: Way = Way.WHOLE, example: int = 0,
            collapse: str = "") -> Proposal:
    """Ask the reflective question about ``spec`` once (``tried``, ``way``, ``example``, ``collapse``: see
    :func:`reflect_messages`); the answer as a :class:`Proposal` (its one changed value, or the reason it
    has none in ``rejected``/``error``), ``about`` the parameter. A small edit (:attr:`Way.EDIT`) is
    applied to the current source exactly (:mod:`.edits`); an answer giving the whole function instead
    is read as one."""
    messages = reflect_messages(spec, value, feedback, budget, tried, way, example, collapse)
    if messages is None:
        return Proposal.failed([], f"{spec.name} and its feedback do not fit the prompt budget of {budget} tokens")
    stop = ONE_FUNCTION_STOP if spec.kind is ParamKind.CODE and way is not Way.EDIT else ()
    reply = llm.complete_text(messages, sampling=sampling, stop=stop)
    values: dict[str, Any] = {}
    rejected: dict[str, str] = {}
    if reply.error is None:
        if way is Way.EDIT and spec.kind is ParamKind.CODE:
            new, reason = _edited(reply.text, spec, value)
        else:
            new, reason = parse_one_value(reply.text, spec, value, inputs_beside(spec, value, feedback))
        if reason is not None:
            rejected[spec.name] = reason
        elif new is not None:
            values[spec.name] = new
    reasoning = reply.text.split("```", 1)[0].split("<<<<<<<", 1)[0].strip()[:2000]
    proposal = Proposal.from_reply(messages, reply, values, rejected, reasoning, reply.error)
    proposal.about, proposal.way = spec.name, way.value
    return proposal


def _edited(text: str, spec: ParamSpec, current: str) -> tuple[Any | None, str | None]:
    """The function after the answer's SEARCH/REPLACE edits, validated as any proposal is: ``(None,
    reason)`` when an edit does not apply or the result is no valid function, ``(None, None)`` when it
    is the current function; an answer with no edit but a whole function is read as that function."""
    edits = parse_edits(text)
    if not edits and "```" in text:
        return parse_one_value(text, spec, current)
    source, reason = apply_edits(current, edits)
    if source is None:
        return None, reason
    accepted, rejected = validate({spec.name: source}, [spec], {spec.name: current})
    if spec.name in rejected:
        return None, f"the edited function: {rejected[spec.name]}"
    value = accepted.get(spec.name)
    return (None, None) if value is None or value == current else (value, None)
