"""`make visual`: an HTML page in headless Chromium at phone and desktop width, as PNGs of the whole page.

Chromium is driven over its DevTools pipe (`--remote-debugging-pipe`: JSON messages ending in NUL on fds 3 and 4), so
nothing beyond the standard library and Debian's `chromium` is needed. The page is measured as a person would see it:
its layout width against the window's (`scrollWidth <= innerWidth`), and every box that scrolls sideways.

    python -m emulator.visual PAGE.html --out build/
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
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

WIDTHS = (("phone", 390), ("desktop", 1280))
FIRST_HEIGHT = 900  # the window's height while the page loads; a screenshot is then taken at the page's own height
TIMEOUT = 30.0  # seconds for one DevTools answer; a static local page answers in well under one
# As root Chromium needs --no-sandbox; the background services only try to reach Google, which this page never needs.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--disable-quic",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--mute-audio",
         "--remote-debugging-pipe")
# What a person would notice, read off the laid-out page: the page wider than the window, a box that scrolls
# sideways (its section named), and the smallest chart text as drawn on screen, in CSS pixels.
MEASURE = """(() => {
  const root = document.documentElement;
  const sideways = [...document.querySelectorAll('*')]
    .filter(e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX) && e.scrollWidth > e.clientWidth + 1)
    .map(e => (e.closest('section') || {}).id || e.tagName.toLowerCase());
  const fonts = [...document.querySelectorAll('svg text')]
    .map(t => parseFloat(t.getAttribute('font-size')) * t.getScreenCTM().a);
  return {scrollWidth: root.scrollWidth, innerWidth: window.innerWidth, height: root.scrollHeight,
          sideways: sideways, chartText: fonts.length ? Math.min(...fonts) : null};
})()"""


class BrowserError(Exception):
    """Chromium could not be started, answered with an error, or did not answer in time."""


def find_chromium() -> Optional[str]:
    """Debian's `chromium` (or `chromium-browser`) on PATH, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Chromium:
    """One headless Chromium, driven over the DevTools pipe; use as a context manager."""

    def __init__(self, executable: str):
        self._profile = tempfile.TemporaryDirectory(prefix="visual-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def pipes_on_3_and_4() -> None:  # where --remote-debugging-pipe reads and writes
            # Lifted above 4 first, so that moving one pipe onto 3 or 4 never closes the other.
            read, write = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10), fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(read, 3)
            os.dup2(write, 4)

        try:
            self._process = subprocess.Popen(
                [executable, *FLAGS, f"--user-data-dir={self._profile.name}", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=(3, 4), preexec_fn=pipes_on_3_and_4)
        except OSError as exc:
            raise BrowserError(f"{executable} could not be started ({exc}); "
                               "install it: apt-get install chromium") from exc
        finally:
            os.close(to_browser_r)
            os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self._events: List[Dict[str, Any]] = []

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
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
        self._profile.cleanup()

    def _read(self) -> Dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_browser], [], [], max(left, 0))
            if not ready:
                raise BrowserError(f"Chromium did not answer within {TIMEOUT:g} s")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise BrowserError(f"Chromium exited (code {self._process.poll()}) before answering")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: Optional[Dict[str, Any]] = None, session: Optional[str] = None) -> Any:
        """Send one DevTools command and return its result; events that arrive meanwhile are kept for wait_for."""
        self._next_id += 1
        message: Dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode("utf-8") + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") != self._next_id:
                self._events.append(reply)
                continue
            if "error" in reply:
                raise BrowserError(f"{method} failed: {reply['error'].get('message')}")
            return reply.get("result", {})

    def wait_for(self, event: str, session: str) -> None:
        while True:
            if any(e.get("method") == event and e.get("sessionId") == session for e in self._events):
                self._events = [e for e in self._events if e.get("method") != event]
                return
            self._events.append(self._read())

    def open(self, url: str, width: int) -> str:
        """A new tab `width` CSS px wide (device scale 1, as a desktop window) showing url; returns its session."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Page.enable", session=session)
        self.resize(session, width, FIRST_HEIGHT)
        self.call("Page.navigate", {"url": url}, session=session)
        self.wait_for("Page.loadEventFired", session)
        return session

    def resize(self, session: str, width: int, height: int) -> None:
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=session)

    def evaluate(self, session: str, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session)
        if "exceptionDetails" in result:
            raise BrowserError(f"the page's measurement failed: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def measure(self, session: str) -> Dict[str, Any]:
        """scrollWidth, innerWidth, height, the sections with a box that scrolls sideways, the smallest chart text."""
        return self.evaluate(session, MEASURE)

    def screenshot(self, session: str, width: int) -> Tuple[bytes, int]:
        """A PNG of the whole page at this width (the window made as tall as the page), and its height."""
        height = int(self.measure(session)["height"])
        self.resize(session, width, height)
        data = self.call("Page.captureScreenshot", {"format": "png"}, session=session)["data"]
        return base64.b64decode(data), height


def shoot(page: Path, out: Path, executable: str, widths: Sequence[Tuple[str, int]] = WIDTHS) -> List[str]:
    """Write out/report-<name>.png for each width; one line per PNG: its size and what a person would notice."""
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    with Chromium(executable) as browser:
        for name, width in widths:
            session = browser.open(page.resolve().as_uri(), width)
            seen = browser.measure(session)
            png, height = browser.screenshot(session, width)
            path = out / f"report-{name}.png"
            path.write_bytes(png)
            overflow = "" if seen["scrollWidth"] <= seen["innerWidth"] else \
                f"; PAGE OVERFLOWS: {seen['scrollWidth']} px wide in a {seen['innerWidth']} px window"
            sideways = f"; scrolls sideways in: {', '.join(seen['sideways'])}" if seen["sideways"] else ""
            lines.append(f"{path} {width}x{height} <- {page}{overflow}{sideways}")
    return lines


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator.visual", description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path, help="the HTML file to show")
    parser.add_argument("--out", type=Path, default=Path("build"), help="folder for report-phone/desktop.png")
    args = parser.parse_args(argv)
    executable = find_chromium()
    if executable is None:
        print("no chromium on PATH: apt-get update && apt-get install -y chromium", file=sys.stderr)
        return 1
    try:
        lines = shoot(args.page, args.out, executable)
    except BrowserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 1 if any("OVERFLOWS" in line or "sideways" in line for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
