"""Build the resident's map from asset layers and the drawn base map.

`prepare()` turns layers into compact, script-safe JSON once (cache its result);
`build_map()` assembles a fresh folium map from that in a few milliseconds, so each rerun can
build its own map without mutating a shared one.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element
from folium.elements import JSCSSMixin
from jinja2 import Template
from shapely.geometry.base import BaseGeometry

from layers import categories, geodesy, settings
from mapping import elements, vendor
from mapping.render_once import RenderOnce
from mapping.safe_json import script_json

COORD_DECIMALS = 5  # about 1 m: plenty for a map, and it keeps the page small
BASEMAP_STYLES = {
    "water": {"color": "#6fa8dc", "weight": 1, "fillColor": "#a9cfef", "fillOpacity": 1},
    "green": {"color": "#93c47d", "weight": 0.5, "fillColor": "#cfe8c4", "fillOpacity": 1},
    "major_street": {"color": "#8c8c8c", "weight": 4},
    "street": {"color": "#a6a6a6", "weight": 2.5},
    "path": {"color": "#c2c2c2", "weight": 1, "dashArray": "3 3"},
    "rail": {"color": "#7a6a8a", "weight": 1.5, "dashArray": "6 3"},
}
MIN_ZOOM_BELOW_FIT = 3  # how far out past the whole extract a resident may zoom
CLUSTER_FROM = 300  # markers; below this every marker is shown on its own
SERVED_DIR = vendor.STATIC_DIR / "generated"  # the map's data as scripts, served by the app (git-ignored)
SERVED_URL = "/app/static/generated"
SERVED_KEEP = 8  # data scripts kept (the newest); older ones are removed when a new one is written
DETAIL_COLUMNS = ["address", "website", "phone", "opening_hours", "note"]


@dataclass(frozen=True)
class CategoryPayload:
    id: str
    label_html: str
    category_json: str
    rows_json: str
    shapes_json: str
    count: int


@dataclass(frozen=True)
class MapData:
    """Everything the map needs, already serialised."""

    categories: tuple[CategoryPayload, ...]
    basemap_json: str
    bounds: tuple[float, float, float, float]  # west, south, east, north

    @property
    def payload_bytes(self) -> int:
        return len(self.basemap_json) + sum(
            len(c.rows_json) + len(c.shapes_json) + len(c.category_json) for c in self.categories
        )


def _clean(value: object) -> object:
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, float) and np.isnan(value):
        return ""
    return str(value)


_ID_PREFIXES = {"osm:node/": "n", "osm:way/": "w", "osm:relation/": "r", "community:": "c"}


def compact_id(asset_id: str) -> str:
    """ "osm:way/123" -> "w123": a few bytes less per marker, which adds up at 10,000 markers."""
    for prefix, short in _ID_PREFIXES.items():
        if asset_id.startswith(prefix):
            return short + asset_id[len(prefix) :]
    return asset_id


def _rows(frame: gpd.GeoDataFrame) -> list[list[object]]:
    xs, ys = geodesy.representative_xy(np.asarray(frame.geometry.values))
    xs = np.round(xs, COORD_DECIMALS)
    ys = np.round(ys, COORD_DECIMALS)
    names = [_clean(v) for v in frame["name"].tolist()]
    ids = [compact_id(v) for v in frame["id"].astype(str).tolist()]
    details = [[_clean(v) for v in frame[col].tolist()] for col in DETAIL_COLUMNS if col in frame]
    rows: list[list[object]] = []
    for i in range(len(frame)):
        row: list[object] = [float(ys[i]), float(xs[i]), names[i], ids[i]]
        extra = [col[i] for col in details]
        while extra and not extra[-1]:
            extra.pop()
        rows.append(row + extra)
    return rows


def _shapes(frame: gpd.GeoDataFrame) -> dict[str, object]:
    geoms = np.asarray(frame.geometry.values)
    is_area = np.isin(shapely.get_type_id(geoms), [3, 6])
    features = []
    for i in np.flatnonzero(is_area):
        geom = shapely.set_precision(geoms[i], 10**-COORD_DECIMALS)
        if geom.is_empty:
            continue
        features.append({"type": "Feature", "properties": {"i": int(i)}, "geometry": shapely.geometry.mapping(geom)})
    return {"type": "FeatureCollection", "features": features}


def _basemap_json(basemap: gpd.GeoDataFrame) -> str:
    features = []
    if len(basemap):
        for kind, part in basemap.groupby("kind"):
            geoms = shapely.set_precision(shapely.make_valid(part.geometry.to_numpy()), 10**-COORD_DECIMALS)
            merged = shapely.GeometryCollection([g for g in geoms if not g.is_empty])
            features.append(
                {"type": "Feature", "properties": {"k": kind}, "geometry": shapely.geometry.mapping(merged)}
            )
    return script_json({"type": "FeatureCollection", "features": features})


def prepare(
    assets: gpd.GeoDataFrame, basemap: gpd.GeoDataFrame, bounds: tuple[float, float, float, float] | None = None
) -> MapData:
    payloads = []
    by_cat = dict(tuple(assets.groupby("category", sort=False))) if len(assets) else {}
    for cat in categories.load_categories():
        frame = cast(gpd.GeoDataFrame, by_cat.get(cat.id, assets.iloc[0:0]))  # groups of a GeoDataFrame
        payloads.append(
            CategoryPayload(
                id=cat.id,
                label_html=elements.legend_label(cat.symbol, cat.colour, cat.label, len(frame)),
                category_json=script_json(
                    {"id": cat.id, "label": cat.label, "symbol": cat.symbol, "colour": cat.colour, "item": cat.item}
                ),
                rows_json=script_json(_rows(frame)),
                shapes_json=script_json(_shapes(frame)),
                count=len(frame),
            )
        )
    if bounds is None:
        west, south, east, north = map(float, assets.total_bounds) if len(assets) else (-180.0, -85.0, 180.0, 85.0)
        bounds = (west, south, east, north)
    return MapData(categories=tuple(payloads), basemap_json=_basemap_json(basemap), bounds=bounds)


def zoom_to_fit(bounds: tuple[float, float, float, float], width_px: int = 900, height_px: int = 560) -> int:
    """The largest web-map zoom at which the bounds fit the given pixel size.

    Worked out here rather than by Leaflet's fitBounds, which runs while the map's frame can
    still be 0 px high and then zooms out to the whole world.
    """
    west, south, east, north = bounds
    lon_span = max(east - west, 1e-6)
    y0, y1 = (math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) for lat in (south, north))
    merc_span = max(y1 - y0, 1e-9)
    zoom_x = math.log2(width_px * 360 / (256 * lon_span))
    zoom_y = math.log2(height_px * 2 * math.pi / (256 * merc_span))
    return int(max(2, min(18, math.floor(min(zoom_x, zoom_y)))))


def publish(data: MapData, folder: Path | None = None) -> str:
    """Write the map's libraries (vendor.BUNDLE) and its data (base map, every category's rows
    and shapes) as one script the app serves, named by its content, and return its URL. A map
    built with `served_url` loads it once when it first shows, instead of carrying ~0.5 MB for
    10,000 assets in every rerun's message; one file, because streamlit-folium loads a map's
    scripts one after another (libraries, then data, would be two round trips)."""
    folder = folder or SERVED_DIR
    libraries = vendor.ensure_bundle().read_text(encoding="utf-8")
    body = "".join(
        [
            libraries,
            "\n;\n(window.ourPatchData=window.ourPatchData||{})[",
            script_json(_digest(data)),
            "]={b:",
            data.basemap_json,
            ",r:[",
            ",".join(c.rows_json for c in data.categories),
            "],s:[",
            ",".join(c.shapes_json for c in data.categories),
            "]};\n",
        ]
    )
    name = f"map-{hashlib.sha256(body.encode()).hexdigest()[:20]}.js"
    path = folder / name
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        staging = folder / f".{name}.{os.getpid()}.tmp"
        staging.write_text(body, encoding="utf-8")
        os.replace(staging, path)  # atomic: a browser never reads half a file
        for old in sorted(folder.glob("map-*.js"), key=lambda p: p.stat().st_mtime, reverse=True)[SERVED_KEEP:]:
            old.unlink(missing_ok=True)
    return f"{SERVED_URL}/{name}"


def _digest(data: MapData) -> str:
    parts = [data.basemap_json, *(c.rows_json + "\x00" + c.shapes_json for c in data.categories)]
    return hashlib.sha256("\x01".join(parts).encode()).hexdigest()[:20]


class _InstantDrawings(RenderOnce):
    """Tells Streamlit about a finished (or deleted) drawing at once. streamlit-folium waits
    250 ms after every map event before it reports; this sends the same value it would (its
    `returned_objects` of all_drawings, last_active_drawing, last_clicked, in its order) straight
    away and records it as sent, so streamlit-folium's own report, when it comes, sends nothing.
    Without streamlit-folium's state in the page (window.__GLOBAL_DATA__) it does nothing."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.on('draw:created draw:deleted', function () {
          setTimeout(function () {
            var g = window.__GLOBAL_DATA__;
            if (!g || !g.returned_objects || !window.parent) { return; }
            var known = {last_clicked: g.lat_lng_clicked, all_drawings: g.all_drawings,
                         last_active_drawing: g.last_active_drawing};
            var value = {};
            for (var key in known) {
              if (g.returned_objects.indexOf(key) >= 0) { value[key] = known[key]; }
            }
            if (Object.keys(value).length !== g.returned_objects.length) { return; }
            if (JSON.stringify(g.previous_data) === JSON.stringify(value)) { return; }
            g.previous_data = value;
            window.parent.postMessage({isStreamlitMessage: true, type: 'streamlit:setComponentValue',
                                       value: value, dataType: 'json'}, '*');
          }, 0);
        });
        {% endmacro %}
    """)

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca's MacroElement.__init__ is unannotated
        self._name = "InstantDrawings"


def build_map(
    data: MapData,
    *,
    hidden: frozenset[str] = frozenset(),
    draw: bool = True,
    pick_start: bool = False,
    legend: bool = True,
    served_url: str | None = None,
    instant_drawings: bool = False,
) -> folium.Map:
    """A fresh map. With `served_url` (from `publish`) the layers read their data from that
    script; without it, the data is written into the map's own script. `instant_drawings`
    reports a finished drawing without streamlit-folium's 250 ms wait. `legend=False` leaves
    the map key out (small maps beside a form)."""
    west, south, east, north = data.bounds
    fit = zoom_to_fit(data.bounds)
    fmap = vendor.OfflineMap(
        location=[(south + north) / 2, (west + east) / 2],
        zoom_start=fit,
        tiles=None,
        control_scale=True,
        max_zoom=19,
        prefer_canvas=False,
    )
    # folium passes min_zoom/max_zoom to its own tile layer only, never to the map, so they are
    # set here: clustering needs maxZoom, also without tiles. Zooming out far past the extract
    # shows nothing more, and each level allowed is one more level of clusters to build.
    fmap.options["maxZoom"] = 19
    fmap.options["minZoom"] = max(0, fit - MIN_ZOOM_BELOW_FIT)
    url = settings.tile_url()
    if url:
        folium.TileLayer(
            tiles=url, attr=settings.tile_attribution(), name="Background map", max_zoom=19, control=False
        ).add_to(fmap)
    served = f"window.ourPatchData[{script_json(_digest(data))}]" if served_url else None
    elements.BasemapLayer(
        data_json=f"{served}.b" if served else data.basemap_json,
        styles_json=script_json(BASEMAP_STYLES),
        attribution_json=script_json(settings.OSM_ATTRIBUTION),
    ).add_to(fmap)
    elements.MapHelpers().add_to(fmap)
    if pick_start:
        elements.PickStart().add_to(fmap)
    clustered = sum(p.count for p in data.categories) >= CLUSTER_FROM
    for i, payload in enumerate(data.categories):
        elements.CategoryLayer(
            label_html=payload.label_html,
            category_json=payload.category_json,
            rows_json=f"{served}.r[{i}]" if served else payload.rows_json,
            shapes_json=f"{served}.s[{i}]" if served else payload.shapes_json,
            clustered=clustered,
            show=payload.id not in hidden,
        ).add_to(fmap)
    if legend:  # a small map (a moderator's, beside the details) shows the asset, not the key
        elements.Legend([p.label_html for p in data.categories if p.id not in hidden]).add_to(fmap)
    if draw:
        vendor.OfflineDraw(  # type: ignore[no-untyped-call]  # folium's Draw.__init__ is unannotated
            export=False,
            show_geometry_on_click=False,
            position="topleft",
            draw_options={
                "polyline": False,
                "marker": False,
                "circlemarker": False,
                "polygon": {
                    "allowIntersection": False,
                    "showArea": True,
                    "shapeOptions": {"color": "#1d70b8", "weight": 3},
                },
                "rectangle": {"shapeOptions": {"color": "#1d70b8", "weight": 3}},
                "circle": {"shapeOptions": {"color": "#1d70b8", "weight": 3}},
            },
            edit_options={"edit": False, "remove": True},
        ).add_to(fmap)
        if instant_drawings:
            _InstantDrawings().add_to(fmap)
    if served_url:
        _load_libraries_from(fmap, served_url)
    return fmap


def _load_libraries_from(fmap: folium.Map, url: str) -> None:
    """Every element that asks for the libraries' script (vendor.BUNDLE_JS) gets the served file
    instead, which holds them and the data (see `publish`): the map then asks for one script."""
    name = vendor.BUNDLE_JS[0]

    def walk(element: Element) -> None:
        if isinstance(element, JSCSSMixin) and any(n == name for n, _ in element.default_js):
            element.default_js = [(n, url if n == name else u) for n, u in element.default_js]  # this element only
        for child in getattr(element, "_children", {}).values():
            walk(child)

    walk(fmap)


def highlight_group(
    items: pd.DataFrame,
    assets: gpd.GeoDataFrame,
    *,
    area: BaseGeometry | None = None,
    origin: tuple[float, float] | None = None,
    targets: list[tuple[float, float]] | None = None,
) -> folium.FeatureGroup:
    """A feature group showing the local (streamlit-folium adds it without reloading the map):
    its outline, rings round the assets found, the start (lon, lat) and lines to `targets`."""
    group = folium.FeatureGroup(name="Your local", control=False)
    points = np.round(items[["lat", "lon"]].to_numpy(dtype=float), COORD_DECIMALS).tolist()
    wanted = assets[assets["id"].isin(items["id"])]
    area_geo = shapely.geometry.mapping(shapely.set_precision(area, 10**-COORD_DECIMALS)) if area is not None else None
    elements.HighlightLayer(
        points_json=script_json(points),
        shapes_json=script_json(_shapes(wanted)),
        area_json=script_json(area_geo),
        origin_json=script_json([origin[1], origin[0]] if origin else None),
        targets_json=script_json([[lat, lon] for lon, lat in (targets or [])]),
    ).add_to(group)
    return group


def script_urls(fmap: folium.Map) -> list[str]:
    """Every script and stylesheet URL the map will load (for the no-CDN check)."""
    urls: list[str] = []

    def walk(el: Element) -> None:
        urls.extend(u for _, u in getattr(el, "default_js", []))
        urls.extend(u for _, u in getattr(el, "default_css", []))
        for child in getattr(el, "_children", {}).values():
            walk(child)

    walk(fmap)
    return list(dict.fromkeys(urls))
