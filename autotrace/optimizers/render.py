"""OptoPrime's problem text: recorded runs written as code-like sections that fit a token budget.

The sections, in this order (one with nothing to show, such as #Inputs of a run without inputs, is
left out: "(none)" would only cost tokens): what stays the same from step to step first, then what
changes, so that a server's prefix cache (llama.cpp's ``cache_prompt``, OpenAI's cached tokens) reuses
the start of each step's prompt. #Variables comes last: it changes with every candidate taken, where
the run's calls and outputs often stay as they were::

    #Instruction    what the program should achieve
    #Constraints    the description written after each parameter's marker
    #Documentation  each function in #Code: its source when short, else signature and docstring
    #Code           one line per recorded call, e.g. ``eval3 = pricing.total(qty=input0, rate=0.2)  # reads rates.RATE``
                    (a call of a code parameter is not said to read it: its name says so)
    #Inputs         values that entered the run from outside
    #Others         intermediate call results
    #Outputs        the run's result, or the errors it raised
    #Feedback       the evaluator's verdict (and tracebacks; a (code) variable a traceback points into,
                    numbered as the traceback numbers it)
    #Implicated     with several variables: those the failing examples' graphs implicate, most first
                    (:mod:`.credit`), each with its calls whose results reached a wrong output
    #Variables      the parameters with their current values (code parameters as source)

Names: a parameter is its own name, an input ``input<i>``, a call ``eval<seq>``; #Code ends with
``output = eval<seq>``. With several examples, #Code and #Others come from one of them (the first
that failed, else the lowest-scoring: the most informative) and each example adds only its inputs,
outputs and feedback, a short line each, numbered in the caller's order.

A large run is not cut blindly. :data:`LEVELS` is a ladder of :class:`Detail` settings tried in
order until the text fits: keep only the calls on paths from parameters to the output or an error;
summarise repeated calls of one function (first and last ``keep`` plus a ``... N more calls`` line);
shorten values; drop #Others; show only the calls that read a parameter. At every level the text
keeps each parameter with its full value, its reading calls (or their first and last), the output
and the head of the feedback. Each level is one linear pass over indexes built once per graph.
"""

from __future__ import annotations

import re
import textwrap
from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from autotrace.evaluation import Feedback
from autotrace.optimizers.base import BudgetError, estimate_tokens
from autotrace.optimizers.credit import Implicated, failing, implicated
from autotrace.params import ParamKind, ParamSpec
from autotrace.text import truncate

SECTIONS = ("#Instruction", "#Constraints", "#Documentation", "#Code", "#Inputs", "#Others", "#Outputs", "#Feedback",
            "#Implicated", "#Variables")

_MIN_LINE_TOKENS = 4  # no #Code line is shorter ("eval1 = f()"): lets a level be skipped unrendered
_NAMES_SHOWN = 3  # callee names listed on a caller's line
_ERRORS_SHOWN = 3  # distinct errors shown per example
_OMITTED = "(omitted to fit the prompt budget)"
_NONE = "(none)"  # a section with nothing to show is left out of the prompt
_ARG = "arg:"  # the role of a data-flow edge into an argument: "arg:<parameter name>"
_SAME_AS_CHARS = 24  # a value at least this long is named, not repeated, when #Code or #Others showed it
_FRAME = re.compile(r'^  File "([^"]+)", line (\d+), in ', re.MULTILINE)  # a frame of a Python traceback


@dataclass(frozen=True)
class Detail:
    """How much of the runs one rendering shows."""

    prune: bool = False  # only calls on a path from a parameter to the output or an error
    keep: int = 0  # >0: of each function's calls show the first and last ``keep``, summarise the rest
    value_chars: int = 200  # longest value repr in #Code and #Others
    others: bool = True  # show #Others
    collapse: bool = False  # only calls that read a parameter, raised, or produced the output
    doc_chars: int = 300  # longest #Documentation entry; 0 drops the entries
    feedback_chars: int = 2000  # longest feedback text (split between examples)
    traceback_lines: int = 40  # last lines of each traceback
    examples: int = 20  # examples shown
    inputs: int = 50  # inputs shown per example
    max_rows: int = 0  # >0: at most this many #Code rows (head and tail), for runs of many distinct functions
    credit_vars: int = 6  # variables shown in #Implicated
    credit_calls: int = 3  # calls shown per variable in #Implicated
    credit_chars: int = 200  # longest call line in #Implicated

    @property
    def output_chars(self) -> int:
        """The output is what the feedback talks about: it keeps more characters than other values."""
        return max(4 * self.value_chars, 80)


