"""New texts for a text parameter (a system prompt, a template) from what its outputs should have been:
instruction induction ("Large Language Models Are Human-Level Prompt Engineers", Zhou et al. 2022),
and the output form the judge asks for.

"Improve this prompt given this feedback" is a hard question for a small model: the 1.5B pasted an input into the
prompt or described the task without the exact output form. "Here are inputs and the outputs wanted: what was the
instruction?" is an easier one. The examples shown are the step's own (never held-out ones): each one's input as
the program got it, and the output wanted: the program's own output where the judge gave full marks, else the one
its message names (``expected 'billing'``). Several instructions are sampled, each is run (the loop evaluates them
as one batch and keeps the best), and each comes once more with a sentence stating the output form: the labels the
wanted outputs take, or a few models of the form made up of the parts of different wanted outputs. The current text
with that sentence is a candidate too. Labels alone are opaque (a small model makes up what a code stands for,
docs/decisions/induce.md); what each one means is in the inputs that got it, so one more question asks what each
label's inputs are about, and the sentence names the labels with those meanings when the answer gives one for every
label (or, when it gives none, an induced instruction does: "SPT for sports, ..."). Outputs that are no labels:
models of the form alone leave the rule unsaid (the program's model copies a model, or drops words the models do
not show it keeping), so one more question can ask for the rule that turns an input into its output (off by
default: :data:`RULE`), and the sentence states it: alone (the first candidate, so that of equal scores the rule
without models is kept) and with the models. No text of this module quotes the wanted output of a failing example
shown (outputs that are no labels): that example would pass by copying it. The models of the form are passing
examples' outputs, filled up with made-up ones (the parts of several wanted outputs recombined); a passing
example's output that the program's model copies for other inputs fails the other examples, so the score shown
stays honest. The sentence goes on the current text and, when the best text so far is another, on the best too.

Every text goes through the validation any proposal does (:func:`autotrace.optimizers.validate.validate`):
one that quotes an input shown, or one the program sent with it, is rejected; so is one quoting the wanted output of
a failing example shown that is no label, or an input shown of two words or more however short, and while this
module is asked, a whole-question answer's text quoting one too
(:func:`screened`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import networkx as nx

from autotrace.evaluation import Feedback
from autotrace.graph import ARG_REPR_LIMIT, short_repr
from autotrace.llm.client import LLMReply, Sampling, derived_seed
from autotrace.optimizers.base import Proposal, fill, load_prompt, prompt_tokens
from autotrace.optimizers.reflect import parse_one_value
from autotrace.optimizers.uses import MIN_QUOTE, QUOTE_CHARS, _calls_given, inputs_beside
from autotrace.optimizers.validate import validate
from autotrace.params import ParamKind, ParamSpec
from autotrace.text import truncate

if TYPE_CHECKING:
    from autotrace.llm.client import LLM
    from autotrace.optimizers.base import Optimizer

#: Instructions sampled per step, and their temperature (different seeds must give different ones).
SAMPLES, TEMPERATURE = 3, 0.8
#: Examples shown at most, and characters of an input or an output shown.
DEMOS, INPUT_CHARS, OUTPUT_CHARS = 8, 400, 200
#: Wanted outputs the output-form sentence shows as models of the form: a single one, a small program model
#: copies as its answer (docs/decisions/induce.md).
FORM_EXAMPLES = 3
#: At most this many distinct wanted outputs, each at most this long, and some repeated: they are labels.
LABELS, LABEL_CHARS = 8, 24
#: Where a judge's message names the output it wanted: ``expected 'x'``, ``should be x``, ``(here: x)``.
_WANTED = [re.compile(p, re.IGNORECASE) for p in (
    r"\b(?:expected|wanted|should (?:have )?be(?:en)?|correct answer (?:is|was)|the answer is)\b:?\s*"
    r"(?P<q>['\"])(?P<v>.+?)(?P=q)",
    r"\b(?:expected|wanted|should (?:have )?be(?:en)?|correct answer (?:is|was)|the answer is|here)\b:?\s*"
    r"(?P<v>[^\s,;)'\"]+)",
)]
#: The longest reply read as an instruction when it holds no fenced block (the 1.5B mostly answers
#: "Reply with the instruction only" with the bare sentence; a longer reply is a method, not an instruction).
BARE_CHARS = 400
#: The reasoning a proposal of this module carries (the run store keeps it: which question wrote a text).
INDUCED, WITH_FORM, FORM_ONLY = "instruction induction", "instruction induction with the output form", "output form"
#: The reasoning of the current text with the labels and their meanings (it starts as :data:`FORM_ONLY` does).
FORM_MEANT = "output form with the labels' meanings"
#: Inputs shown per label, and the words a label's meaning may take.
LABEL_INPUTS, MEANING_WORDS = 4, 6
#: The reasoning of a text with the rule the outputs follow (alone, or with models of the form).
FORM_RULE = "output form with the rule"
#: The words the rule may take.
RULE_WORDS = 30
#: Whether a step asks the rule question by default: off, the 1.5B's rules were wrong at every step they were
#: read in the one run measured (docs/decisions/induce.md).
RULE = False
#: The parts of an output that models of the form are recombined from (:func:`models_of`).
_PART = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+|[^A-Za-z\d]+")
#: The shortest wanted output a text may not quote (a shorter one is a word any instruction may use).
MIN_OUTPUT = 4
#: A line of a text that is an output-form sentence of this module (a new one replaces it).
_FORM_LINE = re.compile(r"^Answer with (?:exactly one of: |the output alone, )")


@dataclass(frozen=True)
class Demo:
    """One example as instruction induction shows it: the input and the output wanted."""

    input: str
    wanted: str
    #: The program's own output had full marks (the wanted output is no failing example's).
    passed: bool = False


def induce_targets(optimizer: Optimizer, prompts_only: bool = False) -> list[ParamSpec]:
    """The text parameters (strings with words) the questions of this module can be about; with
    ``prompts_only``, those a recorded run sent to the program's model (:func:`sent_to_model`)."""
    values = optimizer.values
    return [p for p in optimizer.params if p.kind is not ParamKind.CODE and isinstance(values[p.name], str)
            and values[p.name].strip() and " " in values[p.name].strip()
            and (not prompts_only or sent_to_model(p, optimizer.feedback))]


