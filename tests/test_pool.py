"""The candidate pool: the per-example Pareto front, the seeded parent choice, merges with and without
the model, duplicates skipped, several answers per step: runs in this process (tests/inprocess.py) against
the scripted LLM server over HTTP, asserting on the stored steps and pool."""

from __future__ import annotations

import json
import re
from pathlib import Path

from inprocess import Ran
from inprocess import run as run_here
from llmserver import ScriptedLLMServer

from autotrace.evaluation import ExampleResult
from autotrace.pool import Candidate, Pool, example_labels


def cand(cid: int, **scores: float | None) -> Candidate:
    return Candidate(cid, {"x": str(cid)}, (0,) if cid else (), cid, scores, "proposal" if cid else "initial")


def pool_of(*candidates: Candidate) -> Pool:
    pool = Pool()
    for c in candidates:
        pool.add((("x", str(c.id)),), c)
    return pool


def test_the_front_keeps_every_candidate_best_on_an_example_and_drops_the_dominated():
    pool = pool_of(cand(0, a=1, b=0, c=0), cand(1, a=0, b=1, c=0), cand(2, a=1, b=0, c=0),  # 2 ties 0: both stay
                   cand(3, a=0, b=0.5, c=0), cand(4, a=None, b=None, c=1), cand(5, a=0, b=1, c=1))
    # 1 is best on b but 5 matches it there and beats it on c: dominated; 3 is best nowhere
    # 4 is best on c, but 5 matches it there and beats it on a and b; 0 and 2 are equal, both stay
    assert [c.id for c in pool.front()] == [0, 2, 5]
    assert pool.wins(pool.by_id(5)) == {"b", "c"} and pool.wins(pool.by_id(3)) == set()
    probe = Candidate(6, {"x": "6"}, (0,), 1, {"a": 9, "b": 9, "c": 9}, "probe")
    pool.add((("x", "6"),), probe)
    assert 6 not in [c.id for c in pool.front()]  # a probe is remembered, not a candidate of its own


def test_the_parent_is_drawn_from_the_front_with_the_seed_and_step():
    pool = pool_of(cand(0, a=1, b=0), cand(1, a=0, b=1), cand(2, a=0, b=0))
    draws = [pool.choose_parent(7, step).id for step in range(1, 40)]
    assert set(draws) == {0, 1}  # both front members are drawn, the dominated one never
    assert draws == [pool.choose_parent(7, step).id for step in range(1, 40)]  # reproducible
    assert draws != [pool.choose_parent(8, step).id for step in range(1, 40)]  # the seed matters


def test_a_candidate_survives_its_json_codec_and_duplicate_keys_are_kept_once():
    c = Candidate(3, {"m.f": "def f():\n    return 1\n"}, (1, 2), 4, {"t::a": 1.0, "t::b": None}, "merge",
                  (-1.0, 0.5))
    assert Candidate.from_json(json.loads(json.dumps(c.to_json()))) == c
    assert Candidate.from_json(json.loads(json.dumps(Candidate(0, {}, (), 0, {}, "initial").to_json()))).rank == (
        float("-inf"), float("-inf"))
    pool = pool_of(cand(0, a=1))
    assert pool.add((("x", "0"),), cand(9, a=0)).id == 0 and len(pool.candidates) == 1
    assert example_labels([ExampleResult(example="[1]"), ExampleResult(example="[2]"), ExampleResult(example="[1]")]) == ["[1]", "[2]", "[1] #2"]


# -- through `autotrace optimize` ---------------------------------------------------------------------

TWO_PARTS = '''GREETING = "hello"  # autotrace: param
CLOSING = "bye"  # autotrace: param


def main(example):
    return GREETING if example == "open" else CLOSING
'''
TWO_JUDGE = '''WANT = {"open": "Dear Sir", "close": "Regards"}


def examples():
    return ["open", "close"]


def feedback(output, example):
    if output == WANT[example]:
        return 1.0, f"{example}: {output!r}, right"
    return 0.0, f"{example}: {output!r}, want {WANT[example]!r}"
'''


def two_parts(folder: Path) -> Path:
    (folder / "pyproject.toml").write_text("[tool.autotrace]\n")
    (folder / "app.py").write_text(TWO_PARTS)
    (folder / "judge.py").write_text(TWO_JUDGE)
    return folder


def suggest(**values: str) -> dict:
    return {"reasoning": "scripted", "suggestion": {"app.GREETING": None, "app.CLOSING": None,
                                                    **{f"app.{k}": v for k, v in values.items()}}}


def run(folder: Path, server: ScriptedLLMServer, **options: object) -> Ran:
    return run_here(folder, server, "app.py", **options)


