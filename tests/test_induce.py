"""Instruction induction and the output form (runs in this process with ``induce``, against the scripted model):
what the question shows (the examples' inputs with the outputs the judge wanted, never a held-out one),
what it keeps out of the prompt (a text quoting an input), that the best induced text wins, and that by
default it is asked for a prompt the program sends to its model (through the command) and for no other text."""

from __future__ import annotations

import subprocess
from pathlib import Path

import networkx as nx
from helpers import OPENAI_APP, child_env
from inprocess import Ran, run, run_cli
from llmserver import _TOKENS_PER_MESSAGE, ScriptedLLMServer, estimate_tokens

import autotrace.optimizers.induce as induce_module
from autotrace.evaluation import Feedback
from autotrace.optimizers.induce import (
    FORM_MEANT,
    FORM_RULE,
    Demo,
    _fenced,
    demonstrations,
    meant_form,
    models_of,
    output_form,
    quoted_output,
    read_meanings,
    read_rule,
    sent_to_model,
    wanted_in,
    with_form,
)
from autotrace.params import ParamKind, ParamSpec

INDUCE_SYSTEM = "You write short, exact instructions for a language model."
MEANINGS_SYSTEM = "You say in a few words what texts have in common."
RULE_SYSTEM = "You state in one sentence how outputs are made from inputs."
CODES = {
    "Striker scores twice as the home side wins the final": "SPT",
    "Chip maker unveils a faster processor for laptops": "TEC",
    "Parliament passes the budget after a late-night vote": "POL",
    "Marathon runner breaks the course record in the rain": "SPT",
}


ASKS_CODE = '"desk code" in prompt and all(code in prompt for code in ("SPT", "TEC", "POL"))'


def desk_app(folder: Path, knows: str = ASKS_CODE) -> Path:
    """A stand-in for an LLM app: ``ask`` answers a headline's code when the prompt is one the ``knows``
    expression accepts (by default: it asks for the desk code and names the codes)."""
    (folder / "pyproject.toml").write_text("[tool.autotrace]\n")
    (folder / "app.py").write_text(
        f"CODES = {CODES!r}\n"
        'PROMPT = "Talk about the headline."  # autotrace: param system prompt given with each headline\n\n\n'
        "def ask(prompt, headline):\n"
        f"    if {knows}:\n"
        "        return CODES[headline]\n"
        '    return "This headline is about " + headline.lower()\n\n\n'
        "def main(headline):\n"
        "    return ask(PROMPT, headline).split()[0]\n")
    (folder / "judge.py").write_text(
        "from app import CODES\n\n\n"
        "def examples():\n"
        "    return list(CODES)\n\n\n"
        "def feedback(output, headline):\n"
        "    expected = CODES[headline]\n"
        "    return (1.0, 'correct') if output == expected else (0.0, f'answered {output!r}, expected {expected!r}')\n")
    return folder


def scripted(induced: list[str], meanings: str = "I cannot tell."):
    """A reply for each request: the whole-problem question keeps everything, the induction question
    takes the next of ``induced``, the labels' meanings question gets ``meanings``."""
    answers = iter(induced)

    def reply(body: dict) -> str | dict:
        if body["messages"][0]["content"].startswith(INDUCE_SYSTEM):
            return next(answers)
        if body["messages"][0]["content"].startswith(MEANINGS_SYSTEM):
            return meanings
        return {"reasoning": "the prompt is fine", "suggestion": {"app.PROMPT": None}}
    return reply


def optimize(folder: Path, server: ScriptedLLMServer, **options: object) -> Ran:
    return run(folder, server, "app.py", target_score=1, probe=False, resample=0, merge=False, **options)


def induce_requests(server: ScriptedLLMServer) -> list[dict]:
    return [r.json for r in server.chat_requests
            if r.json is not None and r.json["messages"][0]["content"].startswith(INDUCE_SYSTEM)]


