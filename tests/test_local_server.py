"""The local model server: with the real model, structured chat completions and no orphan processes;
with a stand-in child, the restart of a server that announces its port but never answers.

The model tests are ``slow`` and ``model`` (deselected by default); they install the real 1.5B
model into the user's cache (a no-op when it is there) and skip only when that is impossible.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import select
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from autotrace.llm.provision import ModelError, install_model
from autotrace.llm.server import LocalServer, ServerError

_PR_SET_CHILD_SUBREAPER = 36

_SCHEMA = {
    "type": "object",
    "properties": {
        "function_name": {"type": "string"},
        "arguments": {"type": "array", "items": {"type": "integer"}},
        "explanation": {"type": "string"},
    },
    "required": ["function_name", "arguments", "explanation"],
    "additionalProperties": False,
}

_PARENT = textwrap.dedent(
    """
    import sys, time
    from autotrace.llm.server import LocalServer

    server = LocalServer(sys.argv[1], log_path=sys.argv[2]).start()
    print(server.pid, flush=True)
    if sys.argv[3] == "wait":  # blocked in Popen.wait, like `autotrace model serve`
        server.wait()
    else:
        time.sleep(600)
    """
)


@pytest.fixture(scope="module")
def gguf() -> Path:
    pytest.importorskip("xllamacpp")
    try:
        return install_model("1.5b")
    except ModelError as error:
        pytest.skip(f"the 1.5B model cannot be installed here: {error}")


@pytest.fixture
def subreaper() -> Iterator[None]:
    """Make this process adopt orphaned descendants, so a server whose parent died can be reaped here."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        pytest.skip("prctl(PR_SET_CHILD_SUBREAPER) is not available")
    yield
    libc.prctl(_PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def _running(pid: int) -> bool:
    """True while ``pid`` is a live process (a zombie awaiting its reaper does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _server_pids() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"autotrace.llm.server" in cmdline and entry.name.isdigit() and _running(int(entry.name)):
            found.append(int(entry.name))
    return found


def _start_parent(gguf: Path, log: Path, idle: str) -> tuple[subprocess.Popen[str], int]:
    """Run a parent process that starts a server and then idles (``"sleep"`` or ``"wait"`` for the
    server); return it and the server's pid."""
    command = [sys.executable, "-c", _PARENT, str(gguf), str(log), idle]
    parent = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    ready, _, _ = select.select([parent.stdout], [], [], 180)
    line = parent.stdout.readline() if ready else ""
    if not line:
        parent.kill()
        parent.wait()
        pytest.fail(f"parent did not start a server; log:\n{log.read_text() if log.exists() else '(none)'}")
    return parent, int(line)


def _reap(pid: int, seconds: float) -> None:
    """Wait up to ``seconds`` for an adopted ``pid`` to exit, reaping it (see the subreaper fixture)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and os.waitpid(pid, os.WNOHANG) == (0, 0):
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.model
def test_structured_chat_completion_and_clean_stop(gguf: Path, tmp_path: Path):
    from openai import OpenAI

    server = LocalServer(gguf, log_path=tmp_path / "server.log")
    with server:
        pid = server.pid
        assert pid is not None and _running(pid)
        assert server.base_url.startswith("http://127.0.0.1:") and server.base_url.endswith("/v1")
        client = OpenAI(base_url=server.base_url, api_key="local")
        assert [m.id for m in client.models.list().data] == [server.model_name]

        messages = [
            {"role": "system", "content": "You write Python. Answer only with JSON. " * 20},
            {"role": "user", "content": "Which built-in function call adds up the integers 2, 3 and 4?"},
        ]
        response_format = {"type": "json_schema", "json_schema": {"name": "call", "schema": _SCHEMA, "strict": True}}
        replies = [
            client.chat.completions.create(
                model=server.model_name, messages=messages, response_format=response_format, max_tokens=200
            )
            for _ in range(2)
        ]
        # A length limit in the schema is enforced by the grammar (autotrace caps the answer's reasoning).
        limited = {**_SCHEMA, "properties": {**_SCHEMA["properties"], "explanation": {"type": "string", "maxLength": 40}}}
        long_one = messages[:1] + [{"role": "user", "content": messages[1]["content"] + " Explain it in five sentences."}]
        capped = client.chat.completions.create(
            model=server.model_name, messages=long_one, max_tokens=300,
            response_format={"type": "json_schema", "json_schema": {"name": "call", "schema": limited, "strict": True}},
        )
    capped_data = json.loads(capped.choices[0].message.content)
    assert 0 < len(capped_data["explanation"]) <= 40 and capped.choices[0].finish_reason == "stop"
    for reply in replies:
        data = json.loads(reply.choices[0].message.content)
        assert set(data) == {"function_name", "arguments", "explanation"}
        assert isinstance(data["function_name"], str) and isinstance(data["explanation"], str)
        assert all(isinstance(x, int) for x in data["arguments"])
    details = replies[1].usage.prompt_tokens_details
    assert details is not None and details.cached_tokens > 100  # prompt caching reused the prefix

    assert not _running(pid)
    assert pid not in _server_pids()
    server.stop()  # idempotent


@pytest.mark.slow
@pytest.mark.model
@pytest.mark.usefixtures("subreaper")
def test_server_dies_with_a_killed_parent(gguf: Path, tmp_path: Path):
    parent, server_pid = _start_parent(gguf, tmp_path / "server.log", "sleep")
    assert _running(server_pid)

    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    _reap(server_pid, 15)
    assert not _running(server_pid), "the server outlived its SIGKILLed parent"


@pytest.mark.slow
@pytest.mark.model
@pytest.mark.usefixtures("subreaper")
def test_server_stops_when_parent_gets_sigterm_while_waiting(gguf: Path, tmp_path: Path):
    parent, server_pid = _start_parent(gguf, tmp_path / "server.log", "wait")

    os.kill(parent.pid, signal.SIGTERM)
    assert parent.wait(timeout=30) == -signal.SIGTERM
    _reap(server_pid, 5)
    assert not _running(server_pid), "the parent's SIGTERM handler did not stop the server"


def test_startup_failure_reports_the_log_and_leaves_no_process(tmp_path: Path):
    pytest.importorskip("xllamacpp")
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a gguf file" * 100)
    server = LocalServer(bogus, log_path=tmp_path / "server.log", startup_timeout=60)
    with pytest.raises(ServerError, match=r"exited with code 1 while starting(.|\n)*Last lines of .*server\.log"):
        server.start()
    assert server.pid is None
    assert not any(str(bogus) in Path(f"/proc/{pid}/cmdline").read_text(errors="replace") for pid in _server_pids())


def test_an_unknown_speculative_decoding_is_one_clear_error(tmp_path: Path):
    pytest.importorskip("xllamacpp")
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a gguf file")  # never read: the decoding is checked first
    server = LocalServer(bogus, log_path=tmp_path / "server.log", startup_timeout=60, speculative="ngram-nonsense")
    with pytest.raises(ServerError, match=r"(.|\n)*unknown speculative decoding 'ngram-nonsense'"):
        server.start()
    assert server.pid is None


def test_the_embedded_server_decodes_speculatively_by_default(tmp_path: Path):
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"not served")
    command = LocalServer(fake, log_path=tmp_path / "server.log")._command()
    assert command[command.index("--speculative") + 1] == "ngram-simple"
    assert "--speculative" not in LocalServer(fake, log_path=tmp_path / "s.log", speculative="")._command()


#: A stand-in for the model server: it announces an address as the real one does (written whole to
#: the address file ``sys.argv[3]``, and logged), but the first ``sys.argv[2]`` launches listen without
#: ever answering (a wedged llama.cpp HTTP server); later ones answer ``/health``. Each launch appends
#: its pid to ``sys.argv[1]``.
_WEDGED_THEN_HEALTHY = textwrap.dedent(
    """
    import http.server, os, socket, sys, time
    from pathlib import Path

    launches = Path(sys.argv[1])
    with launches.open("a") as f:
        f.write(f"{os.getpid()}\\n")

    def announce(port):
        print(f"listening at http://127.0.0.1:{port}", flush=True)
        temp = Path(sys.argv[3] + ".tmp")
        temp.write_text(f"http://127.0.0.1:{port}")
        os.replace(temp, sys.argv[3])
    if len(launches.read_text().split()) <= int(sys.argv[2]):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen()  # connections queue up; nobody accepts them
        announce(sock.getsockname()[1])
        time.sleep(600)

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"status": "ok"}')

    server = http.server.HTTPServer(("127.0.0.1", 0), Health)
    announce(server.server_port)
    server.serve_forever()
    """
)


class _StandIn(LocalServer):
    def __init__(self, tmp_path: Path, wedged_launches: int) -> None:
        fake = tmp_path / "fake.gguf"
        fake.write_bytes(b"not served")
        super().__init__(fake, log_path=tmp_path / "server.log", startup_timeout=60, wedged_after=0.5)
        self.launches = tmp_path / "launches"
        self._wedged = wedged_launches

    def _command(self) -> list[str]:
        return [sys.executable, "-c", _WEDGED_THEN_HEALTHY, str(self.launches), str(self._wedged), str(self.address_file)]

    def pids(self) -> list[int]:
        return [int(pid) for pid in self.launches.read_text().split()]


def test_a_server_that_announces_its_port_but_never_answers_is_started_again(tmp_path: Path, caplog):
    server = _StandIn(tmp_path, wedged_launches=1)
    with server:
        first, second = server.pids()
        assert server.pid == second and not _running(first)
        assert _healthy_at(server.base_url)
    assert not _running(second) and not server.address_file.exists()
    assert re.search(r"did not answer /health within 0\.5s \(its log: .*server-wedged\.log\); starting it again",
                     caplog.text)
    assert (tmp_path / "server-wedged.log").read_text().startswith("listening at http://127.0.0.1:")


def test_a_server_wedged_twice_fails_with_one_clear_error_and_leaves_no_process(tmp_path: Path):
    server = _StandIn(tmp_path, wedged_launches=2)
    with pytest.raises(ServerError, match=r"did not answer /health within 0\.5s, twice\. Last lines of "):
        server.start()
    assert server.pid is None and len(server.pids()) == 2
    assert not any(_running(pid) for pid in server.pids())


def _healthy_at(base_url: str) -> bool:
    import urllib.request

    with urllib.request.urlopen(base_url.removesuffix("/v1") + "/health", timeout=5) as response:
        return json.load(response) == {"status": "ok"}
