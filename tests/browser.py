"""A headless Chromium driven through chromedriver's W3C WebDriver HTTP interface, with
the standard library only (Debian's chromium and chromium-driver packages)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C key of an element reference
# As this machine's notes say: without the background-networking flags Chromium tries
# (and fails) to reach Google's hosts at every start.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1200,900",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Browser:
    """One Chromium session: open pages, find elements, click, type, run JS, screenshot."""

    def __init__(self) -> None:
        driver = shutil.which("chromedriver")
        chromium = shutil.which("chromium")
        assert driver and chromium, (
            "chromium and chromedriver are not installed: scripts/check.sh installs "
            "Debian's chromium and chromium-driver"
        )
        self.port = _free_port()
        self.process = subprocess.Popen(
            [driver, f"--port={self.port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.profile = tempfile.mkdtemp(prefix="tally-chromium-")
        deadline = time.monotonic() + 30
        while True:
            try:
                if self._call("GET", "/status")["ready"]:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "chromedriver didn't start in 30 s"
            time.sleep(0.1)
        options = {"binary": chromium, "args": [*CHROMIUM_ARGS, f"--user-data-dir={self.profile}"]}
        capabilities = {"browserName": "chrome", "goog:chromeOptions": options}
        session = self._call("POST", "/session", {"capabilities": {"alwaysMatch": capabilities}})
        self.session = f"/session/{session['sessionId']}"

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())["value"]

    def open(self, path: Path) -> None:
        """Load a file from disk."""
        self._call("POST", f"{self.session}/url", {"url": path.resolve().as_uri()})

    def find(self, css: str) -> str:
        """The first element matching `css`."""
        found = self._call(
            "POST", f"{self.session}/element", {"using": "css selector", "value": css}
        )
        return str(found[ELEMENT])

    def click(self, css: str) -> None:
        self._call("POST", f"{self.session}/element/{self.find(css)}/click", {})

    def type(self, css: str, text: str) -> None:
        """Send keystrokes to the element matching `css`."""
        self._call("POST", f"{self.session}/element/{self.find(css)}/value", {"text": text})

    def js(self, script: str, *args: Any) -> Any:
        """Run `script` (a function body; `arguments` holds `args`) and return its value."""
        return self._call(
            "POST", f"{self.session}/execute/sync", {"script": script, "args": list(args)}
        )

    def prefer_dark(self) -> None:
        """Make the page see `prefers-color-scheme: dark` (DevTools' media emulation)."""
        features = [{"name": "prefers-color-scheme", "value": "dark"}]
        self._call(
            "POST",
            f"{self.session}/goog/cdp/execute",
            {"cmd": "Emulation.setEmulatedMedia", "params": {"features": features}},
        )

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self._call("GET", f"{self.session}/screenshot")))

    def close(self) -> None:
        try:
            self._call("DELETE", self.session)
        finally:
            self.process.terminate()
            self.process.wait(timeout=30)
            shutil.rmtree(self.profile, ignore_errors=True)


def artifacts_dir() -> Path:
    """Where tests leave files for people to look at (screenshots): TALLY_TEST_ARTIFACTS,
    or test-artifacts/ in the checkout."""
    default = Path(__file__).resolve().parent.parent / "test-artifacts"
    return Path(os.environ.get("TALLY_TEST_ARTIFACTS", default))
