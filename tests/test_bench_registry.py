"""The task registry (benchmarks/tasks): task.toml files read into typed tasks, and trace-opt's form of a
program generated from its autotrace form."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import tasks  # noqa: E402
from benchmarks.tasks.trace_form import TraceFormError, trace_source  # noqa: E402


def write_task(folder: Path, toml: str, program: str = "X = 1.0  # autotrace: param\n\n\ndef main():\n    return X\n"):
    folder.mkdir(parents=True)
    (folder / "task.toml").write_text(toml)
    (folder / "program.py").write_text(program)
    (folder / "judge.py").write_text("def feedback(output):\n    return float(output == 2), 'want 2'\n")
    return folder


def test_every_registered_task_loads_with_its_files_and_a_known_kind():
    assert len(tasks.ALL) >= 21 and len({t.name for t in tasks.ALL}) == len(tasks.ALL)
    for task in tasks.ALL:
        assert tasks.Kind(task.kind) and (task.folder / task.program).is_file() and (task.folder / task.judge).is_file()
    assert {t.name for t in tasks.ALL if t.fresh} >= {"cart", "grid_agent", "word_pipeline", "record_format"}
    assert set(tasks.QUICK) == {"linear", "median"} and all(t.runner == "harness" for t in tasks.TASKS)


def test_a_task_folder_is_registered_by_its_toml(tmp_path):
    write_task(tmp_path / "root" / "double", 'kind = "numeric"\nsteps = 2\ntarget = 1\nfresh = true\nshared = []\n'
               'summary = "make it 2"\nsides = ["autotrace"]\n')
    (found,) = tasks.discover((tmp_path / "root",))
    assert (found.name, found.kind, found.steps, found.target, found.fresh, found.sides) == (
        "double", "numeric", 2, 1.0, True, ("autotrace",))
    program = found.lay_out("autotrace", tmp_path / "run")
    assert program.read_text().startswith("X = 1.0") and (tmp_path / "run" / "pyproject.toml").is_file()
    with pytest.raises(ValueError, match="does not run on side 'trace'"):
        found.lay_out("trace", tmp_path / "run2")


@pytest.mark.parametrize("toml, message", [
    ('kind = "numeric"\nsteps = 2\n', "target is required"),
    ('kind = "poem"\nsteps = 2\ntarget = 1\n', "'poem' is not a valid Kind"),
    ('kind = "code"\nsteps = 0\ntarget = 1\n', "steps must be a positive integer"),
    ('kind = "code"\nsteps = 1\ntarget = 1\nsides = ["gepa?"]\n', "sides must be some of"),
    ('kind = "code"\nsteps = 1\ntarget = 1\nstep = 3\n', "unknown key"),
    ('kind = "code"\nsteps = 1\ntarget = 1\nfiles = ["missing.py"]\n', "missing.py is not in"),
    ('kind = "code"\nsteps = 1\n target = [\n', "task.toml"),
])
def test_a_wrong_task_toml_is_one_line_naming_the_file(tmp_path, toml, message):
    write_task(tmp_path / "t", toml)
    with pytest.raises(tasks.TaskError, match=message) as raised:
        tasks.load(tmp_path / "t")
    assert "task.toml" in str(raised.value) and "\n" not in str(raised.value)


def test_a_name_registered_twice_is_refused(tmp_path):
    for root in ("a", "b"):
        write_task(tmp_path / root / "same", 'kind = "numeric"\nsteps = 1\ntarget = 1\n')
    with pytest.raises(tasks.TaskError, match="registered twice: same"):
        tasks.discover((tmp_path / "a", tmp_path / "b"))


def test_visible_and_hidden_cases_are_read_as_data_never_run():
    median = tasks.get("median")
    assert len(median.visible_cases()) == 9 and len(median.hidden_cases()) == 9
    assert not set(map(repr, median.visible_cases())) & set(map(repr, median.hidden_cases()))
    assert tasks.get("linear").hidden_cases() is None and tasks.get("linear").visible_cases() is None


def test_the_trace_form_wraps_marked_constants_and_functions():
    source = '''"""Doc."""

import os

RATE = 0.5  # autotrace: param in [0, 1] the rate
PLAIN = 3


def fix(x):  # autotrace: param
    return x


def helper(x):
    return fix(x) * RATE


def run_case(x):
    try:
        return helper(x)
    except Exception as exc:
        return f"({type(exc).__name__}) {exc}"


def main():
    return run_case(PLAIN)
'''
    out = trace_source(source)
    tree = ast.parse(out)
    assert out.startswith('"""Doc."""\n\nfrom opto.trace import ExecutionError, bundle, node\n')
    assert 'RATE = node(0.5, name="RATE", trainable=True, constraint="in [0, 1] the rate")' in out
    assert "@bundle(trainable=True)\ndef fix(x):\n" in out and "@bundle()\ndef helper(x):" in out
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert not functions["main"].decorator_list and not functions["run_case"].decorator_list
    assert "except ExecutionError as exc:\n        return exc.exception_node" in out
    assert ast.unparse(functions["parameters"].body[0]) == "return [RATE, fix.parameter]"
    assert "autotrace: param" not in out and "PLAIN = 3\n" in out


def test_what_the_trace_form_cannot_express_is_said():
    with pytest.raises(TraceFormError, match="class Cart holds a mark"):
        trace_source("class Cart:\n    def add(self):  # autotrace: param\n        pass\n")
    with pytest.raises(TraceFormError, match="nothing for trace-opt to train"):
        trace_source("def main():\n    return 1\n")
    with pytest.raises(TraceFormError, match="only NAME = VALUE"):
        trace_source("A, B = 1, 2  # autotrace: param\n")


def test_the_command_lists_every_task_and_performance_benchmark_and_refuses_an_unknown_task():
    import subprocess

    done = subprocess.run([sys.executable, "-m", "benchmarks", "list"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    names = [line.split()[0] for line in done.stdout.splitlines() if line.strip()]
    assert {t.name for t in tasks.ALL} <= set(names) and {"test_recording", "test_pytest_plugin"} <= set(names)
    bad = subprocess.run([sys.executable, "-m", "benchmarks", "--tasks", "nope", "--sections", "quality"], cwd=ROOT,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("benchmarks: no task 'nope'") and bad.stderr.count("\n") == 1


_PROBE = """
import importlib, json, os, sys
for folder in sys.argv[2:]:
    os.chdir(folder)
    sys.path.insert(0, folder)
    for name in ("program", "program_trace", "judge", "scoring", "checks"):
        sys.modules.pop(name, None)
    module = importlib.import_module(sys.argv[1])
    output = module.main()
    output = getattr(output, "data", output)
    names = [p.py_name for p in module.parameters()] if hasattr(module, "parameters") else []
    print(json.dumps({"score": importlib.import_module("judge").feedback(output)[0], "params": names}))
    sys.path.remove(folder)
