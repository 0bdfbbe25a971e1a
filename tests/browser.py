"""A real headless Chromium driven over the Chrome DevTools Protocol, for the report's page tests.

Debian's ``chromium`` package is the browser (CI's ``.ci/run`` installs it); nothing is downloaded at
run time. The protocol is spoken over one websocket with ``websocket-client`` (small, pure Python,
well kept): Selenium would need a matching chromedriver, Playwright its own browser build or a
100 MB driver. Chromium starts with its own throw-away profile, on a port it picks itself
(``--remote-debugging-port=0``; the port is read from ``DevToolsActivePort``), with the network
switched off, and is killed (its whole process group) when the ``with`` block ends.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websocket

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    return next((path for name in CANDIDATES if (path := shutil.which(name))), None)


@dataclass
class Page:
    """The one tab of a :class:`Chromium`: navigate, evaluate, screenshot; console errors collected."""

    socket: websocket.WebSocket
    errors: list[str] = field(default_factory=list)
    _next_id: int = 0

    def call(self, method: str, timeout: float = 30.0, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        ident = self._next_id
        self.socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            self.socket.settimeout(max(deadline - time.monotonic(), 0.01))
            message = json.loads(self.socket.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._event(message)

    def wait_for(self, event: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            self.socket.settimeout(max(deadline - time.monotonic(), 0.01))
            message = json.loads(self.socket.recv())
            self._event(message)
            if message.get("method") == event:
                return message.get("params", {})

    def _event(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append("console: " + " ".join(str(a.get("value", a.get("description", "")))
                                                       for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.errors.append("exception: " + str(details.get("exception", {}).get("description")
                                                   or details.get("text")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            self.errors.append("log: " + str(params["entry"].get("text")))

    def open(self, path: Path) -> None:
        """Load a file and wait until it has loaded (its scripts have run)."""
        self.call("Page.navigate", url=path.resolve().as_uri())
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def screenshot(self, path: Path, width: int = 1280) -> bytes:
        """A PNG of the whole page (``width`` pixels wide), written to ``path``."""
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=600, deviceScaleFactor=1, mobile=False)
        height = int(self.evaluate("Math.ceil(document.documentElement.scrollHeight)") or 600)  # at that width
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=min(height, 6000),
                  deviceScaleFactor=1, mobile=False)
        data = base64.b64decode(self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"])
        path.write_bytes(data)
        return data


class Chromium:
    """``with Chromium() as page:`` a headless browser with one tab, killed on exit."""

    def __init__(self, executable: str | None = None) -> None:
        found = executable or find_chromium()
        if found is None:
            raise FileNotFoundError("no chromium on the PATH (Debian: apt-get install chromium)")
        self.executable = found

    def __enter__(self) -> Page:
        self.profile = tempfile.mkdtemp(prefix="autotrace-chromium-")
        self.process = subprocess.Popen(
            [self.executable, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--metrics-recording-only",
             "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",  # no network, whatever the page asks
             f"--user-data-dir={self.profile}", "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            port = self._port()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as reply:
                tab = next(t for t in json.load(reply) if t.get("type") == "page")
            self.socket = websocket.create_connection(tab["webSocketDebuggerUrl"], timeout=30,
                                                      suppress_origin=True)
            page = Page(self.socket)
            for domain in ("Page", "Runtime", "Log"):
                page.call(f"{domain}.enable")
            return page
        except BaseException:
            self._stop()
            raise

    def _port(self, timeout: float = 30.0) -> int:
        marker = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chromium exited with status {self.process.returncode} before it listened")
            if marker.is_file() and marker.read_text().strip():
                return int(marker.read_text().split()[0])
            time.sleep(0.05)
        raise TimeoutError("chromium did not open its DevTools port within 30 s")

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def _stop(self) -> None:
        socket = getattr(self, "socket", None)
        if socket is not None:
            socket.close()
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)
