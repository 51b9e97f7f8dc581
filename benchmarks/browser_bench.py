"""The app in Chromium with 10,000 (generated) assets: time to an interactive map, and from a
finished drawing to the list. Baseline: a plain folium page with one Marker per asset."""

from __future__ import annotations

import functools
import http.server
import shutil
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd

from benchmarks.map_build import naive_map
from benchmarks.synthetic import synthetic_assets
from layers import access, categories, schema, search, settings, sources
from mapping import vendor
from tests import browser

# A box in the middle of the generated points, about 1 km across.
DRAW = [(24.99, 60.205), (25.01, 60.205), (25.01, 60.215), (24.99, 60.215)]


def _synthetic_extract(n: int, data_dir: Path) -> None:
    assets = synthetic_assets(n, seed=5)
    meta = {"format_version": sources.FORMAT_VERSION, "name": f"{n:,} generated assets (benchmark)",
            "source": "synthetic", "loaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "bounds": [float(v) for v in assets.total_bounds], "licence": "synthetic",
            "attribution": settings.OSM_ATTRIBUTION, "asset_count": n,
            "categories": categories.table_fingerprint()}
    empty = gpd.GeoDataFrame({"kind": []}, geometry=gpd.GeoSeries([], crs=schema.WGS84), crs=schema.WGS84)
    extract = sources.Extract(assets=assets, basemap=empty, meta=meta, network=access.network_table(None, None),
                              gazetteer=search.empty_gazetteer())
    sources.save(extract, data_dir / sources.EXTRACT_DIRNAME)


def _time_ours(pw: Any, url: str) -> tuple[float, float]:
    chromium = browser.launch(pw)
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    start = time.perf_counter()
    page.goto(url)
    browser.wait_for_map(page, timeout_ms=120_000)
    interactive_ms = (time.perf_counter() - start) * 1000
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
    start = time.perf_counter()
    page.mouse.click(box["x"] + points[0][0], box["y"] + points[0][1])
    page.wait_for_selector("[data-testid='stTable']", timeout=60_000)
    list_ms = (time.perf_counter() - start) * 1000
    chromium.close()
    return interactive_ms, list_ms


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _time_naive(pw: Any, n: int, folder: Path) -> float:
    fmap = naive_map(synthetic_assets(n, seed=5))
    fmap.default_js = vendor.OfflineMap.default_js
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
        page.wait_for_function(f"() => document.querySelectorAll('.leaflet-marker-icon').length >= {n}",
                               timeout=300_000)
        elapsed = (time.perf_counter() - start) * 1000
        chromium.close()
    finally:
        server.shutdown()
    return elapsed


def run(n: int) -> list[dict[str, Any]]:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        _synthetic_extract(n, data_dir)
        with sync_playwright() as pw:
            with browser.running_app(data_dir, env={"OURPATCH_TILE_URL": "none"}) as url:
                _time_ours(pw, url)  # warm the app's caches, as a second visitor would find them
                interactive_ms, list_ms = _time_ours(pw, url)
            naive_ms = _time_naive(pw, n, Path(tmp) / "naive")
    return [
        {"figure": f"browser, {n:,} assets: page interactive", "ours": interactive_ms, "naive": naive_ms,
         "unit": "ms", "target": "<= 3000 ms", "ok": interactive_ms <= 3000},
        {"figure": f"browser, {n:,} assets: drawing done -> list", "ours": list_ms, "naive": None,
         "unit": "ms", "target": "<= 1000 ms", "ok": list_ms <= 1000},
    ]