#: From everything to the bare minimum; :func:`render_problem` uses the first that fits.
LEVELS: tuple[Detail, ...] = (
    Detail(value_chars=1000),
    Detail(prune=True, value_chars=1000),
    Detail(prune=True),
    Detail(prune=True, keep=3, inputs=10),
    Detail(prune=True, keep=3, value_chars=60, inputs=10),
    Detail(prune=True, keep=3, value_chars=60, others=False, inputs=10),
    Detail(prune=True, keep=2, value_chars=40, others=False, collapse=True, doc_chars=120, feedback_chars=800,
           traceback_lines=12, examples=8, inputs=5),
    Detail(prune=True, keep=1, value_chars=20, others=False, collapse=True, doc_chars=0, feedback_chars=300,
           traceback_lines=6, examples=3, inputs=3, credit_vars=3, credit_calls=1,
           credit_chars=120),
    Detail(prune=True, keep=1, value_chars=12, others=False, collapse=True, doc_chars=0, feedback_chars=120,
           traceback_lines=3, examples=1, inputs=2, max_rows=12, credit_vars=3,
           credit_calls=1, credit_chars=80),
)


def render_problem(
    feedback: Sequence[Feedback],
    params: Sequence[ParamSpec],
    values: Mapping[str, Any],
    *,
    instruction: str,
    budget_tokens: int,
) -> str:
    """The problem text for ``feedback`` (one entry per example), at most ``budget_tokens`` tokens.

    Raises :class:`BudgetError` when even the barest level does not fit (the parameters' values
    alone are too big for the budget).
    """
    if not feedback:
        raise ValueError("render_problem needs at least one Feedback")
    # Most informative first: the first is the one #Code shows, the first few are shown when not all fit.
    examples = [_Example(i, f, _Run(f.graph) if f.graph is not None else None) for i, f in enumerate(feedback, 1)]
    ranked = sorted(examples, key=_Example.badness)
    fixed = {
        "#Instruction": instruction.strip() or _NONE,
        "#Variables": variables_section(params, values),
        "#Constraints": constraints_section(params),
    }
    code_params = frozenset(p.name for p in params if p.kind is ParamKind.CODE)
    # With one variable there is nothing to choose between, and #Code shows its calls already.
    blame = (Blame(implicated(feedback), len(failing(feedback)), {i: f.text for i, f in enumerate(feedback, 1)})
             if len(params) > 1 else Blame((), 0))
    focus = ranked[0].run
    text = ""
    for detail in LEVELS:
        rows = focus.rows(detail) if focus is not None else []
        if len(rows) * _MIN_LINE_TOKENS > budget_tokens and not detail.max_rows:
            continue
        text = _compose(fixed, ranked, rows, code_params, detail, blame)
        if estimate_tokens(text) <= budget_tokens:
            return text
    raise BudgetError(
        f"the problem needs ~{estimate_tokens(text)} tokens even at the least detail, "
        f"but the budget is {budget_tokens}; "
        f"the parameters' values alone take ~{estimate_tokens(fixed['#Variables'])}: raise context_tokens"
    )


def variables_section(params: Sequence[ParamSpec], values: Mapping[str, Any]) -> str:
    """``(type) name = value`` per parameter; a code parameter as ``(code) name =`` and its source below."""
    lines = []
    for spec in params:
        value = values[spec.name]
        if spec.kind is ParamKind.CODE:
            lines.append(f"(code) {spec.name} =\n{str(value).rstrip()}")
        else:
            lines.append(f"({type(value).__name__}) {spec.name} = {value!r}")
    return "\n".join(lines)


