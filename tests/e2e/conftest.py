"""Browser fixtures: ``ganglioside-nb app`` started as a program on a free port with a fresh
Postgres database, and headless Debian Chromium driven by Playwright.

Outside CI a missing Chromium or Playwright skips these tests with the reason; under
``CI=true`` it fails them (``.ci/run`` installs both).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ganglioside_nb.persistence import upgrade
from ganglioside_nb.ui.voila import wait_until_serving
from tests.databases import drop_postgres_database, fresh_postgres_database

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "_artifacts" / "e2e"


def _missing(what: str) -> None:
    message = f"{what} is not available"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: browser tests must run)", pytrace=False)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def app_url(postgres_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The apps served by ``ganglioside-nb app`` (its own local Dask cluster)."""
    admin, base = postgres_server
    url = fresh_postgres_database(admin, base, prefix="gnb_e2e")
    upgrade(url)
    port = _free_port()
    log = (tmp_path_factory.mktemp("app") / "app.log").open("wb")
    env = {k: v for k, v in os.environ.items() if k != "GANGLIOSIDE_DASK_ADDRESS"}
    env["GANGLIOSIDE_NB_OWNER"] = "e2e"
    server = subprocess.Popen(
        [sys.executable, "-m", "ganglioside_nb", "app", "--port", str(port), "--database",
         url.render_as_string(hide_password=False)],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    root = f"http://127.0.0.1:{port}/"
    try:
        if not wait_until_serving(root, server):
            raise RuntimeError(f"ganglioside-nb app exited with {server.returncode}")
        yield root
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)  # the CLI stops Voila (and its kernels) and the cluster
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        log.close()
        drop_postgres_database(admin, url)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Module scope: Playwright's sync API keeps an event loop running in this thread while it
    is open, which would break ``asyncio.run`` in the tests that follow in the same process."""
    if not Path(CHROMIUM).exists():
        _missing(f"Chromium ({CHROMIUM}; apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright (pip install playwright)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


class PageErrors:
    """Console errors and uncaught page errors, minus the external requests the tests block."""

    def __init__(self, page: Any) -> None:
        self.messages: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.messages.append(f"pageerror: {exc}"))

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        text, where = message.text, (message.location or {}).get("url", "")
        external = "ERR_BLOCKED_BY_CLIENT" in text or "ERR_NAME_NOT_RESOLVED" in text \
            or "Failed to load resource" in text and not where.startswith("http://127.0.0.1")
        # Voila's beforeunload kernel shutdown is a sendBeacon without the _xsrf token, refused
        # with 403 when the test navigates away (voila-dashboards/voila#1458, open); the idle
        # kernel is culled instead (voila.json)
        known_upstream = "/voila/api/shutdown/" in where and "403" in text
        if not (external or known_upstream):
            self.messages.append(f"{text} ({where})")


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
    # the machine is offline: fail external requests at once (Voila's pages link a CDN stylesheet;
    # a slow DNS failure would hold back rendering and make the tests flaky)
    context.route("**/*", lambda route: route.continue_()
                  if route.request.url.startswith(("http://127.0.0.1", "data:", "blob:"))
                  else route.abort("blockedbyclient"))
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.errors = PageErrors(page)
    yield page
    context.close()