def test_induced_instructions_are_asked_from_the_outputs_wanted_and_the_best_is_kept(tmp_path, llm_server):
    headline = next(iter(CODES))
    llm_server.script(*[scripted([
        f"```text\nFor '{headline}' answer SPT.\n```",  # quotes an input: rejected
        "Give the desk code of the headline.",  # a bare sentence is read too; it scores 0, its form wins
        "```text\nGive the desk code of the headline: SPT, TEC or POL, alone.\n```",  # runs, scores 1
    ])] * 5)
    ran = optimize(desk_app(tmp_path), llm_server, steps=1, induce=True)
    assert ran.result.reached_target
    asked = induce_requests(llm_server)
    assert len(asked) == 3  # three samples of one question, each with a seed of its own
    assert len(llm_server.chat_requests) == 5  # and the whole question, and the labels' meanings (no answer read)
    assert len({r["seed"] for r in asked}) == 3 and {r["temperature"] for r in asked} == {0.8}
    assert asked[0]["messages"] == asked[1]["messages"]
    user = asked[0]["messages"][1]["content"]
    for text, code in CODES.items():  # every example's input with the output the judge's message wanted
        assert f"Input: {text}\nOutput: {code}\n" in user + "\n"
    assert "Write that instruction" in user and "do not mention these inputs" in user
    # the quoting answer never ran; of the others, the first that scored 1: an induced text with the form
    step = ran.steps[1]
    assert step.describe == "1"
    assert step.reasoning.startswith("instruction induction with the output form")
    assert step.values["app.PROMPT"] == repr("Give the desk code of the headline.\nAnswer with exactly one "
                                                    "of: SPT, TEC, POL. Write that alone, with nothing before or after "
                                                    "it.")
    # the whole question, the current text with the form, three induced (one rejected: it ran nothing), two forms
    assert step.note.startswith("7 proposed (6 sampled again), 5 new, best 1") and len(step.other_answers) == 6
    assert '+PROMPT = "Give the desk code of the headline.\\nAnswer with exactly one of: SPT, TEC, POL.' in ran.diff


def test_labels_are_named_with_what_their_inputs_are_about(tmp_path, llm_server):
    """Outputs that are labels: one more question shows each label's inputs under it and asks what they are
    about; the current text with the labels and those meanings is run (here the one candidate that scores),
    and the question's tokens are the step's."""
    knows = 'all(f"{code} for" in prompt for code in ("SPT", "TEC", "POL"))'
    meanings = "- SPT: sport results\n**TEC** - technology news.\nPOL: politics"
    llm_server.script(*[scripted(["Name the topic."] * 3, meanings)] * 5)
    ran = optimize(desk_app(tmp_path, knows), llm_server, steps=1, induce=True)
    assert ran.result.reached_target
    (asked,) = [r.json for r in llm_server.chat_requests if r.json["messages"][0]["content"] == MEANINGS_SYSTEM]
    user = asked["messages"][1]["content"]
    assert ("SPT:\n- Striker scores twice as the home side wins the final\n- Marathon runner breaks the course record "
            "in the rain\n\nTEC:\n- Chip maker unveils a faster processor for laptops\n\nPOL:\n") in user
    assert "`LABEL: words`" in user
    step = ran.steps[1]
    assert step.reasoning == f"{FORM_MEANT}: the labels' meanings asked, answered: {meanings}" and step.describe == "1"
    assert step.values["app.PROMPT"] == repr(
        "Talk about the headline.\nAnswer with exactly one of: SPT, TEC, POL, whichever fits: SPT for sport results, "
        "TEC for technology news, POL for politics. Write that alone, with nothing before or after it.")
    sent = sum(estimate_tokens(m["content"]) + _TOKENS_PER_MESSAGE for r in llm_server.chat_requests
               for m in r.json["messages"])
    assert step.prompt_tokens == sent  # every question of the step counted, the meanings' too


def test_labels_meanings_an_induced_instruction_names_are_read_when_the_question_gives_none(tmp_path, llm_server):
    """The meanings question's reply names no label's meaning; an induced instruction names each one ("SPT for
    sport"): the current text with the labels and those meanings is run too, and here it is the one that scores."""
    knows = '"whichever fits: SPT for sport, TEC for tech, POL for politics" in prompt'
    induced = ["Name the topic.", "Give the code (SPT for sport, TEC for tech, POL for politics).", "Name it."]
    llm_server.script(*[scripted(induced, "I cannot tell.")] * 5)
    ran = optimize(desk_app(tmp_path, knows), llm_server, steps=1, induce=True)
    assert ran.result.reached_target
    step = ran.steps[1]
    assert step.reasoning.startswith(f"{FORM_MEANT}: read from an induced instruction: Give the code (SPT for sport")
    assert step.values["app.PROMPT"] == repr(
        "Talk about the headline.\nAnswer with exactly one of: SPT, TEC, POL, whichever fits: SPT for sport, "
        "TEC for tech, POL for politics. Write that alone, with nothing before or after it.")


