"""Headless Chromium driven over the DevTools protocol through `--remote-debugging-pipe` (requests
on the browser's fd 3, replies and events on its fd 4, each message JSON ended by a NUL byte), with
the standard library only. Every wait has a deadline, so a hung browser fails a test instead of
hanging the suite.

    with Chromium(tmp_path / "profile") as browser:
        page = browser.open(Path("report.html"))
        page.evaluate("document.title"), page.errors(), page.screenshot()
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run",
]
OWN_FLAGS = ["--remote-debugging-pipe", "--window-size=1280,1000", "--hide-scrollbars", "--mute-audio"]
TIMEOUT_S = 15.0
INSTALL_HINT = "Chromium is not installed: run `./scripts/setup.sh --tests` as root, or `sudo apt-get install chromium`"


def chromium_binary() -> str | None:
    return shutil.which("chromium")


class BrowserError(AssertionError):
    """The browser did not answer in time, died, or answered a call with an error."""


class Chromium:
    """One headless browser with a fresh profile in `user_data_dir`, closed on exit."""

    def __init__(self, user_data_dir: Path, timeout_s: float = TIMEOUT_S) -> None:
        binary = chromium_binary()
        if binary is None:
            raise BrowserError(INSTALL_HINT)
        self.timeout_s = timeout_s
        self.log = user_data_dir.with_name(f"{user_data_dir.name}.log")
        commands_read, self._commands = os.pipe()
        self._replies, replies_write = os.pipe()

        def wire_pipes() -> None:
            # Lift both ends above fd 4 first, so neither is overwritten by the other's dup2. The
            # child keeps fds 3 and 4 because they are inheritable and close_fds is off; every other
            # descriptor Python opened is non-inheritable, so nothing else leaks into the browser.
            a, b = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (commands_read, replies_write))
            os.dup2(a, 3)
            os.dup2(b, 4)

        # Crash reports and dconf go under XDG folders outside the profile: keep them beside it too.
        xdg = {f"XDG_{kind}_HOME": str(user_data_dir.with_name(f"{user_data_dir.name}.{kind.lower()}")) for kind in ("CONFIG", "CACHE")}
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [binary, *FLAGS, *OWN_FLAGS, f"--user-data-dir={user_data_dir}", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=False, preexec_fn=wire_pipes, env=os.environ | xdg,
            )
        os.close(commands_read)
        os.close(replies_write)
        self._inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read(self) -> None:
        buffer = b""
        while chunk := os.read(self._replies, 1 << 16):
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for message in messages:
                self._inbox.put(json.loads(message))
        self._inbox.put(None)

    def _receive(self, deadline: float) -> dict[str, Any]:
        try:
            message = self._inbox.get(timeout=max(deadline - time.monotonic(), 0.0))
        except queue.Empty:
            raise BrowserError(f"Chromium did not answer within {self.timeout_s:g} s; its log: {self.log_tail()}") from None
        if message is None:
            self._inbox.put(None)
            raise BrowserError(f"Chromium closed its DevTools pipe (exit code {self.process.poll()}); its log: {self.log_tail()}")
        return message

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else "(none)"

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        """Send one command and wait for its reply; events arriving meanwhile are kept in `events`."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout_s
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method} failed: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, session: str) -> dict[str, Any]:
        """The first event `method` of `session`, received already or within the timeout."""
        deadline = time.monotonic() + self.timeout_s
        seen = 0
        while True:
            for event in self.events[seen:]:
                if event.get("method") == method and event.get("sessionId") == session:
                    return event
            seen = len(self.events)
            self.events.append(self._receive(deadline))

    def open(self, path: Path) -> Page:
        """A new tab with console, exceptions and log recorded from the start, showing the file at `path`."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=session)
        page = Page(self, session)
        self.call("Page.navigate", {"url": path.resolve().as_uri()}, session=session)
        self.wait_for("Page.loadEventFired", session)
        return page

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                self.call("Browser.close")
            self.process.wait(timeout=self.timeout_s)
        except (BrowserError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait(timeout=self.timeout_s)
        finally:
            os.close(self._commands)
            self._reader.join(timeout=self.timeout_s)
            os.close(self._replies)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Page:
    """One tab: evaluate JavaScript in it, read what went wrong in it, take its screenshot."""

    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser, self.session = browser, session

    def evaluate(self, expression: str) -> Any:
        """The JSON value of `expression`; a JavaScript exception fails the caller."""
        result = self.browser.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}, session=self.session
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise BrowserError(f"{expression!r} threw: {details.get('exception', {}).get('description', details['text'])}")
        return result["result"].get("value")

    def errors(self) -> list[str]:
        """Uncaught exceptions, console errors and browser log errors (blocked loads, CSP refusals)."""
        self.evaluate("0")  # a round trip, so events the page raised before now have arrived
        found = []
        for event in self.browser.events:
            if event.get("sessionId") != self.session:
                continue
            params = event.get("params", {})
            if event["method"] == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                found.append(f"exception: {details.get('exception', {}).get('description', details['text'])}")
            elif event["method"] == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                found.append(f"console.{params['type']}: {[a.get('value', a.get('description')) for a in params['args']]}")
            elif event["method"] == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(f"log: {params['entry']['text']} {params['entry'].get('url', '')}")
        return found

    def screenshot(self) -> bytes:
        """What the window shows, as a PNG image."""
        data = self.browser.call("Page.captureScreenshot", {"format": "png"}, session=self.session)
        return base64.b64decode(data["data"])
