"""The app in Chromium with 10,000 (generated) assets: time to an interactive map, and from a
finished drawing to the list, each beside streamlit-folium as it comes (benchmarks/baseline_app.py:
the same map and list, the whole script rerun and the map re-sent on every drawing), served in
the same run. For the drawing, where the time goes: the browser's wait before it asks for a
rerun, the server (script run and sending), the browser drawing the answer, and the bytes sent.
A plain folium page with one Marker per asset is the naive baseline for the interactive time."""

from __future__ import annotations

import functools
import http.server
import math
import os
import re
import shutil
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd

from benchmarks.map_build import naive_map
from benchmarks.synthetic import synthetic_assets
from layers import categories, schema, settings
from layers.analysis import access, search
from layers.osm import sources
from mapping import vendor
from tests import browser

# A box in the middle of the generated points, about 1 km across.
DRAW = [(24.99, 60.205), (25.01, 60.205), (25.01, 60.215), (24.99, 60.215)]
DRAWINGS = 7  # visits timed per app (each in a fresh browser, the apps in turn), the median reported

# Every websocket frame the page receives or sends: when (performance.now()) and how big.
WS_LOG = """
(() => {
  window.__ws = [];
  const Native = window.WebSocket;
  window.WebSocket = function (...args) {
    const ws = new Native(...args);
    ws.addEventListener('message', (e) => window.__ws.push(
      {t: performance.now(), dir: 'in', bytes: e.data.byteLength || e.data.size || e.data.length || 0}));
    const send = ws.send.bind(ws);
    ws.send = (d) => { window.__ws.push({t: performance.now(), dir: 'out', bytes: d.byteLength || d.length || 0});
                       return send(d); };
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
})();
"""
# The list of what is inside: our card table (an HTML table), or the baseline's st.table.
LIST = ".st-key-op-results-table table, [data-testid='stTable']"
TABLE_WATCH = """
(list) => { window.__tableAt = null; window.__longTasks = [];
  const look = () => { if (document.querySelector(list)) window.__tableAt = performance.now();
                       else requestAnimationFrame(look); };
  // the main thread's long tasks (over 50 ms) meanwhile: the page's and its map frame's
  new PerformanceObserver((l) => {
    for (const e of l.getEntries()) window.__longTasks.push([e.startTime, e.duration]);
  }).observe({type: 'longtask'});
  look(); return performance.now(); }
"""
# The map's own performance marks (mapping/elements.py, mapping/build.py): the first of each name.
MARKS = """
() => Object.fromEntries(performance.getEntriesByType('mark').filter(m => m.name.startsWith('ourpatch:'))
  .reverse().map(m => [m.name, m.startTime]))
"""
# Scripts the page fetched meanwhile (Streamlit loads an element's code the first time one shows).
FETCHED_SCRIPTS = """
([from, to]) => performance.getEntriesByType('resource')
  .filter(r => r.startTime >= from && r.startTime <= to && new URL(r.name).pathname.endsWith('.js'))
  .reduce((a, r) => [a[0] + 1, a[1] + (r.encodedBodySize || 0)], [0, 0])
"""


def _synthetic_extract(n: int, data_dir: Path) -> None:
    assets = synthetic_assets(n, seed=5)
    meta = {
        "format_version": sources.FORMAT_VERSION,
        "name": f"{n:,} generated assets (benchmark)",
        "source": "synthetic",
        "loaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "bounds": [float(v) for v in assets.total_bounds],
        "licence": "synthetic",
        "attribution": settings.OSM_ATTRIBUTION,
        "asset_count": n,
        "categories": categories.table_fingerprint(),
        "network_tags": access.network_tag_keys(),
    }
    empty = gpd.GeoDataFrame({"kind": []}, geometry=gpd.GeoSeries([], crs=schema.WGS84), crs=schema.WGS84)
    extract = sources.Extract(
        assets=assets, basemap=empty, meta=meta, network=access.network_table(), gazetteer=search.empty_gazetteer()
    )
    sources.save(extract, data_dir / sources.EXTRACT_DIRNAME)