def test_what_each_label_means_is_read_only_when_every_label_has_a_short_one() -> None:
    labels = ["SPT", "TEC"]
    assert read_meanings("SPT: sports\nTEC: technology", labels) == {"SPT": "sports", "TEC": "technology"}
    assert read_meanings("1. `SPT` = \"sports\".\n2. TEC: new gadgets", labels) == {"SPT": "sports",
                                                                                      "TEC": "new gadgets"}
    assert read_meanings("Give the code (SPT for sports, TEC stands for technology).", labels) == {
        "SPT": "sports", "TEC": "technology"}
    assert read_meanings('Use "SPT" (sport news) or TEC (gadgets).', labels) == {"SPT": "sport news", "TEC": "gadgets"}
    assert read_meanings("SPT: sports", labels) is None  # TEC has none
    assert read_meanings("SPT: sports\nTEC: everything that is not SPT", labels) is None  # names a label
    assert read_meanings("SPT: sports\nTEC: a very long story about all the things in it", labels) is None
    assert meant_form(labels, {"SPT": "sports", "TEC": "technology"}) == (
        "Answer with exactly one of: SPT, TEC, whichever fits: SPT for sports, TEC for technology. Write that alone, "
        "with nothing before or after it.")


def test_held_out_examples_are_never_shown(tmp_path, llm_server):
    llm_server.script(*[scripted(["```text\nName the topic.\n```"] * 6)] * 14)
    ran = optimize(desk_app(tmp_path), llm_server, steps=1, induce=True, holdout=0.5)
    assert [len(s.evaluation.holdout) for s in ran.steps] == [2, 2]
    user = induce_requests(llm_server)[0]["messages"][1]["content"]
    shown = [text for text in CODES if f"Input: {text}\n" in user]
    assert len(shown) == 2  # the two examples the run trains on; the two validation ones stay out


def test_by_default_a_text_the_program_sends_to_no_model_is_not_induced(tmp_path, llm_server):
    llm_server.script(*[scripted([])] * 3)
    ran = optimize(desk_app(tmp_path), llm_server, steps=1)  # ask() stands in for a model: no model call
    assert not ran.result.reached_target and ran.result.best_score == "0"
    assert induce_requests(llm_server) == [] and len(llm_server.chat_requests) == 1


APP_JUDGE = f"""CODES = {CODES!r}


def examples():
    return list(CODES)


def feedback(output, headline):
    expected = CODES[headline]
    return (1.0, "correct") if output == expected else (0.0, f"answered {{output!r}}, expected {{expected!r}}")
"""


def desk_model(body: dict) -> str | dict:
    """The program's requests get a headline's code when the system prompt asks for the desk code and names
    the codes; the induction question gets an instruction without the codes; the whole question keeps all."""
    messages = body["messages"]
    if len(messages) == 2 and messages[1]["content"] in CODES:
        prompt = messages[0]["content"]
        asked = "desk code" in prompt and all(code in prompt for code in ("SPT", "TEC", "POL"))
        return CODES[messages[1]["content"]] if asked else "This headline is news."
    if messages[0]["content"].startswith(INDUCE_SYSTEM):
        return "Give the desk code of the headline."
    return {"reasoning": "the prompt is fine", "suggestion": {"app.PROMPT": None}}


def optimize_app(folder: Path, server: ScriptedLLMServer, *extra: str) -> subprocess.CompletedProcess[str]:
    """``autotrace optimize`` on an unmodified OpenAI program whose calls reach the scripted model (nothing set;
    test_app_model's runs, with ``--no-induce``, show that the flag keeps the question out)."""
    (folder / "pyproject.toml").write_text("")
    (folder / "app.py").write_text(OPENAI_APP)
    (folder / "judge.py").write_text(APP_JUDGE)
    server.script(*[desk_model] * 60)
    env = child_env("OPENAI_", "AUTOTRACE_")
    return run_cli("optimize", "app.py", "--feedback", "judge.py", "--steps", "1", "--target", "1", "--no-probe",
                   "--no-measured-step", "--no-merge", "--base-url", server.base_url, "--model", "scripted", *extra,
                   cwd=folder, env=env)


