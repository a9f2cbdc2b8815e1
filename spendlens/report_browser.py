"""Open an HTML file in headless Chromium and check it: console errors, network requests, rendered
charts, and a full-page screenshot.

Chromium is driven with the Chrome DevTools Protocol over `--remote-debugging-pipe` (file
descriptors 3 and 4, JSON messages separated by NUL bytes), so no websocket client or driver
package is needed: only the Debian package `chromium` (scripts/install_chromium.sh).

Used by tests/python/test_report.py, and from the command line to take the README screenshot:

    python -m spendlens.report_browser reports/spendlens_report.html --screenshot docs/images/report.png
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# True once every chart container of a spendlens report holds a drawn plotly figure.
CHARTS_RENDERED = ("[...document.querySelectorAll('[data-chart]')]"
                   ".every(d => d.querySelector('.js-plotly-plot .main-svg'))")
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
# URLs a self-contained page may load: itself, inline data and blank frames.
LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:")


class BrowserError(RuntimeError):
    """Chromium could not be started or did not answer."""


def find_chromium() -> str | None:
    """Path of a Chromium binary (env SPENDLENS_CHROMIUM first), or None."""
    env = os.environ.get("SPENDLENS_CHROMIUM")
    if env:
        return env
    for candidate in CHROMIUM_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium")


@dataclass
class PageCheck:
    """What happened while a page was loaded and rendered."""

    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return self.console_errors + self.exceptions + self.failed_requests + self.external_requests


class Chromium:
    """A headless Chromium with one page, controlled over the DevTools pipe."""

    def __init__(self, binary: str | None = None, width: int = 1280, height: int = 900) -> None:
        binary = binary or find_chromium()
        if not binary:
            raise BrowserError("Chromium is not installed: run scripts/install_chromium.sh")
        self._profile = tempfile.TemporaryDirectory(prefix="spendlens-chromium-")
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()
        # Copies at fd >= 10 (close-on-exec), so that moving them onto fds 3 and 4 in the child
        # cannot clobber one with the other.
        child_read = fcntl.fcntl(to_browser_read, fcntl.F_DUPFD_CLOEXEC, 10)
        child_write = fcntl.fcntl(from_browser_write, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_browser_read)
        os.close(from_browser_write)

        def give_pipes_to_child() -> None:  # runs in the child between fork and exec
            os.dup2(child_read, 3)  # dup2 clears close-on-exec: the browser inherits fds 3 and 4
            os.dup2(child_write, 4)

        args = [
            binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-extensions", "--disable-default-apps", "--no-first-run", "--mute-audio",
            "--hide-scrollbars",
            # Any host name resolves to nothing: a request that leaves the machine fails (and is seen).
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={self._profile.name}", f"--window-size={width},{height}",
            "--remote-debugging-pipe", "about:blank",
        ]
        self._log = tempfile.TemporaryFile()  # a file, not a pipe: a full pipe would stall Chromium
        # close_fds=False: Python's own descriptors are close-on-exec anyway, and fds 3 and 4 only
        # exist in the child once give_pipes_to_child has run.
        self._process = subprocess.Popen(
            args, close_fds=False, preexec_fn=give_pipes_to_child,  # noqa: PLW1509
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
        )
        os.close(child_read)
        os.close(child_write)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict] = []
        self.width, self.height = width, height
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]

    # -- protocol -------------------------------------------------------------------------------

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError("Chromium did not answer in time")
            ready, _, _ = select.select([self._from_browser], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                self._log.seek(0)
                log = self._log.read().decode(errors="replace")
                raise BrowserError(f"Chromium exited: {log[-2000:]}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, params: dict | None = None, session: bool | None = None,
             timeout: float = 60.0) -> dict:
        """Sends one command and returns its result; events met on the way are kept."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is None:
            session = not method.startswith(("Target.", "Browser."))
        if session:
            message["sessionId"] = self._session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            if "method" in answer:
                self._events.append(answer)

    def wait_for_event(self, method: str, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        for index, event in enumerate(self._events):
            if event["method"] == method:
                return self._events.pop(index)
        while True:
            answer = self._read_message(deadline)
            if answer.get("method") == method:
                return answer
            if "method" in answer:
                self._events.append(answer)

    def evaluate(self, expression: str, timeout: float = 60.0) -> Any:
        """Value of a JavaScript expression in the page (promises are awaited)."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, timeout=timeout)
        if "exceptionDetails" in result:
            raise BrowserError(f"JavaScript error: {result['exceptionDetails']}")
        return result["result"].get("value")

    # -- page -----------------------------------------------------------------------------------

    def open(self, path: Path, ready_expression: str = "true", timeout: float = 60.0) -> PageCheck:
        """Loads the file, waits for the load event and until ready_expression is true, and
        returns the console errors, exceptions and network requests seen meanwhile."""
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride", {"width": self.width, "height": self.height,
                                                         "deviceScaleFactor": 1, "mobile": False})
        self._events.clear()
        self.send("Page.navigate", {"url": path.resolve().as_uri()})
        self.wait_for_event("Page.loadEventFired", timeout)
        deadline = time.monotonic() + timeout
        while not self.evaluate(f"Boolean({ready_expression})"):
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        time.sleep(0.5)  # let late console messages and requests arrive
        self.send("Runtime.evaluate", {"expression": "0"})
        return self._collect()

    def _collect(self) -> PageCheck:
        check = PageCheck()
        for event in self._events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in {"error", "assert"}:
                check.console_errors.append(" ".join(str(a.get("value", a.get("description", "")))
                                                     for a in params.get("args", [])))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                check.console_errors.append(f"{params['entry'].get('text')} {params['entry'].get('url', '')}")
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                check.exceptions.append(details.get("exception", {}).get("description", details.get("text", "")))
            elif method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                if not url.startswith(LOCAL_SCHEMES):
                    check.external_requests.append(url)
            elif method == "Network.loadingFailed":
                check.failed_requests.append(f"{params.get('errorText')} ({params.get('requestId')})")
        self._events.clear()
        return check

    def screenshot(self, out: Path, full_page: bool = True) -> Path:
        """Writes a PNG of the page (the whole page by default)."""
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:
            size = self.send("Page.getLayoutMetrics")["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": self.width, "height": size["height"], "scale": 1}
        data = self.send("Page.captureScreenshot", params)["data"]
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(base64.b64decode(data))
        return out

    def close(self) -> None:
        if self._process.poll() is None:
            try:
                self.send("Browser.close", timeout=5)
            except (BrowserError, OSError):
                pass
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        self._log.close()
        self._profile.cleanup()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Open a report in headless Chromium and take a screenshot.")
    p.add_argument("html", type=Path)
    p.add_argument("--screenshot", type=Path, required=True)
    p.add_argument("--width", type=int, default=1280)
    args = p.parse_args(argv)
    with Chromium(width=args.width) as browser:
        check = browser.open(args.html, CHARTS_RENDERED)
        browser.screenshot(args.screenshot)
    for problem in check.problems:
        print(f"problem: {problem}", file=sys.stderr)
    print(f"wrote {args.screenshot}")
    return 1 if check.problems else 0


if __name__ == "__main__":
    sys.exit(main())
