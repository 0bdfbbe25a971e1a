"""The program's own model (issue #34): an unmodified ``OpenAI()`` program reaches the run's model with no
variable set, its calls are cached and counted, the endpoint the user set answers it through the same
recording proxy (``--app-calls direct``: straight, unrecorded), and a program that cannot run stops before
any LLM call. Everything goes through the scripted server on real sockets, the
program through the real ``openai`` client in the evaluation's own process."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import OPENAI_APP, child_env
from inprocess import run_cli
from llmserver import ScriptedLLMServer

from autotrace.runners.app_model import AppModel, run_model_slots
from autotrace.runners.confine import network_unconfinable

# Two identical examples: the second one's request is the first one's, answered from the cache.
JUDGE = '''\
def examples():
    return ["hello", "hello", "bye"]


def feedback(output, text):
    return (1.0, "right") if output == "yes" else (0.0, f"answered {output!r}, wanted 'yes'")
'''
NEW_PROMPT = "Always answer yes."


def dispatch(body: dict) -> str | dict:
    """The program's requests (a system prompt and one example) get "yes" once the prompt asks for it;
    the optimizer's get a new prompt."""
    messages = body["messages"]
    if len(messages) == 2 and messages[1]["content"] in ("hello", "bye"):
        return "yes" if messages[0]["content"] == NEW_PROMPT else "maybe"
    return {"reasoning": "ask for yes", "suggestion": {"app.PROMPT": NEW_PROMPT}}


def program_requests(server: ScriptedLLMServer) -> list:
    return [r for r in server.chat_requests if len(r.json["messages"]) == 2
            and r.json["messages"][1]["content"] in ("hello", "bye")]


def clean_env(**extra: str) -> dict[str, str]:
    env = child_env("OPENAI_", "AUTOTRACE_")
    return {**env, **extra}


def autotrace(project: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=project, env=env)


@pytest.fixture
def app(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "app.py").write_text(OPENAI_APP)
    (tmp_path / "judge.py").write_text(JUDGE)
    return tmp_path