def sent_to_model(spec: ParamSpec, feedback: Sequence[Feedback]) -> bool:
    """Whether a recorded run sent the text ``spec`` to the program's model: a prompt (a model call node
    of an example's graph reads it), the kind of text instruction induction was measured to help."""
    for graph in (f.graph for f in feedback if f.graph is not None):
        for node, attrs in graph.nodes(data=True):
            if attrs.get("kind") == "param" and attrs.get("param") == spec.name and any(
                    graph.nodes[user].get("model_call") for user in graph.successors(node)):
                return True
    return False


def demonstrations(spec: ParamSpec, value: str, feedback: Sequence[Feedback]) -> list[Demo]:
    """The examples' inputs with the outputs wanted, as the feedback states them (at most :data:`DEMOS`).

    With one example per input (the judge's ``examples()``): its input and, when the judge gave it full
    marks, the program's output, else the output the judge's message names. A judge of one run over all
    inputs: the inputs the recorded calls passed together with the text, each with what the message says
    after naming it."""
    demos: list[Demo] = []
    for item in feedback:
        if item.example is not None:
            wanted = _plain(item.output) if item.score is not None and item.score >= 1 else wanted_in(item.text)
            if wanted is not None and wanted.strip():
                demos.append(Demo(_plain(item.example), wanted, item.score is not None and item.score >= 1))
        elif item.graph is not None:
            demos += _demos_in_run(item.graph, spec, value, item.text)
    unique = list(dict.fromkeys(demos))
    return [Demo(truncate(d.input, INPUT_CHARS), truncate(d.wanted, OUTPUT_CHARS), d.passed) for d in unique[:DEMOS]]


