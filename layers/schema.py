"""The one shape every asset layer has, whatever its source."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

WGS84 = "EPSG:4326"

# Column order of an asset GeoDataFrame. `id` is "osm:<type>/<id>" or "community:<n>".
ASSET_COLUMNS = [
    "id",
    "source",
    "osm_type",
    "osm_id",
    "name",
    "category",
    "address",
    "website",
    "phone",
    "opening_hours",
    "note",  # what community groups say about it: links, meeting times, freshness
]

BASEMAP_KINDS = ("water", "green", "major_street", "street", "path", "rail")


def empty_assets() -> gpd.GeoDataFrame:
    frame = pd.DataFrame({col: pd.Series(dtype=object) for col in ASSET_COLUMNS})
    frame["osm_id"] = frame["osm_id"].astype("Int64")
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=WGS84), crs=WGS84)


def conform_assets(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Columns in the agreed order and types, WGS84, a fresh 0..n-1 index."""
    out = frame.copy()
    for col in ASSET_COLUMNS:
        if col not in out.columns:
            out[col] = None
    out["osm_id"] = out["osm_id"].astype("Int64")
    out = gpd.GeoDataFrame(out[[*ASSET_COLUMNS, "geometry"]], geometry="geometry")
    if out.crs is None:
        out = out.set_crs(WGS84)
    elif out.crs.to_epsg() != 4326:
        out = out.to_crs(WGS84)
    return out.reset_index(drop=True)