def _time_page(pw: Any, url: str) -> dict[str, float]:
    """One visit: time to interactive, then one drawing timed from the click that closes it."""
    chromium = browser.launch(pw)
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    page.add_init_script(WS_LOG)
    start = time.perf_counter()
    page.goto(url)
    map_frame = browser.wait_for_map(page, timeout_ms=120_000)
    polled_ms = (time.perf_counter() - start) * 1000
    # Playwright finds the markers by polling (after 0, 20, 50, 100, 100, then every 500 ms), so
    # its own time can be up to half a second late: the map's marks say when they were painted,
    # in the frame's clock, moved to the page's (from navigation start).
    offset = map_frame.evaluate("performance.timeOrigin") - page.evaluate("performance.timeOrigin")
    marks = {name: offset + at for name, at in map_frame.evaluate(MARKS).items()}
    interactive_ms = marks.get("ourpatch:painted", polled_ms)
    first_load_bytes = page.evaluate("window.__ws.filter(f => f.dir === 'in').reduce((a, f) => a + f.bytes, 0)")
    page.wait_for_timeout(1000)
    frame_el = page.wait_for_selector(browser.MAP_FRAME)
    frame = frame_el.content_frame()
    frame.click(".leaflet-draw-draw-polygon")
    box = frame_el.bounding_box()
    to_pixels = "([la, lo]) => { const p = window.map.latLngToContainerPoint([la, lo]); return [p.x, p.y]; }"
    points = [frame.evaluate(to_pixels, [lat, lon]) for lon, lat in DRAW]
    for x, y in points:
        page.mouse.click(box["x"] + x, box["y"] + y)
        page.wait_for_timeout(100)
    clicked_at = page.evaluate(TABLE_WATCH, LIST)
    page.mouse.click(box["x"] + points[0][0], box["y"] + points[0][1])
    page.wait_for_selector(LIST, timeout=60_000)
    page.wait_for_function("() => window.__tableAt !== null")
    table_at = page.evaluate("window.__tableAt")
    frames = page.evaluate("window.__ws")
    scripts, script_bytes = page.evaluate(FETCHED_SCRIPTS, [clicked_at, table_at])
    long_tasks = page.evaluate("window.__longTasks")
    chromium.close()
    after = [f for f in frames if clicked_at <= f["t"] <= table_at]
    asked = next((f["t"] for f in after if f["dir"] == "out"), table_at)
    answered = max((f["t"] for f in after if f["dir"] == "in"), default=asked)
    nan = float("nan")
    return {
        "interactive_ms": interactive_ms,
        "polled_ms": polled_ms,
        "frame_ms": offset,
        "map_script_ms": marks.get("ourpatch:map-script", nan),
        "clustered_ms": marks.get("ourpatch:clustered", nan),
        "first_load_kb": first_load_bytes / 1000,
        "list_ms": table_at - clicked_at,
        "wait_ms": asked - clicked_at,
        "server_ms": answered - asked,
        "browser_ms": table_at - answered,
        "rerun_kb": sum(f["bytes"] for f in after if f["dir"] == "in") / 1000,
        "scripts": scripts,
        "scripts_kb": script_bytes / 1000,
        "longest_task_ms": max((d for t, d in long_tasks if clicked_at <= t <= table_at), default=0.0),
    }


def _visit(pw: Any, url: str, log: Path) -> dict[str, float]:
    """One timed visit, with the server's own figures for it from its log."""
    seen, seen_pages = len(_script_times(log)), len(_page_times(log))
    run = _time_page(pw, url)
    after = _script_times(log)[seen:]
    done = _done_times(log)[seen:]
    pages = _page_times(log)[seen_pages:]
    run["page_script_ms"] = pages[0] if pages else float("nan")  # the first load's run
    run["script_ms"] = after[-1] if after else float("nan")  # the drawing's own rerun
    run["script_done_ms"] = done[-1] if done else float("nan")
    return run


def _interleaved_visits(pw: Any, apps: list[tuple[str, Path]], visits: int) -> list[dict[str, float]]:
    """`visits` timed visits to each app (url, its log), taken in turn (ABBA order), so a change in
    the machine's load meanwhile falls on all of them alike; the median of each figure per app."""
    for url, _ in apps:
        _time_page(pw, url)  # warm the app's caches, as a second visitor would find them
    runs: list[list[dict[str, float]]] = [[] for _ in apps]
    for i in range(visits):
        order = list(enumerate(apps)) if i % 2 == 0 else list(reversed(list(enumerate(apps))))
        for k, (url, log) in order:
            runs[k].append(_visit(pw, url, log))
    return [{key: statistics.median(r[key] for r in app_runs) for key in app_runs[0]} for app_runs in runs]


def _script_times(log: Path) -> list[float]:
    """How far into each rerun of the explore page the list was sent (views/explore.py logs it)."""
    text = log.read_text() if log.exists() else ""
    return [float(m) for m in re.findall(r"explore: list sent (\d+) ms into the rerun", text)]


def _page_times(log: Path) -> list[float]:
    """How long each whole run of the explore page's script took (views/explore.py logs it)."""
    text = log.read_text() if log.exists() else ""
    return [float(m) for m in re.findall(r"explore: page script (\d+) ms", text)]