def wanted_in(message: str) -> str | None:
    """The output a judge's message says it wanted (``answered 'x', expected 'billing'`` → billing)."""
    for pattern in _WANTED:
        match = pattern.search(message)
        if match:
            return match.group("v").strip()
    return None


def _demos_in_run(graph: nx.DiGraph, spec: ParamSpec, value: str, message: str) -> list[Demo]:
    """The inputs a run's calls passed with the text, each paired with what the judge's message says
    after quoting it (an input it does not name has no wanted output it states, and is left out)."""
    passed = short_repr(value, ARG_REPR_LIMIT)
    demos = []
    for call in _calls_given(graph, passed):
        for arg in graph.nodes[call]["args"].values():
            if arg == passed or (text := _plain(arg)) == arg:
                continue
            at = message.find(arg)
            wanted = wanted_in(message[at + len(arg):at + len(arg) + 200]) if at >= 0 else None
            if wanted is not None:
                demos.append(Demo(text, wanted))
    return demos


def _plain(text: str) -> str:
    """A recorded ``repr`` of a string as the string itself; any other text as it is."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text
    return value if isinstance(value, str) else text


def induce_messages(demos: Sequence[Demo], budget: int) -> list[dict[str, str]] | None:
    """The question "what was the instruction?" about ``demos``, within ``budget`` tokens (fewer demos
    while it does not fit; None when not even one does)."""
    return _asked_about(demos, budget, "induce_system.txt", "induce.txt")


def output_form(demos: Sequence[Demo], rule: str | None = None) -> str | None:
    """One sentence stating the form of the wanted outputs: the labels they take (a few short ones, some
    repeated), else up to :data:`FORM_EXAMPLES` of them as models (those of passing examples first), after
    the ``rule`` they follow when there is one; None without demos."""
    if not demos:
        return None
    wanted = labels_of(demos)
    if wanted:
        return fill("output_form_labels.txt", labels=", ".join(wanted)).strip()
    shown = models_of(demos)
    joined = ("; " if any("," in w for w in shown) else ", ").join(shown)
    if not shown:
        return rule_form(rule) if rule is not None else load_prompt("output_form_alone.txt").strip()
    if rule is not None:
        return fill("output_form_rule_examples.txt", rule=rule, examples=joined).strip()
    if len(shown) == 1:
        return fill("output_form_example.txt", example=shown[0]).strip()
    return fill("output_form_examples.txt", examples=joined).strip()


def models_of(demos: Sequence[Demo]) -> list[str]:
    """Up to :data:`FORM_EXAMPLES` models of the form of the wanted outputs: those of the examples the program
    passes, then made-up ones, never a failing example's (in the prompt, it passes that example by copying).
    A made-up model is made of the parts of different wanted outputs at the same places (``maximumRetryCount``,
    ``userEmailAddress`` and ``lastLoginTime`` give ``maximumEmailTime``; ``2021-03-03`` and ``2019-07-14``
    give ``2021-07-03``): parts are runs of digits, of letters (a capital starts a new one) and of other
    characters, and the outputs recombined are those of the largest group with the same kinds of parts in the
    same order that gives a new one (passing examples' first)."""
    passing = list(dict.fromkeys(d.wanted for d in demos if d.passed))
    return (passing + [m for m in _made_up(demos) if m not in passing])[:FORM_EXAMPLES]


def _made_up(demos: Sequence[Demo]) -> list[str]:
    """Models of the form that are no wanted output, made of the parts of several (:func:`models_of`)."""
    ordered = list(dict.fromkeys([d.wanted for d in demos if d.passed] + [d.wanted for d in demos if not d.passed]))
    groups: dict[tuple[str, ...], list[list[str]]] = {}
    for output in ordered:
        parts = _PART.findall(output)
        if len(parts) > 1 and "".join(parts) == output:
            groups.setdefault(tuple(_kind_of(part) for part in parts), []).append(parts)
    for group in sorted(groups.values(), key=len, reverse=True):
        content = [j for j, part in enumerate(group[0]) if part.isalnum()]  # the n-th one from the (k + n)-th output
        made = ["".join(group[(k + content.index(j)) % len(group) if j in content else k][j]
                        for j in range(len(group[0]))) for k in range(len(group))]
        if models := [m for m in dict.fromkeys(made) if m not in ordered][:FORM_EXAMPLES]:
            return models
    return []


def _kind_of(part: str) -> str:
    """The kind of a part of an output: digits, a lowercase word, a capitalized one, capitals, or the
    other characters themselves (a separator is kept as it is)."""
    if part.isdigit():
        return "9"
    if part.isalpha():
        return "A" if part.isupper() and len(part) > 1 else "Aa" if part[0].isupper() else "a"
    return part


def quoted_output(text: str, demos: Sequence[Demo]) -> str | None:
    """The wanted output of a failing example shown that ``text`` quotes (the example would pass by copying it),
    when the outputs are no labels (a label must be named); None when it quotes none. A passing example's
    output may be quoted: it passed without it, and a text that makes the program copy it for other inputs
    fails the other examples."""
    if labels_of(demos):
        return None
    passing = {d.wanted for d in demos if d.passed}
    return next((d.wanted for d in demos if not d.passed and d.wanted not in passing and len(d.wanted) >= MIN_OUTPUT
                 and d.wanted in text), None)


def rule_messages(demos: Sequence[Demo], budget: int) -> list[dict[str, str]] | None:
    """The question "what rule turns each input into its output?" about ``demos``, within ``budget``
    tokens (fewer demos while it does not fit; None when not even one does)."""
    return _asked_about(demos, budget, "describe_form_system.txt", "describe_form.txt")


def _asked_about(demos: Sequence[Demo], budget: int, system: str, user: str) -> list[dict[str, str]] | None:
    """The ``system`` and ``user`` prompts about as many of ``demos`` as fit in ``budget`` tokens."""
    for count in range(len(demos), 0, -1):
        shown = "\n\n".join(f"Input: {d.input}\nOutput: {d.wanted}" for d in demos[:count])
        messages = [{"role": "system", "content": load_prompt(system).strip()},
                    {"role": "user", "content": fill(user, demos=shown)}]
        if prompt_tokens(messages) <= budget:
            return messages
    return None


def read_rule(reply: str, demos: Sequence[Demo]) -> str | None:
    """The rule of a ``RULE: sentence`` reply (or a reply of one short line): None unless it is at most
    :data:`RULE_WORDS` words and quotes no input and no wanted output shown."""
    lines = [line.strip().strip("`*") for line in reply.strip().splitlines() if line.strip()]
    found = [m.group(1) for line in lines if (m := re.match(r"^\W*rule\W*?\s*[:=\-\u2013]\s*(.+)$", line, re.I))]
    text = (found[0] if found else lines[0] if len(lines) == 1 else "").strip().strip("`*\"' ")
    if not text or len(text.split()) > RULE_WORDS:
        return None
    quoted = [d.wanted for d in demos] + [d.input for d in demos if len(d.input) >= MIN_QUOTE]
    if any(q.lower() in text.lower() for q in quoted):
        return None
    return text if text.endswith((".", "!")) else text + "."


def rule_form(rule: str) -> str:
    """The output-form sentence stating the ``rule`` alone, without models."""
    return fill("output_form_rule.txt", rule=rule).strip()


def labels_of(demos: Sequence[Demo]) -> list[str]:
    """The labels the wanted outputs take (a few short ones, some repeated), in order; [] when they are not
    labels."""
    wanted = list(dict.fromkeys(d.wanted for d in demos))
    if len(wanted) < len(demos) and len(wanted) <= LABELS and all(len(w) <= LABEL_CHARS for w in wanted):
        return wanted
    return []


def meanings_messages(demos: Sequence[Demo], labels: Sequence[str], budget: int) -> list[dict[str, str]] | None:
    """The question "what are each label's inputs about?" (at most :data:`LABEL_INPUTS` inputs a label),
    within ``budget`` tokens (None when it does not fit)."""
    groups = "\n\n".join(f"{label}:\n" + "\n".join([f"- {d.input}" for d in demos if d.wanted == label][:LABEL_INPUTS])
                          for label in labels)
    messages = [{"role": "system", "content": load_prompt("describe_labels_system.txt").strip()},
                {"role": "user", "content": fill("describe_labels.txt", groups=groups)}]
    return messages if prompt_tokens(messages) <= budget else None


def read_meanings(reply: str, labels: Sequence[str]) -> dict[str, str] | None:
    """Each label's meaning from a reply: ``LABEL: words`` lines, else ``LABEL for words``, ``LABEL means
    words`` or ``LABEL (words)`` anywhere in it (an induced instruction names them so at times: "SPT for
    sports, TEC for technology"); None unless every label has one, short (at most :data:`MEANING_WORDS`
    words) and naming no label."""
    meanings: dict[str, str] = {}
    for label in labels:
        found = [m.group(1) for line in reply.splitlines() if (m := re.match(
            rf"^(?:\d+[.)]\s*)?\W*{re.escape(label)}\W*?\s*[:=\-\u2013]\s*(.+)$", line.strip()))]
        inline = rf"\b{re.escape(label)}\b[`*\"']*\s*(?:(?:is for|for|means|stands for)\s+([^,;.()\n]+)|\(([^()\n]+)\))"
        found += [m.group(1) or m.group(2) for m in re.finditer(inline, reply)]
        for raw in found:
            meaning = raw.strip().rstrip(".").strip("`*\"' ").rstrip(".").strip()
            if meaning and len(meaning.split()) <= MEANING_WORDS and not any(x in meaning for x in labels):
                meanings[label] = meaning
                break
    return meanings if set(meanings) == set(labels) else None


def meant_form(labels: Sequence[str], meanings: dict[str, str]) -> str:
    """The output-form sentence naming the labels with their meanings."""
    return fill("output_form_labels_meant.txt", labels=", ".join(labels),
                meanings=", ".join(f"{label} for {meanings[label]}" for label in labels)).strip()


def with_form(text: str, form: str | None) -> str | None:
    """``text`` followed by the ``form`` sentence, in place of an output-form sentence it has; None when
    there is none or the text says it already."""
    if form is None or form in text:
        return None
    kept = [line for line in text.rstrip().splitlines() if not _FORM_LINE.match(line)]
    return "\n".join([*kept, form]) if kept else form


def screened(optimizer: Optimizer, proposals: Sequence[Proposal], prompts_only: bool = False) -> list[Proposal]:
    """``proposals`` (another question's answers) with each new text of a parameter this module is about (with
    ``prompts_only``, a prompt the program sends to its model) rejected when it quotes the wanted output of a
    failing example shown that is no label, as this module's own texts are: the example would pass by copying it."""
    targets = induce_targets(optimizer, prompts_only)
    demos = {spec.name: demonstrations(spec, optimizer.values[spec.name], optimizer.feedback) for spec in targets}
    kept: list[Proposal] = []
    for proposal in proposals:
        quoted = {name: why for name, text in proposal.values.items() if name in demos and isinstance(text, str)
                  and (why := copied(text, demos[name])) is not None}
        kept.append(replace(proposal, values={k: v for k, v in proposal.values.items() if k not in quoted},
                            rejected={**proposal.rejected, **quoted})
                    if quoted else proposal)
    return kept


def induce(llm: LLM, optimizer: Optimizer, seed: int, step: int, samples: int = SAMPLES, *,
           prompts_only: bool = False, best: dict[str, Any] | None = None, rule: bool | None = None
           ) -> list[Proposal]:
    """This step's proposals for the most implicated text parameter (with ``prompts_only``, of those the
    program sends to its model): ``samples`` induced instructions (sampled with seeds from the run's
    ``seed`` and the ``step``), each also with the output form, and the current text (and the ``best``
    values' text, when another) with the output form; with ``rule`` (None: :data:`RULE`), the output form of
    outputs that are no labels states the rule one more question asks for. [] when there is no such parameter
    or no example states the output it wanted."""
    rule = RULE if rule is None else rule
    targets = induce_targets(optimizer, prompts_only)
    if not targets or not optimizer.feedback:
        return []
    spec = optimizer.implicated_target(targets) if len(targets) > 1 else targets[0]
    value = optimizer.values[spec.name]
    demos = demonstrations(spec, value, optimizer.feedback)
    if not demos:
        return []
    inputs = list(dict.fromkeys([*inputs_beside(spec, value, optimizer.feedback),
                                 *(d.input[:QUOTE_CHARS] for d in demos if len(d.input) >= MIN_QUOTE)]))
    form = output_form(demos)
    bases = list(dict.fromkeys([value, *([best[spec.name]] if best and isinstance(best.get(spec.name), str) else [])]))
    proposals: list[Proposal] = []
    asked_of: tuple[list[dict[str, str]], LLMReply] | None = None
    why, asked = FORM_ONLY, ""
    meant = _meant(llm, demos, optimizer.budget_tokens, Sampling(TEMPERATURE, derived_seed(seed, step, "labels", 0)))
    if meant is not None:
        asked_of = meant[0], meant[1]
        # the reasoning keeps the question's reply (the run store shows why its sentence is or is not there)
        asked = f": the labels' meanings asked, answered: {meant[1].text[:500]}"
        if meant[2] is not None:
            form, why = meant[2], FORM_MEANT
    elif rule and not labels_of(demos):
        ruled = _ruled(llm, demos, optimizer.budget_tokens, Sampling(TEMPERATURE, derived_seed(seed, step, "rule", 0)))
        if ruled is not None:
            asked_of = ruled[0], ruled[1]
            asked = f": the rule asked, answered: {ruled[1].text[:500]}"
            if ruled[2] is not None:
                why = FORM_RULE
                for base in bases:  # the rule without models first: of equal scores, it is kept
                    if (formed := with_form(base, rule_form(ruled[2]))) is not None:
                        proposals.append(_given(spec, value, formed, inputs, demos, why + asked))
                form = output_form(demos, ruled[2])
    for base in bases:
        if (formed := with_form(base, form)) is not None:
            proposals.append(_given(spec, value, formed, inputs, demos, why + asked))
    if asked_of is not None:  # the question's cost: on its first proposal, or on one of its own that gives nothing
        if proposals:
            proposals[0] = _costing(proposals[0], *asked_of)
        else:
            proposals.append(Proposal.from_reply(asked_of[0], asked_of[1], {}, {}, why + asked, asked_of[1].error))
    messages = induce_messages(demos, optimizer.budget_tokens)
    if messages is None:
        return proposals
    replies: list[LLMReply] = []
    for i in range(samples):
        reply = llm.complete_text(messages, sampling=Sampling(TEMPERATURE, derived_seed(seed, step, "induce", i)))
        replies.append(reply)
        values: dict[str, Any] = {}
        rejected: dict[str, str] = {}
        if reply.error is None:
            new, reason = parse_one_value(_fenced(reply.text), spec, value, inputs)
            if new is not None and (pasted := copied(new, demos)) is not None:
                new, reason = None, pasted
            if reason is not None:
                rejected[spec.name] = reason
            elif new is not None:
                values[spec.name] = new
        proposals.append(Proposal.from_reply(messages, reply, values, rejected, f"{INDUCED}: {reply.text[:1500]}",
                                             reply.error))
        if values and (formed := with_form(values[spec.name], form)) is not None:
            proposals.append(_given(spec, value, formed, inputs, demos, f"{WITH_FORM}: {formed}"))
    if why != FORM_MEANT:
        proposals += _meant_in_replies(spec, value, bases, replies, inputs, demos)
    return proposals


def _meant_in_replies(spec: ParamSpec, value: str, bases: Sequence[str], replies: Sequence[LLMReply],
                      inputs: Sequence[str], demos: Sequence[Demo]) -> list[Proposal]:
    """The texts ``bases`` with the labels and their meanings as the first of the induced ``replies`` that
    names every label's gives them (the meanings question's reply did not); [] when none does."""
    labels = labels_of(demos)
    for reply in replies if labels else ():
        meanings = read_meanings(reply.text, labels) if reply.error is None else None
        if meanings is not None:
            form = meant_form(labels, meanings)
            why = f"{FORM_MEANT}: read from an induced instruction: {reply.text[:500]}"
            return [_given(spec, value, formed, inputs, demos, why) for base in bases
                    if (formed := with_form(base, form)) is not None]
    return []


def copied(text: str, demos: Sequence[Demo]) -> str | None:
    """Why ``text`` may not be run: it quotes a failing example's wanted output (:func:`quoted_output`), or an
    input shown of two words or more, however short (validation catches the inputs of :data:`MIN_QUOTE`
    characters or more; a prompt listing the short ones is written around the examples at hand); None when
    it quotes neither."""
    if (output := quoted_output(text, demos)) is not None:
        return (f"the text quotes the output wanted for a failing example shown ({short_repr(output, 60)}): that "
                "example would pass by copying it; state the form instead")
    folded = text.casefold()
    pasted = next((d.input for d in demos if len(d.input.split()) > 1 and d.input.casefold() in folded), None)
    return None if pasted is None else (f"the text quotes an input shown ({short_repr(pasted, 60)}); it is sent with "
                                        "every input, so it must not be written around the examples at hand")


def _fenced(reply: str) -> str:
    """The reply with its instruction in a fenced block: as it is when it has one, else its bare text
    when that is short prose (no code, no list)."""
    text = reply.strip()
    if "```" in text or len(text) > BARE_CHARS or any(line.lstrip()[:2] in ("1.", "- ", "* ", "# ")
                                                      for line in text.splitlines()):
        return reply
    return f"```text\n{text.strip(chr(34) + chr(39))}\n```"


def _meant(llm: LLM, demos: Sequence[Demo], budget: int, sampling: Sampling
           ) -> tuple[list[dict[str, str]], LLMReply, str | None] | None:
    """The labels' meanings asked of the model: (the question, its reply, the form sentence with them, or
    None when the reply does not give every label one); None when the outputs are no labels."""
    labels = labels_of(demos)
    messages = meanings_messages(demos, labels, budget) if labels else None
    if messages is None:
        return None
    reply = llm.complete_text(messages, sampling=sampling)
    meanings = read_meanings(reply.text, labels) if reply.error is None else None
    return messages, reply, (meant_form(labels, meanings) if meanings else None)


def _ruled(llm: LLM, demos: Sequence[Demo], budget: int, sampling: Sampling
           ) -> tuple[list[dict[str, str]], LLMReply, str | None] | None:
    """The rule of the outputs asked of the model: (the question, its reply, the rule read from it or None);
    None when the question does not fit the budget."""
    messages = rule_messages(demos, budget)
    if messages is None:
        return None
    reply = llm.complete_text(messages, sampling=sampling)
    return messages, reply, (read_rule(reply.text, demos) if reply.error is None else None)


def _costing(proposal: Proposal, messages: list[dict[str, str]], reply: LLMReply) -> Proposal:
    """``proposal`` carrying the question and cost of the model's ``reply`` that went into it."""
    return replace(proposal, messages=messages, prompt_tokens=reply.prompt_tokens,
                   completion_tokens=reply.completion_tokens, seconds=reply.seconds, cached=reply.cached,
                   timings=reply.timings)


def _given(spec: ParamSpec, value: str, text: str, inputs: Sequence[str], demos: Sequence[Demo], reasoning: str
           ) -> Proposal:
    """A proposal made without an LLM call (``text`` as the new value), validated as an answer's, and rejected
    when it quotes the wanted output of a failing example shown (a text the whole question wrote can)."""
    accepted, rejected = validate({spec.name: text}, [spec], {spec.name: value}, {spec.name: inputs})
    if spec.name in accepted and (why := copied(text, demos)) is not None:
        accepted, rejected = {}, {spec.name: why}
    return Proposal(values=accepted, rejected=rejected, reasoning=reasoning, messages=[], response=text,
                    prompt_tokens=0, completion_tokens=0, seconds=0.0, cached=False, error=None)