def optimize(project: Path, server: ScriptedLLMServer, *extra: str, env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess[str]:
    server.script(*[dispatch] * 40)
    return autotrace(project, "optimize", "app.py", "--feedback", "judge.py", "--steps", "2", "--target", "1",
                     "--no-probe", "--no-measured-step", "--no-induce", "--base-url", server.base_url, "--model",
                     "scripted", *extra,
                     env=clean_env() if env is None else env)


def test_an_openai_program_reaches_the_runs_model_with_nothing_set_cached_and_counted(
        app: Path, llm_server: ScriptedLLMServer) -> None:
    result = optimize(app, llm_server)

    assert result.returncode == 0, result.stderr
    assert f'+PROMPT = "{NEW_PROMPT}"' in result.stdout
    requests = program_requests(llm_server)
    # Initial values and the new prompt, two distinct requests each: the repeated "hello" is cached.
    assert [(r.json["messages"][0]["content"], r.json["messages"][1]["content"]) for r in requests] == [
        ("Say something.", "hello"), ("Say something.", "bye"), (NEW_PROMPT, "hello"), (NEW_PROMPT, "bye")]
    # Any model name the program asks for is answered by the run's model; the key is the run's, not a secret.
    assert {r.json["model"] for r in requests} == {"scripted"}
    assert {r.headers["authorization"] for r in requests} == {"Bearer not-needed"}
    # Step 0 runs the original values twice (the noise check): the second run is all answered from the cache.
    step0 = re.search(r"^step +0/2 .*app (6 calls \(4 cached\), [\d,]+\+[\d,]+ tok)", result.stderr, re.MULTILINE)
    assert step0, result.stderr

    run_id = re.search(r"run: (\S+)", result.stderr).group(1)
    shown = json.loads(autotrace(app, "show", run_id, "--json", env=clean_env()).stdout)
    app_usage = shown["app"]
    assert app_usage["total"]["calls"] == 9 and app_usage["total"]["cached"] == 5
    # The scripted server counts about four characters a token, plus four per message.
    assert app_usage["total"]["completion_tokens"] == 2 * 2 + 2 * 1  # "maybe" (2 tokens) twice, "yes" (1) twice
    assert app_usage["total"]["prompt_tokens"] > 0
    assert set(app_usage["steps"]) == {"0", "1"}
    assert "app calls" in autotrace(app, "show", run_id, env=clean_env()).stdout
    runs = autotrace(app, "runs", env=clean_env()).stdout
    assert "APP CALLS" in runs and re.search(r"\b9 \(5 cached\)", runs), runs


def test_a_second_run_replays_the_programs_calls_from_the_cache(app: Path, llm_server: ScriptedLLMServer) -> None:
    assert optimize(app, llm_server).returncode == 0
    first = len(program_requests(llm_server))

    again = optimize(app, llm_server)

    assert again.returncode == 0, again.stderr
    assert len(program_requests(llm_server)) == first  # not one more request reached the model


def test_no_cache_sends_every_request(app: Path, llm_server: ScriptedLLMServer) -> None:
    result = optimize(app, llm_server, "--no-cache")

    assert result.returncode == 0, result.stderr
    assert len(program_requests(llm_server)) == 9  # the original values twice (the noise check), the new prompt once


def test_the_users_own_endpoint_answers_the_program_through_the_recording_proxy(
        app: Path, llm_server: ScriptedLLMServer) -> None:
    """OPENAI_BASE_URL and OPENAI_API_KEY set: the program's calls reach that endpoint, with the user's key
    and the model the program names, and are recorded as under zero set-up: nodes, cached, counted."""
    env = clean_env(OPENAI_BASE_URL=llm_server.base_url, OPENAI_API_KEY="users-own-key")

    result = optimize(app, llm_server, "--steps", "1", env=env)

    assert result.returncode == 0, result.stderr
    requests = program_requests(llm_server)
    assert len(requests) == 4  # the repeated "hello" and the noise check's second run came from the cache
    assert {r.json["model"] for r in requests} == {"gpt-4o-mini"}
    assert {r.headers["authorization"] for r in requests} == {"Bearer users-own-key"}
    assert re.search(r"^step +0/1 .*app 6 calls \(4 cached\)", result.stderr, re.MULTILINE), result.stderr
    assert "--app-calls" not in result.stderr
    run_id = re.search(r"run: (\S+)", result.stderr).group(1)
    shown = json.loads(autotrace(app, "show", run_id, "--json", env=clean_env()).stdout)
    assert shown["app"]["total"]["calls"] == 9 and shown["app"]["total"]["cached"] == 5
    graph = shown["steps"][0]["examples"][0]["graph"]
    (node,) = [n for n in graph["nodes"] if n.get("model_call")]
    assert node["value"] == "'maybe'" and "Say something." in node["args"]["messages"]


def test_tests_reach_the_users_endpoint_through_the_proxy_under_no_network(app: Path,
                                                                           llm_server: ScriptedLLMServer) -> None:
    """``--tests``: the pytest process's calls go through the proxy too (counted, the user's key), and under
    ``--no-network`` (where it can be confined) that is the way out."""
    (app / "test_app.py").write_text("from app import main\n\n\ndef test_yes():\n    assert main('hello') == 'yes'\n")
    llm_server.script(*[dispatch] * 5)
    confined = ("--no-network",) if network_unconfinable() is None else ()
    env = clean_env(OPENAI_BASE_URL=llm_server.base_url, OPENAI_API_KEY="users-own-key")

    result = autotrace(app, "optimize", "--tests", "--steps", "0", "--no-probe", "--base-url", llm_server.base_url,
                       "--model", "scripted", *confined, env=env)

    assert result.returncode == 1, result.stderr
    assert re.search(r"^step +0/0 .*app 1 call, ", result.stderr, re.MULTILINE), result.stderr
    assert [r.headers["authorization"] for r in program_requests(llm_server)] == ["Bearer users-own-key"]


def test_app_calls_direct_leaves_the_users_variables_alone_and_unrecorded(app: Path,
                                                                          llm_server: ScriptedLLMServer) -> None:
    """``app_calls = "direct"`` from the project's table: the program's calls go straight to the user's
    endpoint, each one paid (the original values run twice), none counted; one line says so."""
    (app / "pyproject.toml").write_text('[tool.autotrace]\napp_calls = "direct"\n')
    env = clean_env(OPENAI_BASE_URL=llm_server.base_url, OPENAI_API_KEY="users-own-key")

    result = optimize(app, llm_server, env=env)

    assert result.returncode == 0, result.stderr
    requests = program_requests(llm_server)
    assert len(requests) == 9
    assert {r.headers["authorization"] for r in requests} == {"Bearer users-own-key"}
    assert " app " not in result.stderr
    assert result.stderr.count("--app-calls direct: the program's own model calls go where its environment "
                               "sends them, unrecorded") == 1
    both = autotrace(app, "optimize", "app.py", "--feedback", "judge.py", "--app-base-url", llm_server.base_url,
                     env=env)
    assert both.returncode == 2 and both.stderr.count("\n") == 1 and "--app-calls direct" in both.stderr


def test_app_base_url_and_app_model_give_the_program_another_endpoint(app: Path, llm_server: ScriptedLLMServer) -> None:
    """``--app-base-url`` on the command line, ``app_model`` from the project's table."""
    (app / "pyproject.toml").write_text('[tool.autotrace]\napp_model = "small"\n')
    with ScriptedLLMServer() as program_server:
        program_server.script(*[dispatch] * 10)
        result = optimize(app, llm_server, "--app-base-url", program_server.base_url, "--steps", "1")
        on_program_server = program_requests(program_server)

    assert result.returncode == 0, result.stderr
    assert not program_requests(llm_server)
    assert {r.json["model"] for r in on_program_server} == {"small"}
    assert len(on_program_server) == 4


@pytest.mark.parametrize("where", ["app-base-url", "user's endpoint"])
def test_autotrace_run_gives_the_program_the_model_too(app: Path, llm_server: ScriptedLLMServer, where: str) -> None:
    llm_server.script(*[dispatch] * 5)
    given = ("--app-base-url", llm_server.base_url) if where == "app-base-url" else ()
    env = clean_env() if given else clean_env(OPENAI_BASE_URL=llm_server.base_url, OPENAI_API_KEY="users-own-key")

    result = autotrace(app, "run", "app.py", "--feedback", "judge.py", *given, env=env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.count("output: 'maybe'") == 3
    assert "the program's model calls: 3 calls," in result.stderr  # 'run' writes nothing: no cache


@pytest.mark.parametrize("program, error", [
    ("import os\nKEY = os.environ['NO_SUCH_VARIABLE_FOR_TESTS']\n" + OPENAI_APP, "KeyError: 'NO_SUCH_VARIABLE_FOR_TESTS'"),
    ("import no_such_module_for_tests\n" + OPENAI_APP, "ModuleNotFoundError: No module named 'no_such_module_for_tests'"),
    (OPENAI_APP + "\n\ndef settings():\n    return {}['endpoint']\n\n\ndef main(text):\n    return settings()\n",
     "KeyError: 'endpoint'"),  # on every example, in functions the prompt has no part in
])
def test_a_program_that_cannot_run_stops_before_any_llm_call(app: Path, llm_server: ScriptedLLMServer,
                                                              program: str, error: str) -> None:
    (app / "app.py").write_text(program)

    result = optimize(app, llm_server)

    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("autotrace: error: ") and error in lines[0], result.stderr
    assert not llm_server.chat_requests


def test_an_error_a_parameter_takes_part_in_is_feedback(app: Path, llm_server: ScriptedLLMServer) -> None:
    """The prompt flows into the failing call: a new prompt may fix it, so the run goes on."""
    (app / "app.py").write_text(OPENAI_APP.replace('    reply = client', '    if PROMPT == "Say something.":\n'
                                                '        raise ValueError("a vague prompt")\n    reply = client'))
    result = optimize(app, llm_server)

    assert result.returncode == 0, result.stderr
    assert "ValueError: a vague prompt" in llm_server.chat_requests[0].json["messages"][-1]["content"]


@pytest.mark.skipif(network_unconfinable() is not None, reason="needs Landlock ABI 4")
def test_under_no_network_the_programs_model_is_the_one_endpoint_left(app: Path, llm_server: ScriptedLLMServer) -> None:
    """The program reaches its model through the proxy; a direct connection to the same server (another
    port) is refused."""
    port = llm_server.base_url.split(":")[-1].split("/")[0]
    (app / "app.py").write_text(OPENAI_APP.replace("    return reply.choices[0].message.content", f'''\
    import socket
    try:
        socket.create_connection(("127.0.0.1", {port}), timeout=5).close()
        direct = "open"
    except OSError:
        direct = "blocked"
    return reply.choices[0].message.content + "|" + direct'''))

    users = clean_env(OPENAI_BASE_URL=llm_server.base_url, OPENAI_API_KEY="users-own-key")
    shutil.copytree(app, app / "again")  # the user's endpoint in a project of its own: nothing cached yet
    for env, project in ((clean_env(), app), (users, app / "again")):  # the run's model, the user's endpoint
        before = len(program_requests(llm_server))
        result = optimize(project, llm_server, "--no-network", "--steps", "0", env=env)

        assert result.returncode == 1, result.stderr
        assert len(program_requests(llm_server)) - before == 2
        run_id = re.search(r"run: (\S+)", result.stderr).group(1)
        shown = autotrace(project, "show", run_id, "--json", env=clean_env()).stdout
        assert "'maybe|blocked'" in shown and "|open" not in shown


def test_each_model_call_is_a_node_the_optimizer_sees_and_run_exports(app: Path, llm_server: ScriptedLLMServer) -> None:
    """The request the prompt went into and the model's raw reply, in the optimizer's prompt and in the
    exported graph: a node per call, read from the prompt, returning into the function that made it."""
    (app / "app.py").write_text(OPENAI_APP.replace("    return reply.choices[0].message.content",
                                                "    return reply.choices[0].message.content.upper()"))
    result = optimize(app, llm_server, "--steps", "1")

    asked = [r for r in llm_server.chat_requests if r not in program_requests(llm_server)][0]
    prompt = asked.json["messages"][-1]["content"]
    assert "chat.completions.create(" in prompt and "reads app.PROMPT" in prompt, prompt
    assert "'maybe'" in prompt and "'MAYBE'" in prompt  # the raw reply, and the program's output made of it

    llm_server.script(*[dispatch] * 3)
    graph_file = app / "graph.json"
    exported = autotrace(app, "run", "app.py", "--feedback", "judge.py", "--graph", str(graph_file),
                         "--app-base-url", llm_server.base_url, env=clean_env())
    assert exported.returncode == 0, exported.stderr
    graph = json.loads(graph_file.read_text())
    (model,) = [n for n in graph["nodes"] if n.get("model_call")]
    assert model["func"] == "chat.completions.create" and model["value"] == "'maybe'"
    assert "Say something." in model["args"]["messages"] and model["completion_tokens"] == 2
    edges = {(e["source"], e["target"], e["role"]) for e in graph["edges"]}
    assert ("param:app.PROMPT", model["id"], "reads") in edges
    main = next(n["id"] for n in graph["nodes"] if n.get("func") == "app.main")
    assert (model["id"], main, "nested") in edges
    assert result.returncode in (0, 1), result.stderr


@pytest.mark.parametrize(("app_base_url", "environ", "jobs", "slots"), [
    (None, {}, 3, 3),  # the program shares the run's model: one slot per evaluation at once
    (None, {}, 1, 2),  # ... and never fewer than a step's candidates
    ("http://elsewhere/v1", {}, 3, 2),  # the program has its own endpoint
    (None, {"OPENAI_BASE_URL": "http://users/v1"}, 3, 2),  # ... or the user's
])
def test_the_runs_model_gets_a_slot_per_concurrent_evaluation_when_the_program_shares_it(
        app_base_url: str | None, environ: dict[str, str], jobs: int, slots: int) -> None:
    assert run_model_slots(AppModel(app_base_url), candidates=2, jobs=jobs, environ=environ) == slots


def test_direct_app_calls_do_not_share_the_runs_model() -> None:
    assert run_model_slots(AppModel(calls="direct"), candidates=2, jobs=3, environ={}) == 2