def constraints_section(params: Sequence[ParamSpec]) -> str:
    """The marker descriptions: the only place the user tells the optimizer what a value may be."""
    lines = [f"{p.name}: {p.description}" for p in params if p.description]
    return "\n".join(lines) or _NONE


@dataclass(frozen=True)
class _Example:
    """One Feedback with its indexed run; ``number`` counts from 1 in the caller's order, as the loop does."""

    number: int
    feedback: Feedback
    run: _Run | None

    def badness(self) -> tuple[int, float]:
        """Sort key, most informative first: a run that raised, then any traced run; lowest score first."""
        rank = 2 if self.run is None else 0 if self.run.errors or self.run.output is None else 1
        score = self.feedback.score
        return (rank, score if score is not None else float("inf"))


# -- one recorded run ------------------------------------------------------------------------------


class _Run:
    """One graph indexed once (names, call order, errors, relevance) so every level is a linear pass."""

    def __init__(self, graph: nx.DiGraph) -> None:
        self.graph = graph
        self.attrs: dict[Hashable, dict[str, Any]] = dict(graph.nodes(data=True))  # plain dicts: fast lookups
        calls: list[Hashable] = []
        self.inputs: list[Hashable] = []
        self.params: list[Hashable] = []
        error_nodes: list[Hashable] = []
        for node, attrs in self.attrs.items():
            kind = attrs.get("kind")
            if kind == "call":
                calls.append(node)
            elif kind == "input":
                self.inputs.append(node)
            elif kind == "param":
                self.params.append(node)
            elif kind == "error":
                error_nodes.append(node)
        calls.sort(key=lambda n: _seq(self.attrs[n]))
        self.calls = calls
        self.names: dict[Hashable, str] = {}
        for i, node in enumerate(calls):
            seq = self.attrs[node].get("seq")
            self.names[node] = f"eval{seq if isinstance(seq, int) else i}"
        for i, node in enumerate(self.inputs):
            self.names[node] = f"input{i}"
        for node in self.params:
            self.names[node] = str(self.attrs[node].get("param") or node)
        out = graph.graph.get("output")
        self.output = out if out is not None and out in graph else None
        self.output_source = next(graph.predecessors(self.output), None) if self.output is not None else None
        self.raised: dict[Hashable, Hashable] = {}  # call -> its error node
        self.raised_by: dict[Hashable, Hashable] = {}  # error node -> the call that raised it
        self.readers: set[Hashable] = set()  # calls with an edge from a parameter
        inner: dict[Hashable, list[Hashable]] = {}  # call -> the calls made inside it
        reads: dict[Hashable, set[Hashable]] = {}  # call -> the parameters it reads
        for source, target, edge in graph.edges(data=True):
            role = edge.get("role")
            if role == "raised":
                self.raised.setdefault(source, target)
                self.raised_by.setdefault(target, source)
            elif role == "nested":
                inner.setdefault(target, []).append(source)
            elif self.attrs[source].get("kind") == "param":
                self.readers.add(target)
                reads.setdefault(target, set()).add(source)
        self.errors = _distinct_errors(self.attrs, error_nodes)
        # Calls every level shows: the one that produced the output and those that raised a shown error.
        shown = set(self.errors[:_ERRORS_SHOWN])
        self.must = {c for c, e in self.raised.items() if e in shown}
        if self.output_source in self.names:
            self.must.add(self.output_source)
        self.forwarders = self._forwarders(calls, inner, reads)
        self._relevant: list[Hashable] | None = None

    def _forwarders(self, calls: list[Hashable], inner: Mapping[Hashable, list[Hashable]],
                    reads: Mapping[Hashable, set[Hashable]]) -> set[Hashable]:
        """Calls that only pass on what their one inner call returned — a ``try``/``except`` shim, a
        decorator's wrapper, ``def run(case): return f(*case)`` — with no parameter of their own: the
        inner call's line says it all, so they are left out of #Code and #Others at every level, and
        their names stand for the inner call's (``self.names``). A test harness calling the function
        under test once per case would otherwise double the run's lines."""
        forwarders = set()
        for call in calls:
            only = inner.get(call, ())
            if len(only) != 1 or call in self.must or call in self.raised or self.attrs[call].get("error"):
                continue
            (callee,) = only
            value = self.attrs[call].get("value")
            if value is not None and value == self.attrs[callee].get("value") \
                    and reads.get(call, set()) <= reads.get(callee, set()):
                forwarders.add(call)
        for call in reversed(calls):  # inner calls come later: a chain of forwarders resolves in one pass
            if call in forwarders:
                self.names[call] = self.names[inner[call][0]]
        return forwarders

    def name(self, node: Hashable) -> str:
        return self.names.get(node, str(node))

    def raiser(self, error: Hashable) -> str:
        return self.name(self.raised_by[error]) if error in self.raised_by else "the run"

    def failure(self, call: Hashable) -> str | None:
        """``raised ValueError`` for a call that raised, saying so when it only passed on a callee's exception."""
        if call in self.raised:
            return f"raised {self.attrs[self.raised[call]].get('exc_type', 'an exception')}"
        return "raised (passed on from a call inside)" if self.attrs[call].get("error") else None

    @property
    def output_is_error(self) -> bool:
        """The run raised: the recorder links the output to the error node (its value says "raised ...")."""
        return self.output_source is not None and self.attrs[self.output_source].get("kind") == "error"

    def output_line(self) -> str | None:
        """The last #Code line: which call's result (or which call's exception) became the output."""
        if self.output_source is None:
            return None
        if self.output_is_error:
            return f"output = the exception raised in {self.raiser(self.output_source)}"
        return f"output = {self.name(self.output_source)}"

    def relevant(self) -> list[Hashable]:
        """Calls on a path from a parameter to the output or an error, plus every reader, in call order."""
        if self._relevant is None:
            sinks = ([self.output] if self.output is not None else []) + list(self.errors)
            forward = _reach(self.graph.successors, self.params)
            backward = _reach(self.graph.predecessors, sinks)
            self._relevant = [c for c in self.calls
                              if (c in forward and c in backward) or c in self.readers or c in self.must]
        return self._relevant

    def rows(self, detail: Detail) -> list[Hashable | _Gap]:
        """The calls #Code shows at this level, in order, with :class:`_Gap` rows for summarised runs."""
        calls = self.relevant() if detail.prune else self.calls
        if self.forwarders:
            calls = [c for c in calls if c not in self.forwarders]
        if detail.collapse:
            calls = [c for c in calls if c in self.readers or c in self.must]
        rows = self._summarise(calls, detail) if detail.keep else list(calls)
        if detail.max_rows and len(rows) > detail.max_rows:
            half = detail.max_rows // 2
            rows = [*rows[:half], _Gap(f"... {len(rows) - 2 * half:,} more lines"), *rows[-half:]]
        return rows

    def _summarise(self, calls: list[Hashable], detail: Detail) -> list[Hashable | _Gap]:
        """First and last ``keep`` calls of each function; the middle becomes one line where it began."""
        nodes = self.attrs
        funcs = [str(nodes[c].get("func", "?")) for c in calls]
        totals = Counter(funcs)
        seen: Counter[str] = Counter()
        rows: list[Hashable | _Gap] = []
        omitted: dict[str, list[Hashable]] = {}
        slot: dict[str, int] = {}  # where each function's gap row goes: where its first omitted call was
        k = detail.keep
        for call, func in zip(calls, funcs, strict=True):
            i = seen[func]
            seen[func] += 1
            if totals[func] <= 2 * k + 1 or i < k or i >= totals[func] - k or call in self.must:
                rows.append(call)
                continue
            if func not in omitted:
                omitted[func] = []
                slot[func] = len(rows)
                rows.append(_Gap(""))  # filled in below, once the count is known
            omitted[func].append(call)
        for func, skipped in omitted.items():
            values = [str(nodes[c].get("value", "")) for c in skipped if "value" in nodes[c]]
            rows[slot[func]] = _Gap(f"... {len(skipped):,} more calls of {func}"
                                    f"{_value_summary(values, detail.value_chars)}")
        return rows

    # -- text --------------------------------------------------------------------------------------

    def code_line(self, call: Hashable, detail: Detail) -> str:
        attrs = self.attrs[call]
        producers: dict[str, str] = {}
        reads: list[str] = []
        callees: list[str] = []
        for source, edge in self.graph.pred[call].items():
            role = str(edge.get("role", ""))
            if role.startswith(_ARG):
                producers[role[len(_ARG):]] = self.name(source)
            elif role == "reads":
                reads.append(self.name(source))
            elif role == "nested" and not detail.collapse:
                callees.append(self.name(source))
        args = []
        for arg, text in (attrs.get("args") or {}).items():
            args.append(f"{arg}={producers.pop(arg) if arg in producers else truncate(str(text), detail.value_chars)}")
        args.extend(f"{arg}={name}" for arg, name in producers.items())
        notes = []
        func = attrs.get("func", "?")
        reads = [name for name in reads if name != func]  # a call of a (code) variable reads itself: said by its name
        if reads:
            notes.append("reads " + ", ".join(reads))
        if callees:
            notes.append("calls " + _few(callees))
        failure = self.failure(call)
        if failure:
            notes.append(failure)
        line = f"{self.name(call)} = {func}({', '.join(args)})"
        return line + (f"  # {'; '.join(notes)}" if notes else "")

    def other_lines(self, rows: Sequence[Hashable | _Gap], detail: Detail) -> list[str]:
        """``evalN = value`` per call; a long value already shown (an argument written out in #Code,
        an earlier result, the output) is named instead of repeated: a value passed along a chain of
        calls would otherwise fill the prompt once per call."""
        shown: dict[str, str] = {}
        if self.output is not None and not self.output_is_error:
            shown[str(self.attrs[self.output].get("value", ""))] = "the output"
        for call in rows:
            if isinstance(call, _Gap):
                continue
            produced = {role[len(_ARG):] for e in self.graph.pred[call].values()
                        if (role := str(e.get("role", ""))).startswith(_ARG)}
            for arg, text in (self.attrs[call].get("args") or {}).items():
                if arg not in produced:
                    shown.setdefault(str(text), f"{self.name(call)}'s argument {arg}")
        lines = []
        for call in rows:
            if isinstance(call, _Gap) or call == self.output_source:
                continue
            attrs = self.attrs[call]
            failure = self.failure(call)
            if failure:
                lines.append(f"{self.name(call)} {failure}")
            elif "value" in attrs:
                text = str(attrs["value"])
                same = shown.setdefault(text, self.name(call)) if len(text) >= _SAME_AS_CHARS else None
                lines.append(f"{self.name(call)} = " + (f"(same as {same})" if same not in (None, self.name(call))
                                                         else truncate(text, detail.value_chars)))
        return lines

    def input_text(self, detail: Detail) -> list[str]:
        shown = [f"{self.name(n)} = {truncate(str(self.attrs[n].get('value', '?')), detail.value_chars)}"
                 for n in self.inputs[: detail.inputs]]
        if len(self.inputs) > detail.inputs:
            shown.append(f"... {len(self.inputs) - detail.inputs:,} more inputs")
        return shown

    def output_text(self, detail: Detail) -> list[str]:
        lines = []
        if self.output is not None and not self.output_is_error:
            lines.append(f"output = {truncate(str(self.attrs[self.output].get('value', '?')), detail.output_chars)}")
        for error in self.errors[:_ERRORS_SHOWN]:
            attrs = self.attrs[error]
            message = truncate(str(attrs.get("message", "")), detail.output_chars)
            lines.append(f"{self.raiser(error)} raised {attrs.get('exc_type', 'an exception')}: {message}")
        if len(self.errors) > _ERRORS_SHOWN:
            lines.append(f"(and {len(self.errors) - _ERRORS_SHOWN:,} more distinct errors)")
        return lines or ["(the run recorded no output)"]

    def tracebacks(self, detail: Detail, feedback_text: str) -> list[str]:
        """Tail of each shown error's traceback, unless the feedback already quotes it."""
        blocks = []
        for error in self.errors[:_ERRORS_SHOWN]:
            traceback = str(self.attrs[error].get("traceback") or "").strip()
            if traceback and traceback not in feedback_text:
                lines = traceback.splitlines()
                if len(lines) > detail.traceback_lines:
                    lines = [f"... ({len(lines) - detail.traceback_lines} earlier lines)",
                             *lines[-detail.traceback_lines:]]
                blocks.append("\n".join(lines))
        return blocks

    def listings(self, shown: str, code_params: frozenset[str]) -> list[str]:
        """Each (code) variable that a traceback in ``shown`` points into, numbered as the traceback
        numbers it (the lines of the candidate that ran: see :mod:`autotrace.transforms.compile`)."""
        functions: Mapping[str, Mapping[str, Any]] = self.graph.graph.get("functions") or {}
        frames = [(m[1], int(m[2])) for m in _FRAME.finditer(shown)]
        blocks = []
        for name in sorted(code_params):
            info = functions.get(name) or {}
            lines = str(info.get("source") or "").rstrip().splitlines()
            first = info.get("line")
            if not lines or not isinstance(first, int) or not any(
                    file == info.get("file") and first <= line < first + len(lines) for file, line in frames):
                continue
            width = len(str(first + len(lines) - 1))
            numbered = "\n".join(f"{first + i:>{width}} | {text}" for i, text in enumerate(lines))
            blocks.append(f"{name} as it ran, numbered as in the traceback:\n{numbered}")
        return blocks

    def documentation(self, rows: Iterable[Hashable | _Gap], detail: Detail, skip: frozenset[str]) -> list[str]:
        """An entry per function in #Code (code parameters are skipped: their source is in #Variables).

        A function whose source fits ``doc_chars`` is shown whole: how it uses a parameter (``qty *
        rate * 10``) is what lets a small model compute the right value. Longer ones get their
        signature and the first paragraph of their docstring.
        """
        if detail.doc_chars <= 0:
            return []
        functions: Mapping[str, Mapping[str, Any]] = self.graph.graph.get("functions") or {}
        lines = []
        seen: set[str] = set()
        for call in rows:
            if isinstance(call, _Gap):
                continue
            func = str(self.attrs[call].get("func", ""))
            if func in seen or func in skip:
                continue
            seen.add(func)
            info = functions.get(func) or {}
            source = textwrap.dedent(str(info.get("source") or "")).strip()
            if source and len(source) <= detail.doc_chars:
                lines.append(f"{func}:\n{source}")
                continue
            doc = " ".join(str(info.get("doc") or "").strip().split("\n\n")[0].split())
            lines.append(truncate(f"{func}{_signature(source)}" + (f": {doc}" if doc else ""), detail.doc_chars))
        return lines