def _done_times(log: Path) -> list[float]:
    """How long each rerun of the explore page's fragment took in all (views/explore.py logs it)."""
    text = log.read_text() if log.exists() else ""
    return [float(m) for m in re.findall(r"explore: list sent \d+ ms into the rerun.*done at (\d+) ms", text)]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _time_naive(pw: Any, n: int, folder: Path) -> float:
    fmap = naive_map(synthetic_assets(n, seed=5))
    fmap.default_js = [*vendor.OfflineMap.default_js, vendor.JQUERY_JS]  # folium's popups call jQuery
    fmap.default_css = vendor.OfflineMap.default_css
    for child in fmap._children.values():  # the Marker icons' own (CDN) scripts are not needed offline
        child.default_js, child.default_css = [], []  # type: ignore[attr-defined]
    html = fmap.get_root().render().replace(vendor.VENDOR_URL, "vendor")
    shutil.copytree(vendor.VENDOR_DIR, folder / "vendor")
    (folder / "naive.html").write_text(html)
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        chromium = browser.launch(pw)
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        start = time.perf_counter()
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/naive.html")
        page.wait_for_function(
            f"() => document.querySelectorAll('.leaflet-marker-icon').length >= {n}", timeout=300_000
        )
        elapsed = (time.perf_counter() - start) * 1000
        chromium.close()
    finally:
        server.shutdown()
    return elapsed


def _baseline_folder(tmp: Path) -> Path:
    """benchmarks/baseline_app.py beside the app's static folder (Streamlit serves static/ from
    the script's own folder)."""
    folder = tmp / "baseline"
    folder.mkdir()
    shutil.copy(Path(__file__).with_name("baseline_app.py"), folder / "baseline_app.py")
    (folder / "static").symlink_to(vendor.STATIC_DIR)
    return folder


def run(n: int, visits: int = DRAWINGS) -> list[dict[str, Any]]:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        _synthetic_extract(n, data_dir)
        base_dir = Path(tmp) / "data-baseline"  # its own folder: each server writes its own log there
        shutil.copytree(data_dir, base_dir)
        baseline_script = _baseline_folder(Path(tmp)) / "baseline_app.py"
        path_env = {"PYTHONPATH": os.pathsep.join([str(settings.REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
        with (
            sync_playwright() as pw,
            browser.running_app(data_dir, env={"OURPATCH_TILE_URL": "none"}) as ours_url,
            browser.running_app(
                base_dir, env={"OURPATCH_TILE_URL": "none", **path_env}, script=str(baseline_script)
            ) as base_url,
        ):
            ours, base = _interleaved_visits(
                pw, [(ours_url, data_dir / "streamlit.log"), (base_url, base_dir / "streamlit.log")], visits
            )
            naive_ms = _time_naive(pw, n, Path(tmp) / "naive")
    rows = [
        {
            "figure": f"browser, {n:,} assets: page interactive",
            "ours": ours["interactive_ms"],
            "naive": base["interactive_ms"],
            "unit": "ms",
            "target": "p50 <= 2000 ms",
            "ok": ours["interactive_ms"] <= 2000,
        },
        {
            "figure": f"browser, {n:,} assets: page interactive (one Marker each)",
            "ours": ours["interactive_ms"],
            "naive": naive_ms,
            "unit": "ms",
            "target": "-",
            "ok": True,
        },
        {
            "figure": f"browser, {n:,} assets: drawing done -> list",
            "ours": ours["list_ms"],
            "naive": base["list_ms"],
            "unit": "ms",
            "target": "p50 <= 500 ms",
            "ok": ours["list_ms"] <= 500,
        },
    ]
    parts = [
        ("wait_ms", "before it asks the server", "ms"),
        ("server_ms", "server: script and sending", "ms"),
        ("script_ms", "of which the script, until the list is sent", "ms"),
        ("script_done_ms", "the script, to its end (chart, download, save)", "ms"),
        ("browser_ms", "browser: drawing the answer", "ms"),
        ("longest_task_ms", "browser: its longest task", "ms"),
        ("scripts", "browser: scripts it fetched first", ""),
        ("scripts_kb", "browser: their size", "KB"),
        ("rerun_kb", "bytes sent for it", "KB"),
        ("frame_ms", "interactive: the map's frame made", "ms"),
        ("map_script_ms", "interactive: its scripts and data loaded, the map's script starts", "ms"),
        ("clustered_ms", "interactive: every marker clustered", "ms"),
        ("polled_ms", "interactive: as Playwright's polling saw it", "ms"),
        ("first_load_kb", "interactive: bytes over the websocket", "KB"),
        ("page_script_ms", "interactive: the page's script on the server", "ms"),
    ]
    for key, label, unit in parts:
        baseline = None if math.isnan(base[key]) else base[key]
        figure = f"  {label}" if label.startswith("interactive") else f"  drawing -> list: {label}"
        rows.append({"figure": figure, "ours": ours[key], "naive": baseline, "unit": unit, "target": "-", "ok": True})
    return rows
