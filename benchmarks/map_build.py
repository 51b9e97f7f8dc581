"""The map for 10,000 assets: our compact layers against one folium Marker per asset."""

from __future__ import annotations

import time
from typing import Any, cast

import folium
import geopandas as gpd
from shapely.geometry import Point

from benchmarks.synthetic import synthetic_assets
from layers import schema
from mapping import build


def naive_map(assets: gpd.GeoDataFrame) -> folium.Map:
    """The way not to do it: one Marker, with a popup and tooltip, per asset."""
    fmap = folium.Map(location=[60.2, 25.0], zoom_start=12)
    for row in assets.itertuples():
        point = cast(Point, row.geometry)  # synthetic assets are points
        folium.Marker([point.y, point.x], popup=str(row.name), tooltip=str(row.name)).add_to(fmap)
    return fmap


def run(n: int) -> list[dict[str, Any]]:
    assets = synthetic_assets(n, seed=11)
    empty_base = gpd.GeoDataFrame({"kind": []}, geometry=gpd.GeoSeries([], crs=schema.WGS84), crs=schema.WGS84)

    start = time.perf_counter()
    data = build.prepare(assets, empty_base)
    html = build.build_map(data).get_root().render()
    ours_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    build.build_map(data).get_root().render()
    rerun_ms = (time.perf_counter() - start) * 1000

    start = time.perf_counter()
    naive_html = naive_map(assets).get_root().render()
    naive_ms = (time.perf_counter() - start) * 1000

    ours_kb, naive_kb = len(html.encode()) / 1024, len(naive_html.encode()) / 1024
    return [
        {
            "figure": f"map build, {n:,} assets (first)",
            "ours": ours_ms,
            "naive": naive_ms,
            "unit": "ms",
            "target": "<= 100 ms",
            "ok": ours_ms <= 100,
        },
        {
            "figure": f"map build, {n:,} assets (rerun)",
            "ours": rerun_ms,
            "naive": naive_ms,
            "unit": "ms",
            "target": "<= 100 ms",
            "ok": rerun_ms <= 100,
        },
        {
            "figure": f"map payload, {n:,} assets",
            "ours": ours_kb,
            "naive": naive_kb,
            "unit": "KB",
            "target": "<= 600 KB",
            "ok": ours_kb <= 600,
        },
    ]