@dataclass(frozen=True)
class _Gap:
    """A ``... N more calls of f`` row standing for the calls :meth:`_Run.rows` left out."""

    text: str


def _seq(attrs: Mapping[str, Any]) -> float:
    seq = attrs.get("seq")
    return seq if isinstance(seq, (int, float)) else float("inf")


def _distinct_errors(attrs_of: Mapping[Hashable, Mapping[str, Any]], errors: list[Hashable]) -> list[Hashable]:
    """One error node per (type, message): an exception propagating through callers is shown once."""
    seen: set[tuple[str, str]] = set()
    distinct = []
    for error in errors:
        attrs = attrs_of[error]
        key = (str(attrs.get("exc_type")), str(attrs.get("message")))
        if key not in seen:
            seen.add(key)
            distinct.append(error)
    return distinct


def _reach(neighbours: Callable[[Hashable], Iterable[Hashable]], starts: Iterable[Hashable]) -> set[Hashable]:
    seen = set(starts)
    queue = deque(seen)
    while queue:
        for nxt in neighbours(queue.popleft()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def _few(names: list[str]) -> str:
    if len(names) <= _NAMES_SHOWN:
        return ", ".join(names)
    return ", ".join(names[:_NAMES_SHOWN]) + f" and {len(names) - _NAMES_SHOWN:,} more"


def _value_summary(values: list[str], limit: int) -> str:
    """`` (outputs range a..b)`` for numbers, else a few distinct outputs; "" when nothing was recorded."""
    if not values:
        return ""
    try:
        numbers = [float(v) for v in values]
    except ValueError:
        distinct = list(dict.fromkeys(values))
        shown = ", ".join(truncate(v, limit) for v in distinct[:_NAMES_SHOWN])
        more = f", ... ({len(distinct):,} distinct)" if len(distinct) > _NAMES_SHOWN else ""
        return f" (outputs {shown}{more})"
    low = values[numbers.index(min(numbers))]
    high = values[numbers.index(max(numbers))]
    return f" (outputs range {truncate(low, limit)}..{truncate(high, limit)})"


def _signature(source: str) -> str:
    """``(qty, rate=1.0) -> float`` from a function's source: #Documentation's fallback when there is no doc."""
    lines = source.splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(("def ", "async def ")):
            header = stripped
            for more in lines[i + 1 : i + 8]:
                if header.rstrip().endswith(":"):
                    break
                header += " " + more.strip()
            start, end = header.find("("), header.rstrip().rfind(":")
            return header[start:end].strip() if 0 <= start < end else ""
    return ""


# -- assembling the sections -----------------------------------------------------------------------


def _compose(
    fixed: Mapping[str, str],
    ranked: Sequence[_Example],
    rows: list[Hashable | _Gap],
    code_params: frozenset[str],
    detail: Detail,
    blame: Blame,
) -> str:
    focus = ranked[0]
    run = focus.run
    shown = sorted(ranked[: detail.examples], key=lambda e: e.number)
    many = len(ranked) > 1
    sections = dict(fixed)
    sections["#Code"] = _code(focus, rows, detail, many)
    if not detail.doc_chars:
        sections["#Documentation"] = _OMITTED
    else:
        sections["#Documentation"] = "\n".join(run.documentation(rows, detail, code_params) if run else []) or _NONE
    if not detail.others:
        sections["#Others"] = _OMITTED
    else:
        sections["#Others"] = "\n".join(run.other_lines(rows, detail) if run else []) or _NONE
    groups = _same_failures(shown, detail)
    feedback_chars = detail.feedback_chars // min(len(groups), 4)
    inputs: list[str] = []
    outputs: list[str] = []
    verdicts: list[str] = []
    for group in groups:
        example = group[0]
        numbers = _numbers([e.number for e in group])
        tag = (f"[example {example.number}] " if len(group) == 1 else f"[examples {numbers}] ") if many else ""
        input_tag = f"[example {example.number}, standing for examples {numbers}] " if len(group) > 1 else tag
        if example.run is not None:
            inputs.append(input_tag + (", ".join(example.run.input_text(detail)) or _NONE))
            outputs.extend(tag + line for line in example.run.output_text(detail))
        else:
            inputs.append(input_tag + "(not recorded)")
            outputs.append(tag + "(not recorded)")
        verdicts.append(_verdict(tag + ("the same error: " if len(group) > 1 else ""), example, detail,
                                 feedback_chars))
    if run is not None:
        verdicts.extend(run.listings("\n".join(verdicts), code_params))
    if len(ranked) > len(shown):
        more = f"... {len(ranked) - len(shown):,} more examples {_OMITTED}"
        for lines in (inputs, outputs, verdicts):
            lines.append(more)
    sections["#Inputs"] = "\n".join(inputs)
    sections["#Outputs"] = "\n".join(outputs)
    sections["#Feedback"] = "\n".join(verdicts)
    sections["#Implicated"] = blame.text(detail, many, code_params) or _NONE
    return "\n\n".join(f"{title}\n{sections[title]}" for title in SECTIONS if sections[title] != _NONE) + "\n"


@dataclass(frozen=True)
class Blame:
    """What #Implicated shows: the credit of the failing examples (:mod:`.credit`), their number, and
    the judge's words on each example (by its number): what was expected downstream of the calls."""

    credit: tuple[Implicated, ...]
    failing: int
    judged: Mapping[int, str] = field(default_factory=dict)

    def text(self, detail: Detail, many: bool, code_params: frozenset[str]) -> str:
        """A line per implicated variable (the first ``detail.credit_vars``) saying how, each followed
        by its first calls whose results reached a wrong output (``detail.credit_calls`` of them,
        distinct), tagged with their example when there are several, the first of each example with
        what the judge said of it (the feedback propagated to the call); "" when nothing is implicated."""
        if not self.credit:
            return ""
        lines = ["(the variables the wrong outputs came from, most implicated first)"]
        of = f"of {self.failing} failing example{'s' if self.failing > 1 else ''}"
        for credit in self.credit[:detail.credit_vars]:
            if credit.direct:
                how = "its result" if credit.name in code_params else "the result of a call reading it"
                line = f"{credit.name}: {how} reached the wrong output in {credit.direct} {of}"
                line += f"; further up in {credit.indirect} more" if credit.indirect else ""
            else:
                line = (f"{credit.name}: only further up (through state it changed, or a call the output "
                        f"depends on), in {credit.indirect} {of}")
            lines.append(line)
            shown: dict[tuple[int | None, str, str], int] = {}
            for r in credit.reached:
                shown.setdefault((r.example if many else None, r.call, r.output), r.example)
            said: set[int] = set()
            for (example, call, output), number in list(shown.items())[:detail.credit_calls]:
                tag = f"[example {example}] " if example is not None else ""
                line = "  " + truncate(f"{tag}{call} -> output {output}", detail.credit_chars)
                judge = " ".join(self.judged.get(number, "").split())
                if judge and many and number not in said:  # with one example, #Feedback says it just above
                    line += "; the judge: " + truncate(judge, detail.credit_chars)
                    said.add(number)
                lines.append(line)
            if len(shown) > detail.credit_calls:
                lines.append(f"  ... {len(shown) - detail.credit_calls:,} more calls")
        if len(self.credit) > detail.credit_vars:
            lines.append(f"... and {len(self.credit) - detail.credit_vars:,} more, less implicated")
        return "\n".join(lines)


def _same_failures(examples: Sequence[_Example], detail: Detail) -> list[list[_Example]]:
    """The examples in groups: each failure that is identical (same feedback, outputs and tracebacks)
    to an earlier one joins that one's group, so six runs raising one error say it once; every other
    example is a group of its own."""
    groups: list[list[_Example]] = []
    failures: dict[tuple, list[_Example]] = {}
    for example in examples:
        run = example.run
        failed = example.feedback.score is None or (run is not None and (bool(run.errors) or run.output_is_error))
        if not failed:
            groups.append([example])
            continue
        key = (example.feedback.score, example.feedback.text.strip(),
               tuple(run.output_text(detail)) if run else (), tuple(run.tracebacks(detail, example.feedback.text))
               if run else ())
        if key in failures:
            failures[key].append(example)
        else:
            failures[key] = [example]
            groups.append(failures[key])
    return groups


def _numbers(numbers: Sequence[int]) -> str:
    """``1-6``, ``1, 3, 5-7``: example numbers (ascending) with consecutive runs joined."""
    parts: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(f"{start}-{prev}" if prev > start else str(start))
        if n is not None:
            start = prev = n
    return ", ".join(parts)


def _code(focus: _Example, rows: list[Hashable | _Gap], detail: Detail, many: bool) -> str:
    run = focus.run
    if run is None:
        return "(this run was not recorded)"
    lines = [f"(recorded in example {focus.number})"] if many else []
    if detail.collapse:
        lines.append("(only the calls that read a variable, raised an error or produced the output are shown)")
    lines.extend(row.text if isinstance(row, _Gap) else run.code_line(row, detail) for row in rows)
    output = run.output_line()
    if output:
        lines.append(output)
    return "\n".join(lines) or "(no calls were recorded)"


def _verdict(tag: str, example: _Example, detail: Detail, limit: int) -> str:
    feedback = example.feedback
    score = f"score {feedback.score:g}: " if feedback.score is not None else ""
    text = truncate(feedback.text.strip(), limit) or "(no feedback text)"
    parts = [f"{tag}{score}{text}"]
    if example.run is not None:
        parts.extend(example.run.tracebacks(detail, feedback.text))
    return "\n".join(parts)