def test_by_default_a_prompt_the_program_sends_to_its_model_is_induced(tmp_path, llm_server):
    done = optimize_app(tmp_path, llm_server)
    assert done.returncode == 0, done.stderr
    asked = induce_requests(llm_server)
    assert len(asked) == 3
    user = asked[0]["messages"][1]["content"]
    assert all(f"Input: {text}\nOutput: {code}" in user for text, code in CODES.items())
    assert ('+PROMPT = "Give the desk code of the headline.\\nAnswer with exactly one of: SPT, TEC, POL.'
            in done.stdout), done.stdout


PROMPT = ParamSpec("app.py::PROMPT", Path("app.py"), "app", "PROMPT", ParamKind.LITERAL, "", "Read it.", 1)


def test_the_outputs_wanted_are_the_right_outputs_and_those_the_judge_names() -> None:
    feedback = [Feedback(None, "correct", 1.0, example="'first input'", output="'yes'"),
                Feedback(None, "answered 'maybe', expected 'no'", 0.0, example="'second input'", output="'maybe'"),
                Feedback(None, "wrong", 0.0, example="'third input'", output="'x'")]  # names no output: left out
    assert demonstrations(PROMPT, "Read it.", feedback) == [Demo("first input", "yes", passed=True),
                                                            Demo("second input", "no")]


def test_a_judge_of_the_whole_run_is_read_by_the_inputs_its_message_quotes() -> None:
    graph = nx.DiGraph()
    for i, dialogue in enumerate(("Speaker 1: 'Coming?' Speaker 2: 'I am tired.'", "Speaker 1: 'Tea?' Speaker 2: 'Yes'")):
        graph.add_node(f"call:{i}", kind="call", func="app.ask", seq=i,
                       args={"prompt": repr("Read it."), "dialogue": repr(dialogue)})
    message = "1/2 right. Wrong: " + repr("Speaker 1: 'Coming?' Speaker 2: 'I am tired.'") + ": answered 'yes', " \
              "expected 'no'."
    demos = demonstrations(PROMPT, "Read it.", [Feedback(graph, message, 0.5)])
    assert demos == [Demo("Speaker 1: 'Coming?' Speaker 2: 'I am tired.'", "no")]


def test_what_a_judge_says_it_wanted() -> None:
    assert wanted_in("answered 'the', expected 'billing'") == "billing"
    assert wanted_in('got "x" but the correct answer is "2021-03-03"') == "2021-03-03"
    assert wanted_in("which is no label (here: bug)") == "bug"
    assert wanted_in("Expected: maximumRetryCount") == "maximumRetryCount"
    assert wanted_in("wrong answer") is None


def test_the_output_form_names_labels_or_shows_models_made_of_the_outputs_parts() -> None:
    labels = [Demo("a", "SPT"), Demo("b", "TEC"), Demo("c", "SPT")]
    assert output_form(labels) == "Answer with exactly one of: SPT, TEC. Write that alone, with nothing before or after it."
    dates = [Demo("a", "2021-03-03"), Demo("b", "2019-07-14"), Demo("c", "2020-01-02"), Demo("d", "1999-12-31")]
    # the year of one, the month of the next, the day of the one after: no wanted output is shown
    assert output_form(dates) == ("Answer with the output alone, with nothing before or after it, written exactly in "
                                  "the form of these examples: 2021-07-02, 2019-01-31, 2020-12-03")
    assert output_form(dates[:1]) == "Answer with the output alone, with nothing before or after it."
    assert output_form([Demo("a", "Paris, France"), Demo("b", "Rome, Italy")]).endswith(": Paris, Italy; Rome, France")
    names = [Demo("a", "maximumRetryCount"), Demo("b", "userEmailAddress"), Demo("c", "lastLoginTime")]
    assert models_of(names) == ["maximumEmailTime", "userLoginCount", "lastRetryAddress"]
    # outputs of different kinds of parts: the largest group that gives a new one, after the passing outputs
    assert models_of([Demo("a", "first_name", passed=True), Demo("b", "HTTPServer"), Demo("c", "user_name"),
                      Demo("d", "JSONParser")]) == ["first_name", "HTTPParser", "JSONServer"]
    assert output_form([]) is None
    assert with_form("Read it.", "Say yes.") == "Read it.\nSay yes." and with_form("Say yes.", "Say yes.") is None
    earlier = "Read it.\nAnswer with exactly one of: SPT, TEC. Write that alone, with nothing before or after it."
    assert with_form(earlier, "Answer with exactly one of: A, B.") == "Read it.\nAnswer with exactly one of: A, B."