def test_two_half_right_candidates_are_merged_into_a_right_one_without_an_llm_call(tmp_path, llm_server):
    llm_server.script(suggest(GREETING="Dear Sir"), suggest(CLOSING="Regards"))
    ran = run(two_parts(tmp_path), llm_server, candidates=2, steps=3, target_score=1)
    assert ran.result.reached_target
    assert len(llm_server.chat_requests) == 2  # the two answers of step 1; the merge asked nothing
    assert ran.steps[1].note == "2 proposed, 2 new, best 0.5; merged candidates 1 and 2 (no LLM call): 1; front 1"
    assert ran.steps[1].merge is not None and [s.step for s in ran.steps] == [0, 1]  # the target was reached at step 1
    assert '+GREETING = "Dear Sir"' in ran.diff and '+CLOSING = "Regards"' in ran.diff
    pool = ran.pool
    assert [(c.id, c.origin, c.parents) for c in pool] == [(0, "initial", ()), (1, "proposal", (0,)),
                                                           (2, "proposal", (0,)), (3, "merge", (1, 2))]
    assert pool[3].scores == {"'open'": 1.0, "'close'": 1.0}
    # the two answers were sampled differently, with seeds from the run's seed, the step and the index
    sent = sorted((r.json["temperature"], r.json["seed"]) for r in llm_server.chat_requests)
    assert sent[0] == (0.0, 0) and sent[1][0] == 0.8 and sent[1][1] != 0


def test_the_next_parent_is_drawn_from_the_front_and_shown_with_its_values(tmp_path, llm_server):
    # step 1: two half-right answers; step 2 is about the better of them (the model sees what its change
    # did); its answers change nothing, so step 3 starts from a parent drawn from the front
    llm_server.script(suggest(GREETING="Dear Sir"), suggest(CLOSING="Regards"), suggest(), suggest(), suggest(),
                      suggest())
    ran = run(two_parts(tmp_path), llm_server, candidates=2, steps=3, merge=False, max_unchanged=0, resample=0)
    steps = ran.steps
    pool = Pool()
    for c in ran.pool:
        pool.add(tuple(sorted(c.values.items())), c)
    assert [c.id for c in pool.front()] == [1, 2]  # each right on one example; the initial values on none
    assert list(steps[1].front) == [1, 2] and list(steps[3].parent) == [pool.choose_parent(0, 3).id]
    parent = pool.choose_parent(0, 3)
    prompts = [r.json["messages"][-1]["content"] for r in llm_server.chat_requests[4:]]
    shown = parent.values["app.GREETING"] if parent.values["app.GREETING"] != "'hello'" else parent.values["app.CLOSING"]
    # (the first answer's question may be step 2's again, not asked twice: the sampled one is new)
    assert prompts and all(shown in p.split("#Variables")[1].split("#")[0] for p in prompts)


def test_duplicate_answers_are_evaluated_once(tmp_path, llm_server):
    # three answers, two of them the same value: two candidates are run, once each
    llm_server.script(suggest(GREETING="Dear Sir"), suggest(GREETING="Dear Sir"), suggest(GREETING="Hi"))
    ran = run(two_parts(tmp_path), llm_server, candidates=3, steps=1, merge=False)
    assert ran.steps[1].note.startswith("3 proposed, 2 new, best 0.5")
    assert ran.steps[1].evaluated is not None and len(ran.steps[1].evaluated) == 2  # two program runs in the step
    greetings = [c.values["app.GREETING"] for c in ran.pool]
    assert greetings[0] == "'hello'" and sorted(greetings[1:]) == ["'Dear Sir'", "'Hi'"]


MEDIAN = '''def median(values):  # autotrace: param the median of a non-empty list of numbers
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def main(values):
    return median(values)
'''
MEDIAN_JUDGE = '''import statistics


def examples():
    return [[3, 1, 2], [4, 1, 3, 2]]


def feedback(output, values):
    want = statistics.median(values)
    return (1.0, f"median({values}) = {output}, right") if output == want else (0.0, f"median({values}) = {output!r}, want {want!r}")
'''
EVEN_ONLY = '''def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return (ordered[middle - 1] + ordered[middle]) / 2
'''
BOTH = '''def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
'''


def test_two_versions_of_one_function_right_on_different_examples_are_merged_by_the_model(tmp_path, llm_server):
    (tmp_path / "pyproject.toml").write_text("[tool.autotrace]\n")
    (tmp_path / "stats.py").write_text(MEDIAN)
    (tmp_path / "judge.py").write_text(MEDIAN_JUDGE)
    llm_server.script(f"Even lists need the mean.\n```python\n{EVEN_ONLY}```\n",
                      f"A is right on odd lists, B on even ones.\n```python\n{BOTH}```\n")
    ran = run_here(tmp_path, llm_server, "stats.py", steps=3, target_score=1)
    assert ran.result.reached_target
    # step 1's candidate is right on the even list and wrong on the odd one, the initial version the other
    # way round: the model is asked to merge the two, told what each gets right
    assert ran.steps[1].note.endswith("changed stats.median; merged candidates 0 and 1 (merged by the model): 1")
    assert [(c.id, c.origin, c.parents) for c in ran.pool][-1] == (2, "merge", (0, 1))
    merge = llm_server.chat_requests[1].json["messages"][-1]["content"]
    assert "return ordered[len(ordered) // 2]" in merge and "(ordered[middle - 1] + ordered[middle]) / 2" in merge
    right_a = merge[merge.index("Version A is right"):merge.index("#Version B")]
    assert "median([3, 1, 2]) = 2, right" in right_a and "[4, 1, 3, 2]" not in right_a
    assert "median([4, 1, 3, 2]) = 2.5, right" in merge[merge.index("Version B is right"):]
    assert len(llm_server.chat_requests) == 2 and "if len(ordered) % 2:" in ran.diff


