"""A real headless Chromium (Debian's `chromium` package) driven over the DevTools protocol on
a pipe (`--remote-debugging-pipe`: fd 3 in, fd 4 out, messages ending in NUL), so a test can
load a page, collect every console message, exception and log error, and take a screenshot,
with nothing but the standard library."""

from __future__ import annotations

import base64
import os
import select
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
)


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Loaded:
    errors: list[str] = field(default_factory=list)  # console errors, exceptions, log errors
    messages: list[str] = field(default_factory=list)  # every console/log message
    screenshot: bytes = b""
    text: str = ""  # document.body.innerText
    svg_count: int = 0
    drawn_bars: int = 0  # SVG rects the layout gave a non-empty box


class _Pipe:
    def __init__(self, proc: subprocess.Popen[bytes], write_fd: int, read_fd: int) -> None:
        self.proc, self.write_fd, self.read_fd = proc, write_fd, read_fd
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str | None = None,
        timeout: float = 30,
    ) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.write_fd, orjson.dumps(message) + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            for item in self._read(deadline):
                if item.get("id") == self.next_id:
                    if "error" in item:
                        raise AssertionError(f"{method}: {item['error']}")
                    result: dict[str, Any] = item.get("result", {})
                    return result
                self.events.append(item)

    def wait_for(self, method: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            self.events.extend(self._read(deadline))

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        try:
            while True:
                self.events.extend(self._read(deadline))
        except TimeoutError:
            return

    def _read(self, deadline: float) -> list[dict[str, Any]]:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium did not answer in time")
            ready, _, _ = select.select([self.read_fd], [], [], left)
            if ready:
                chunk = os.read(self.read_fd, 1 << 20)
                if not chunk:
                    raise AssertionError("chromium closed the DevTools pipe")
                self.buffer += chunk
        *complete, self.buffer = self.buffer.split(b"\0")
        return [orjson.loads(c) for c in complete if c]


def load(page: Path, profile: Path, width: int = 1280, height: int = 1800) -> Loaded:
    """Open `page` (a file) in a fresh headless Chromium; what the console said, and a
    full-page PNG."""
    binary = chromium()
    assert binary, "chromium is not installed (apt-get install -y chromium)"
    to_chrome_r, to_chrome_w = os.pipe()
    from_chrome_r, from_chrome_w = os.pipe()

    def wire() -> None:  # in the child: the pipes on fds 3 and 4
        a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
        os.dup2(a, 3)
        os.dup2(b, 4)

    proc = subprocess.Popen(
        [binary, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=wire,
        pass_fds=(3, 4),
    )
    os.close(to_chrome_r)
    os.close(from_chrome_w)
    pipe = _Pipe(proc, to_chrome_w, from_chrome_r)
    out = Loaded()
    try:
        target = pipe.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log"):
            pipe.send(f"{domain}.enable", session=session)
        pipe.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        pipe.send("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
        pipe.wait_for("Page.loadEventFired")
        pipe.drain(0.5)
        shot = pipe.send(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True},
            session=session,
        )
        out.screenshot = base64.b64decode(shot["data"])
        evaluated = pipe.send(
            "Runtime.evaluate",
            {
                "expression": "JSON.stringify([document.body.innerText,"
                " document.querySelectorAll('svg').length,"
                " [...document.querySelectorAll('svg rect')].filter(r => {"
                " const b = r.getBoundingClientRect(); return b.width > 0 && b.height > 0;"
                " }).length])",
                "returnByValue": True,
            },
            session=session,
        )
        text, svgs, bars = orjson.loads(evaluated["result"]["value"])
        out.text, out.svg_count, out.drawn_bars = text, int(svgs), int(bars)
        pipe.send("Browser.close")
    finally:
        os.close(to_chrome_w)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        os.close(from_chrome_r)
    for event in pipe.events:
        method, params = event.get("method"), event.get("params") or {}
        if method == "Runtime.consoleAPICalled":
            words = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            out.messages.append(f"console.{params['type']}: {words}")
            if params["type"] in ("error", "assert"):
                out.errors.append(words)
        elif method == "Runtime.exceptionThrown":
            out.errors.append(str(params["exceptionDetails"].get("text")))
        elif method == "Log.entryAdded":
            entry = params["entry"]
            out.messages.append(f"log.{entry['level']}: {entry['text']}")
            if entry["level"] == "error":
                out.errors.append(entry["text"])
    return out