def test_a_bare_instruction_is_read_and_a_method_is_not() -> None:
    assert _fenced("Give the desk code of the headline.") == "```text\nGive the desk code of the headline.\n```"
    method = "To do it:\n1. Read the input.\n2. Answer."
    assert _fenced(method) == method  # no block: parse_one_value rejects it
    assert _fenced("Say it.\n```text\nAnswer yes.\n```") == "Say it.\n```text\nAnswer yes.\n```"


def test_a_prompt_is_a_text_a_model_call_reads() -> None:
    def graph(model_call: bool) -> nx.DiGraph:
        built = nx.DiGraph()
        built.add_node("param:app.PROMPT", kind="param", param="app.PROMPT")
        built.add_node("call:0", kind="call", func="chat.completions.create", model_call=model_call)
        built.add_edge("param:app.PROMPT", "call:0", role="reads")
        return built

    assert sent_to_model(PROMPT, [Feedback(graph(True), "wrong", 0.0)])
    assert not sent_to_model(PROMPT, [Feedback(graph(False), "wrong", 0.0)])
    assert not sent_to_model(PROMPT, [Feedback(None, "wrong", 0.0)])


FIELDS = {"maximum retry count": "maximumRetryCount", "user email address": "userEmailAddress",
          "last login time": "lastLoginTime", "total order price": "totalOrderPrice"}


def naming_app(folder: Path, knows: str) -> Path:
    """A stand-in for an LLM app naming a described field: ``ask`` answers its camelCase name when the prompt
    is one the ``knows`` expression accepts, else the prompt's last word (a model copying a model of the form)."""
    (folder / "pyproject.toml").write_text("[tool.autotrace]\n")
    (folder / "app.py").write_text(
        f"FIELDS = {FIELDS!r}\n"
        'PROMPT = "Help with the words."  # autotrace: param system prompt given with each description\n\n\n'
        "def ask(prompt, words):\n"
        f"    if {knows}:\n"
        "        first, *rest = words.split()\n"
        "        return first + ''.join(w.capitalize() for w in rest)\n"
        "    return prompt.split()[-1]\n\n\n"
        "def main(words):\n"
        "    return ask(PROMPT, words)\n")
    (folder / "judge.py").write_text(
        "from app import FIELDS\n\n\n"
        "def examples():\n"
        "    return list(FIELDS)\n\n\n"
        "def feedback(output, words):\n"
        "    expected = FIELDS[words]\n"
        "    return (1.0, 'correct') if output == expected else (0.0, f'answered {output!r}, expected {expected!r}')\n")
    return folder


def rule_scripted(rule: str):
    """The rule question gets ``rule``; the induction question an instruction that states no form; the whole
    question keeps everything."""
    def reply(body: dict) -> str | dict:
        system = body["messages"][0]["content"]
        if system.startswith(RULE_SYSTEM):
            return rule
        if system.startswith(INDUCE_SYSTEM):
            return "Name the field."
        return {"reasoning": "the prompt is fine", "suggestion": {"app.PROMPT": None}}
    return reply


def test_outputs_that_are_no_labels_get_the_rule_stated_before_any_model(tmp_path, llm_server, monkeypatch):
    """Outputs that are no labels: one more question shows the inputs with their outputs and asks for the
    rule; the current text with the rule alone is run first, so that of equal scores it is kept over the one
    that also lists outputs as models (which a model can copy), and the question's tokens are the step's."""
    monkeypatch.setattr(induce_module, "RULE", True)  # off by default
    llm_server.script(*[rule_scripted("RULE: Join all the words in camelCase, the first word lowercase.")] * 6)
    ran = optimize(naming_app(tmp_path, '"camelCase" in prompt'), llm_server, steps=1, induce=True)
    assert ran.result.reached_target
    (asked,) = [r.json for r in llm_server.chat_requests if r.json["messages"][0]["content"] == RULE_SYSTEM]
    user = asked["messages"][1]["content"]
    assert all(f"Input: {words}\nOutput: {name}" in user for words, name in FIELDS.items())
    assert "`RULE: sentence`" in user and "Do not quote these inputs or outputs" in user
    step = ran.steps[1]
    rule = "Join all the words in camelCase, the first word lowercase."
    assert step.reasoning.startswith(f"{FORM_RULE}: the rule asked, answered: RULE: ") and step.describe == "1"
    assert step.values["app.PROMPT"] == repr(
        f"Help with the words.\nAnswer with the output alone, with nothing before or after it. The rule: {rule}")
    # the whole question, the text with the rule, with the rule and models, three induced, each with the form
    assert step.note.startswith("9 proposed") and len(step.other_answers) == 8
    with_models = [a for a in step.other_answers if "form of these examples" in a.response]
    assert with_models and all("maximumEmailTime, userLoginPrice, lastOrderCount" in a.response for a in with_models)
    sent = sum(estimate_tokens(m["content"]) + _TOKENS_PER_MESSAGE for r in llm_server.chat_requests
               for m in r.json["messages"])
    assert step.prompt_tokens == sent