"""


@pytest.mark.slow
def test_the_generated_trace_forms_score_as_the_programs_do_under_trace_opt(tmp_path):
    """The real trace-opt (its venv, made by the harness) runs each generated form: the same output, judged the
    same, as the autotrace form in this interpreter, and every marked name trainable."""
    import json
    import os
    import subprocess

    from benchmarks import harness

    trace_python = harness.trace_python(create=True, say=lambda _: None)
    assert trace_python is not None, "the trace-opt venv could not be made"
    chosen = [t for t in tasks.TASKS if "trace" in t.sides and not t.llm_in_program]
    env = {**os.environ, "BENCH_SEED": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    results = {}
    for side, python, module in (("autotrace", sys.executable, "program"), ("trace", str(trace_python), "program_trace")):
        folders = [str(t.lay_out(side, tmp_path / side / t.name).parent) for t in chosen]
        done = subprocess.run([python, "-c", _PROBE, module, *folders], env=env, capture_output=True, text=True,
                              timeout=1200)
        assert done.returncode == 0, done.stderr[-2000:]
        results[side] = [json.loads(line) for line in done.stdout.strip().splitlines()[-len(chosen):]]
    for task, mine, theirs in zip(chosen, results["autotrace"], results["trace"], strict=True):
        returned = ast.parse(task.trace_source()).body[-1].body[0].value.elts
        assert (theirs["score"], len(theirs["params"])) == (mine["score"], len(returned)), task.name


def test_the_paper_experiments_and_the_fresh_prompt_tasks_are_registered_with_their_runner_and_held_out_mark():
    paper = {t.name: t for t in tasks.ALL if t.kind == "paper_experiment"}
    assert set(paper) == {"numeric_graphs", "battleship", "traffic"}
    assert all(t.runner == "paper" and not t.fresh and "baseline" in t.sides for t in paper.values())
    prompts = {t.name: t for t in tasks.ALL if t.runner == "prompt"}
    assert set(prompts) == {"topic_code", "date_extract", "camel_case"}
    assert all(t.fresh and t.kind == "prompt" and t.sides == ("autotrace", "trace", "gepa") and t.hidden_cases()
               for t in prompts.values())
