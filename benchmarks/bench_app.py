"""First screen of the Voila apps: time from navigation to the fully rendered app.

Target (issue 6): each app shows its first screen within 5 s (the Dask connection starts only
after the first render).

What is measured: ``ganglioside-nb app`` is started on a free port with a temporary SQLite
database (its local cluster already up, as for any user after the first page); headless Debian
Chromium (Playwright) opens ``/voila/render/<app>.ipynb`` in a fresh browser context and waits
for the marker the app's last cell displays (``.gnb-ready-marker``); each app is loaded
``--repeat`` times (a new kernel each time). Also: the command's own start-up until the server
answers.

Run: ``python benchmarks/bench_app.py [--repeat 5]`` (needs ``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from ganglioside_nb.ui.voila import wait_until_serving

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    port = _free_port()
    root = f"http://127.0.0.1:{port}/"
    with tempfile.TemporaryDirectory() as folder:
        t0 = time.perf_counter()
        server = subprocess.Popen([sys.executable, "-m", "ganglioside_nb", "app", "--port", str(port),
                                   "--database", f"sqlite:///{folder}/bench.sqlite3"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        try:
            if not wait_until_serving(root, server):
                raise SystemExit(f"ganglioside-nb app exited with {server.returncode}")
            print(f"ganglioside-nb app answers after {time.perf_counter() - t0:.1f} s "
                  f"(cluster start + Voila)")
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                for app in ("analyze", "history"):
                    times = []
                    for _ in range(args.repeat):
                        context = browser.new_context()
                        page = context.new_page()
                        start = time.perf_counter()
                        page.goto(f"{root}voila/render/{app}.ipynb")
                        page.wait_for_selector(".gnb-ready-marker", state="attached", timeout=60_000)
                        times.append(time.perf_counter() - start)
                        context.close()
                    print(f"{app:<8} first screen: median {statistics.median(times):.2f} s, "
                          f"max {max(times):.2f} s over {len(times)} loads (target <= 5 s)")
                browser.close()
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