def test_a_rule_that_quotes_an_example_is_not_put_in_the_prompt(tmp_path, llm_server, monkeypatch):
    """A rule quoting a wanted output is not read: only the models of the form are run (the program here
    copies the last one: nothing scores)."""
    monkeypatch.setattr(induce_module, "RULE", True)
    llm_server.script(*[rule_scripted("RULE: answer like maximumRetryCount.")] * 6)
    ran = optimize(naming_app(tmp_path, '"camelCase" in prompt'), llm_server, steps=1, induce=True)
    assert not ran.result.reached_target
    answers = [ran.steps[1].response, *(a.response for a in ran.steps[1].other_answers)]
    assert not any("The rule:" in (a or "") for a in answers)
    assert any("form of these examples: maximumEmailTime" in (a or "") for a in answers)


def test_the_rule_is_read_from_one_short_line_quoting_no_example() -> None:
    demos = [Demo("the date is March 3, 2021", "2021-03-03"), Demo("due 14 July 2019", "2019-07-14")]
    assert read_rule("RULE: The date as YYYY-MM-DD", demos) == "The date as YYYY-MM-DD."
    assert read_rule("**Rule:** write the date as year-month-day.", demos) == "write the date as year-month-day."
    assert read_rule("The date as YYYY-MM-DD.", demos) == "The date as YYYY-MM-DD."  # one bare line
    assert read_rule("Here is the rule.\nIt depends.", demos) is None  # no RULE line, more than one line
    assert read_rule("RULE: write it like 2021-03-03.", demos) is None  # quotes a wanted output
    assert read_rule("RULE: " + "word " * 40, demos) is None


def test_models_of_the_form_are_passing_examples_outputs_then_made_up_ones_never_a_failing_ones() -> None:
    demos = [Demo("a", "firstName"), Demo("b", "lastName"), Demo("c", "userEmail", passed=True),
             Demo("d", "orderTotal")]
    # userEmail passes; then made up: user+Name, (first+Name is firstName: left out), last+Total, ...
    assert output_form(demos).endswith("these examples: userEmail, userName, lastTotal")
    assert output_form(demos, "camelCase.") == ("Answer with the output alone, with nothing before or after it. The "
                                                "rule: camelCase. Written exactly in the form of these examples: "
                                                "userEmail, userName, lastTotal")
    assert quoted_output("Like userEmail.", demos) is None  # a passing example's output may be shown
    assert quoted_output("Like orderTotal.", demos) == "orderTotal"
    assert quoted_output("Answer SPT.", [Demo("a", "SPT"), Demo("b", "TEC"), Demo("c", "SPT")]) is None  # labels


def quoting_scripted():
    """The induction question gets an instruction quoting a wanted output first, then ones stating the form;
    the whole question proposes a text quoting a failing example's wanted output."""
    induced = iter(["Name the field like maximumRetryCount.", "Join the words in camelCase.", "Name it in camelCase."])

    def reply(body: dict) -> str | dict:
        if body["messages"][0]["content"].startswith(INDUCE_SYSTEM):
            return next(induced)
        return {"reasoning": "show it", "suggestion": {"app.PROMPT": "Answer in camelCase, e.g. userEmailAddress."}}
    return reply


