"""Headless Chromium for the tests that look at what a person sees: a rendered report, the UI.

Chromium runs with every network path closed except loopback (no proxy, no DNS, no
background calls). ``chromium`` renders a page once (``--dump-dom``, ``--screenshot``);
``Browser`` drives one page over the DevTools protocol, for pages a person logs in to and
clicks through (Airflow's UI is a JavaScript application: its text exists only once it ran).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
#: CI sets this so that a missing browser fails the run instead of skipping the browser tests.
REQUIRE_CHROMIUM = bool(os.environ.get("TELCO_MART_REQUIRE_CHROMIUM"))
MISSING_REASON = "headless Chromium is not installed (apt-get install -y chromium; CI installs it)"

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--proxy-server=127.0.0.1:9",  # loopback (127.0.0.1) still bypasses the proxy
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


def chromium(url: str, *args: str, profile: Path) -> str:
    """Render ``url`` once with headless Chromium and return its stdout (e.g. ``--dump-dom``)."""
    assert CHROMIUM, "TELCO_MART_REQUIRE_CHROMIUM is set but no chromium is on PATH"
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout


class Browser:
    """One headless Chromium page driven over the DevTools protocol (a websocket on loopback)."""

    def __init__(self, profile: Path) -> None:
        from websockets.sync.client import connect

        assert CHROMIUM, "TELCO_MART_REQUIRE_CHROMIUM is set but no chromium is on PATH"
        profile.mkdir(parents=True, exist_ok=True)
        port_file = profile / "DevToolsActivePort"
        port_file.unlink(missing_ok=True)  # an earlier browser's, on a reused profile
        cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"]
        self.process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.close()
                raise RuntimeError(f"Chromium did not open its DevTools port (exit {self.process.poll()})")
            time.sleep(0.2)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            page = next(t for t in json.load(answer) if t["type"] == "page")
        self._connection = contextlib.ExitStack()
        self._ws = self._connection.enter_context(connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=30))
        self._ids = itertools.count(1)

    def send(self, method: str, **params: Any) -> dict:
        """One DevTools command; its result (events that arrive meanwhile are dropped)."""
        call_id = next(self._ids)
        self._ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv(timeout=60))
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def text(self) -> str:
        return self.evaluate("document.body ? document.body.innerText : ''") or ""

    def wait_for(self, expression: str, timeout: float = 60) -> Any:
        """Poll a JavaScript expression until it is truthy (the page renders asynchronously)."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {expression!r}; the page shows:\n{self.text()[:3000]}")
            time.sleep(0.5)

    def wait_for_text(self, text: str, timeout: float = 60) -> None:
        self.wait_for(f"document.body && document.body.innerText.includes({json.dumps(text)})", timeout)

    def type_into(self, selector: str, text: str) -> None:
        """Focus a field and type into it as a keyboard would (React sees real input events)."""
        self.wait_for(f"!!document.querySelector({json.dumps(selector)})")
        self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        self.send("Input.insertText", text=text)

    def close(self) -> None:
        if hasattr(self, "_connection"):
            self._connection.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
