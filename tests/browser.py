"""Running the real app and driving it in Debian's Chromium with Playwright (tests and benchmarks)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from layers.settings import REPO_ROOT

CHROMIUM = os.environ.get("OURPATCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
MAP_FRAME = "iframe[title='streamlit_folium.st_folium']"
# Every table on a page: Streamlit's own (st.table) and our card tables (views/chrome.card_table).
TABLES = "[data-testid='stTable'], [data-testid='stHtml'] table"


def chromium_available() -> bool:
    return Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is not None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_app(
    data_dir: Path,
    *,
    env: dict[str, str] | None = None,
    port: int | None = None,
    args: tuple[str, ...] = (),
    script: str = "app.py",
) -> Iterator[str]:
    """Start `streamlit run app.py` (or another script) on a free port (or `port`); yield its URL; stop
    it afterwards. `args` are more Streamlit options, e.g. ("--secrets.files", path)."""
    port = port or free_port()
    # Real tile settings unless a caller says otherwise: offline, tile requests fail and the map
    # must still be readable from the base map drawn from the extract.
    inherited = {k: v for k, v in os.environ.items() if k != "OURPATCH_TILE_URL"}
    full_env = {**inherited, "OURPATCH_DATA_DIR": str(data_dir), **(env or {})}
    log = open(data_dir / "streamlit.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            script,
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            *args,
        ],
        cwd=REPO_ROOT,
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 90
        while True:
            try:
                with urllib.request.urlopen(url + "_stcore/health", timeout=2) as resp:  # noqa: S310
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("The app did not start: " + (data_dir / "streamlit.log").read_text()[-2000:])
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def wait_for_map(page: Any, timeout_ms: int = 60_000) -> Any:
    """The map's frame, once its markers are drawn."""
    frame_el = page.wait_for_selector(MAP_FRAME, timeout=timeout_ms)
    frame = frame_el.content_frame()
    frame.wait_for_selector(".leaflet-marker-icon, .op-cluster", timeout=timeout_ms)
    return frame


def draw_polygon(page: Any, lonlats: list[tuple[float, float]]) -> None:
    """Draw with Leaflet.draw's polygon tool, clicking each corner, then the first to close it."""
    frame_el = page.wait_for_selector(MAP_FRAME)
    frame = frame_el.content_frame()
    frame.click(".leaflet-draw-draw-polygon")
    box = frame_el.bounding_box()
    for lon, lat in [*lonlats, lonlats[0]]:
        x, y = frame.evaluate(
            "([lat, lon]) => { const p = window.map.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }",
            [lat, lon],
        )
        page.mouse.click(box["x"] + x, box["y"] + y)
        page.wait_for_timeout(150)


# Streamlit's own markers of a script run: the app root's script state, and the status widget
# ("Running…") it shows while a script runs.
NOT_RUNNING = """() => {
  const root = document.querySelector('[data-test-script-state]');
  const status = document.querySelector("[data-testid='stStatusWidget']");
  return (!root || root.getAttribute('data-test-script-state') === 'notRunning')
    && (!status || !/running/i.test(status.textContent || ''));
}"""


def wait_settled(page: Any, timeout_ms: int = 60_000) -> None:
    """Wait until Streamlit runs no script (a click or a fill during a rerun can be swallowed by
    it), then until the elements a rerun marked stale have faded back in. Call it before each
    click or fill that must reach the server."""
    page.wait_for_function(NOT_RUNNING, timeout=timeout_ms)
    page.wait_for_function(
        "() => document.getAnimations().every(a => !(a instanceof CSSTransition) || a.playState !== 'running')",
        timeout=timeout_ms,
    )


def retry_until(action: Callable[[], object], check: Callable[[], object], tries: int = 3) -> None:
    """Do `action`, then `check` (Playwright waits); when the check times out, do both again, up
    to `tries` times. Only Playwright's TimeoutError (an action a rerun swallowed under load) is
    retried: any other failure is a real one and is raised at once."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    for attempt in range(1, tries + 1):
        action()
        try:
            check()
            return
        except PlaywrightTimeoutError:
            if attempt == tries:
                raise