def test_no_text_quoting_a_wanted_output_shown_is_run(tmp_path, llm_server):
    """Outputs that are no labels: an induced text quoting an example's wanted output is rejected, no form
    sentence shows one (its models are made up of their parts), and neither is the whole question's answer
    that quotes one run: no text the step runs hands a visible example its answer."""
    llm_server.script(*[quoting_scripted()] * 8)
    ran = optimize(naming_app(tmp_path, '"camelCase" in prompt'), llm_server, steps=1, induce=True)
    step = ran.steps[1]
    answers = [step, *step.other_answers]
    induced = [a for a in answers if "like maximumRetryCount" in (a.response or "")]
    assert len(induced) == 1 and not induced[0].candidate  # it never ran
    whole = [a for a in answers if "e.g. userEmailAddress" in (a.response or "")]
    assert len(whole) == 1 and not whole[0].candidate
    ran_texts = [v for a in answers for v in a.candidate.values()] + [step.values["app.PROMPT"]]
    assert not any(name in t for t in ran_texts for name in FIELDS.values())
    assert any("form of these examples: maximumEmailTime, userLoginPrice, lastOrderCount" in t for t in ran_texts)
    assert ran.result.reached_target and "camelCase" in step.values["app.PROMPT"]


def test_a_text_listing_short_inputs_shown_is_not_run(tmp_path, llm_server):
    """Inputs too short for the validation's quote check (under 24 characters): an induced text listing them
    is rejected all the same (a prompt written around the examples at hand), so is the whole question's; a
    one-word text is no such quote."""
    listing = ('Name the field in camelCase, as for "maximum retry count, user email address, last login time".')
    induced = iter([listing, "Name it.", "Name it in camelCase."])

    def reply(body: dict) -> str | dict:
        if body["messages"][0]["content"].startswith(INDUCE_SYSTEM):
            return next(induced)
        return {"reasoning": "list them", "suggestion": {"app.PROMPT": "camelCase: total order price."}}

    llm_server.script(*[reply] * 8)
    ran = optimize(naming_app(tmp_path, '"camelCase" in prompt'), llm_server, steps=1, induce=True)
    step = ran.steps[1]
    answers = [step, *step.other_answers]
    ran_texts = [v for a in answers for v in a.candidate.values()]
    assert ran_texts and not any(words in t for t in ran_texts for words in FIELDS)
    assert [a for a in answers if a.response == listing and not a.candidate]
    assert ran.result.reached_target and step.values["app.PROMPT"].startswith("'Name it in camelCase.")


def test_without_induction_the_whole_questions_answers_are_not_screened(tmp_path, llm_server):
    llm_server.script(*[quoting_scripted()] * 8)
    ran = optimize(naming_app(tmp_path, '"camelCase" in prompt'), llm_server, steps=1, induce=False)
    assert ran.steps[1].values["app.PROMPT"] == repr("Answer in camelCase, e.g. userEmailAddress.")


def test_the_form_goes_on_the_best_text_when_the_steps_parent_is_another(tmp_path, llm_server):
    """The step's parent can be a worse text than the best so far (the last step's best candidate scored
    less): the output form goes on both, and here only the best text with it scores."""
    knows = ('prompt.startswith("Best") and ("whichever fits" in prompt or (headline.startswith("Striker") and '
             '"exactly one of" not in prompt))')
    wholes = iter(["Best guess.", "Worse guess."])  # a text of words: one word is no prompt
    meanings = iter(["I cannot tell.", "I cannot tell."])

    def reply(body: dict) -> str | dict:
        system = body["messages"][0]["content"]
        if system.startswith(INDUCE_SYSTEM):
            return "Name the topic."
        if system.startswith(MEANINGS_SYSTEM):
            return next(meanings, "SPT: sport\nTEC: technology\nPOL: politics")
        return {"reasoning": "try this", "suggestion": {"app.PROMPT": next(wholes, None)}}

    llm_server.script(*[reply] * 20)
    ran = optimize(desk_app(tmp_path, knows), llm_server, steps=3, induce=True)
    assert [s.describe for s in ran.steps] == ["0", "0.25", "0", "1"]
    assert ran.steps[2].values["app.PROMPT"] == repr("Worse guess.")  # step 3's parent; the best is another
    assert ran.steps[3].reasoning.startswith(FORM_MEANT)
    assert ran.steps[3].values["app.PROMPT"] == repr(
        "Best guess.\nAnswer with exactly one of: SPT, TEC, POL, whichever fits: SPT for sport, TEC for technology, POL for "
        "politics. Write that alone, with nothing before or after it.")


def test_by_default_no_rule_is_asked(tmp_path, llm_server):
    llm_server.script(*[rule_scripted("RULE: Join all the words in camelCase.")] * 6)
    optimize(naming_app(tmp_path, '"camelCase" in prompt'), llm_server, steps=1, induce=True)
    assert not [r for r in llm_server.chat_requests if r.json["messages"][0]["content"] == RULE_SYSTEM]
    assert len(induce_requests(llm_server)) == 3