EXCLAIM = '''SUFFIX = ""  # autotrace: param
SPECIAL = {}  # autotrace: param


def main(word):
    return SPECIAL.get(word, word + SUFFIX)
'''
EXCLAIM_JUDGE = '''def examples():
    return EXAMPLES


def feedback(output, word):
    return (1.0, f"{word}: {output!r}, right") if output == word + "!" else (0.0, f"{word}: {output!r}, want {word + '!'!r}")
'''


def exclaim(folder: Path, examples: str) -> Path:
    (folder / "pyproject.toml").write_text("[tool.autotrace]\n")
    (folder / "app.py").write_text(EXCLAIM)
    (folder / "judge.py").write_text(f"EXAMPLES = {examples}\n\n\n{EXCLAIM_JUDGE}")
    return folder


def fit(**values: object) -> dict:
    return {"reasoning": "scripted", "suggestion": {"app.SUFFIX": None, "app.SPECIAL": None,
                                                    **{f"app.{k}": v for k, v in values.items()}}}


def test_the_patch_is_the_best_candidate_on_the_validation_examples(tmp_path, llm_server):
    # Both answers are right on the train examples; only the second is right on the held-out one.
    llm_server.script(fit(SPECIAL={"a": "a!", "b": "b!"}), fit(SPECIAL={}, SUFFIX="!"))
    folder = exclaim(tmp_path, '{"train": ["a", "b"], "val": ["c"]}')
    ran = run(folder, llm_server, steps=2, merge=False, max_unchanged=0)
    assert [(r.step, r.score, r.best) for r in ran.reports[1:]] == [(1, "1, val 0", "1, val 0"),
                                                                    (2, "1, val 1", "1, val 0")]  # train ties
    assert ran.result.best_score == "1, val 1" and ran.steps[2].describe == "1, val 1"
    assert '+SUFFIX = "!"' in ran.diff and "+SPECIAL" not in ran.diff
    prompts = [r.json["messages"][-1]["content"] for r in llm_server.chat_requests]
    assert all("'c'" not in p for p in prompts)  # the validation example is never shown to the model


def test_holdout_splits_the_examples_the_same_way_at_every_evaluation(tmp_path, llm_server):
    llm_server.script(fit(SUFFIX="?"), fit(SUFFIX="!"))
    folder = exclaim(tmp_path, '["a", "b", "c", "d"]')
    ran = run(folder, llm_server, steps=2, holdout=0.25, merge=False, target_score=1)
    assert ran.result.reached_target  # the target (on the train score) is reached at step 2
    held = {tuple(e.example for e in s.evaluation.holdout) for s in ran.steps}
    assert len(held) == 1 and len(next(iter(held))) == 1  # one of four, the same one every time
    assert all(len(s.evaluation.examples) == 3 for s in ran.steps)
    assert ran.steps[2].describe == "1, val 1"


def test_the_report_of_a_pooled_run_names_each_steps_parent_candidate(tmp_path, llm_server):
    # As above, one step more: step 4 starts from candidate 2, drawn from the front (the seed's draw),
    # the answer of step 1 that step 1 did not keep, not the values step 3 ended with.
    llm_server.script(suggest(GREETING="Dear Sir"), suggest(CLOSING="Regards"), *[suggest()] * 6)
    ran = run(two_parts(tmp_path), llm_server, candidates=2, steps=4, merge=False, max_unchanged=0, resample=0)
    steps = ran.steps
    pool = {c.id: c for c in ran.pool}
    assert [s.parent for s in steps] == [(), (0,), (1,), (1,), (2,)]
    assert pool[2].step == 1 and dict(pool[2].values) != dict(steps[3].values)
    page = next((tmp_path / ".autotrace" / "runs").glob("*/report.html")).read_text()
    summaries = re.findall(r"<summary><b>step (\d+)</b>(.*?)</summary>", page)
    assert [int(n) for n, _ in summaries] == [0, 1, 2, 3, 4]
    assert "(from step" not in summaries[0][1]
    for (_, line), record in zip(summaries[1:], steps[1:], strict=True):
        (parent,) = record.parent
        assert f"(from step {pool[parent].step}: candidate {parent})" in line, line
