"""The candidate pool: the per-example Pareto front, the seeded parent choice, merges with and without
the model, duplicates skipped, several answers per step (real ``autotrace optimize`` subprocesses
against the scripted LLM server over HTTP)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
from pathlib import Path

from helpers import AUTOTRACE
from llmserver import ScriptedLLMServer

from autotrace.evaluation import ExampleResult
from autotrace.pool import Candidate, Pool, example_labels
from autotrace.records import StepRecord


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


def run(folder: Path, server: ScriptedLLMServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AUTOTRACE_"))}
    return subprocess.run([str(AUTOTRACE), "optimize", "app.py", "--feedback", "judge.py", *args,
                           "--base-url", server.base_url, "--model", "scripted"],
                          cwd=folder, env={**env, "OPENAI_API_KEY": "test"}, capture_output=True, text=True,
                          timeout=120)


def stored(folder: Path, what: str) -> list[dict]:
    with sqlite3.connect(folder / ".autotrace" / "autotrace.db") as conn:
        return [json.loads(r[0]) for r in conn.execute(f"select record from {what} order by rowid")]


def test_two_half_right_candidates_are_merged_into_a_right_one_without_an_llm_call(tmp_path, llm_server):
    llm_server.script(suggest(GREETING="Dear Sir"), suggest(CLOSING="Regards"))
    result = run(two_parts(tmp_path), llm_server, "--candidates", "2", "--steps", "3", "--target", "1")
    assert result.returncode == 0, result.stderr
    assert len(llm_server.chat_requests) == 2  # the two answers of step 1; the merge asked nothing
    assert re.search(r"^step +1/3 .*2 proposed, 2 new, best 0\.5; merged candidates 1 and 2 \(no LLM call\): 1; "
                     r"front 1$", result.stderr, re.MULTILINE)
    assert "step   2/3" not in result.stderr  # the target was reached at step 1
    assert '+GREETING = "Dear Sir"' in result.stdout and '+CLOSING = "Regards"' in result.stdout
    pool = [Candidate.from_json(r["candidate"]) for r in stored(tmp_path, "candidates")]
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
    result = run(two_parts(tmp_path), llm_server, "--candidates", "2", "--steps", "3", "--no-merge",
                 "--max-unchanged", "0", "--resample", "0")
    assert result.returncode == 0, result.stderr
    steps = [StepRecord.from_record(r) for r in stored(tmp_path, "steps")]
    pool = Pool()
    for record in stored(tmp_path, "candidates"):
        c = Candidate.from_json(record["candidate"])
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
    result = run(two_parts(tmp_path), llm_server, "--candidates", "3", "--steps", "1", "--no-merge")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^step +1/1 .*3 proposed, 2 new, best 0\.5", result.stderr, re.MULTILINE)
    greetings = [r["candidate"]["values"]["app.GREETING"] for r in stored(tmp_path, "candidates")]
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
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AUTOTRACE_"))}
    result = subprocess.run([str(AUTOTRACE), "optimize", "stats.py", "--feedback", "judge.py", "--steps", "3",
                             "--target", "1", "--base-url", llm_server.base_url, "--model", "scripted"],
                            cwd=tmp_path, env={**env, "OPENAI_API_KEY": "test"}, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    # step 1's candidate is right on the even list and wrong on the odd one, the initial version the other
    # way round: the model is asked to merge the two, told what each gets right
    assert re.search(r"^step +1/3 .*changed stats\.median; merged candidates 0 and 1 \(merged by the model\): 1$",
                     result.stderr, re.MULTILINE)
    merge = llm_server.chat_requests[1].json["messages"][-1]["content"]
    assert "return ordered[len(ordered) // 2]" in merge and "(ordered[middle - 1] + ordered[middle]) / 2" in merge
    right_a = merge[merge.index("Version A is right"):merge.index("#Version B")]
    assert "median([3, 1, 2]) = 2, right" in right_a and "[4, 1, 3, 2]" not in right_a
    assert "median([4, 1, 3, 2]) = 2.5, right" in merge[merge.index("Version B is right"):]
    assert len(llm_server.chat_requests) == 2 and "if len(ordered) % 2:" in result.stdout


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
    result = run(folder, llm_server, "--steps", "2", "--no-merge", "--max-unchanged", "0")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^step +1/2 +score 1, val 0 .* best 1, val 0 ", result.stderr, re.MULTILINE)
    assert re.search(r"^step +2/2 +score 1, val 1 .* best 1, val 0 ", result.stderr, re.MULTILINE)  # train ties
    assert "best score: 1, val 1" in result.stderr
    assert '+SUFFIX = "!"' in result.stdout and "+SPECIAL" not in result.stdout
    prompts = [r.json["messages"][-1]["content"] for r in llm_server.chat_requests]
    assert all("'c'" not in p for p in prompts)  # the validation example is never shown to the model
    shown = subprocess.run([str(AUTOTRACE), "show", result.stderr.split("run: ")[1].split()[0]], cwd=folder,
                           capture_output=True, text=True, timeout=60)
    assert re.search(r"--- step 2: score 1, val 1", shown.stdout)


def test_holdout_splits_the_examples_the_same_way_at_every_evaluation(tmp_path, llm_server):
    llm_server.script(fit(SUFFIX="?"), fit(SUFFIX="!"))
    folder = exclaim(tmp_path, '["a", "b", "c", "d"]')
    result = run(folder, llm_server, "--steps", "2", "--holdout", "0.25", "--no-merge", "--target", "1")
    assert result.returncode == 0, result.stderr  # the target (on the train score) is reached at step 2
    steps = stored(folder, "steps")
    held = {tuple(e["example"] for e in s["holdout"]) for s in steps}
    assert len(held) == 1 and len(next(iter(held))) == 1  # one of four, the same one every time
    assert all(len(s["examples"]) == 3 for s in steps)
    assert re.search(r"^step +2/2 +score 1, val 1 ", result.stderr, re.MULTILINE)
    bad = subprocess.run([str(AUTOTRACE), "optimize", "--tests", "--holdout", "0.5", "--model", "scripted",
                          "--base-url", llm_server.base_url], cwd=folder, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--holdout splits a judge's examples" in bad.stderr


def test_the_report_of_a_pooled_run_names_each_steps_parent_candidate(tmp_path, llm_server):
    # As above, one step more: step 4 starts from candidate 2, drawn from the front (the seed's draw),
    # the answer of step 1 that step 1 did not keep, not the values step 3 ended with.
    llm_server.script(suggest(GREETING="Dear Sir"), suggest(CLOSING="Regards"), *[suggest()] * 6)
    result = run(two_parts(tmp_path), llm_server, "--candidates", "2", "--steps", "4", "--no-merge",
                 "--max-unchanged", "0", "--resample", "0")
    assert result.returncode == 0, result.stderr
    steps = [StepRecord.from_record(r) for r in stored(tmp_path, "steps")]
    pool = {c.id: c for c in (Candidate.from_json(r["candidate"]) for r in stored(tmp_path, "candidates"))}
    assert [s.parent for s in steps] == [(), (0,), (1,), (1,), (2,)]
    assert pool[2].step == 1 and dict(pool[2].values) != dict(steps[3].values)
    page = next((tmp_path / ".autotrace" / "runs").glob("*/report.html")).read_text()
    summaries = re.findall(r"<summary><b>step (\d+)</b>(.*?)</summary>", page)
    assert [int(n) for n, _ in summaries] == [0, 1, 2, 3, 4]
    assert "(from step" not in summaries[0][1]
    for (_, line), record in zip(summaries[1:], steps[1:], strict=True):
        (parent,) = record.parent
        assert f"(from step {pool[parent].step}: candidate {parent})" in line, line
