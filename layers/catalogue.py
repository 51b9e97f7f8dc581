"""The asset layers a user sees: the current OSM extract plus published community assets."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from layers import community, schema, settings, sources, store


def version() -> str:
    """Changes whenever the layers a user sees change: a new load or a store write."""
    parts = []
    for path in (settings.data_dir() / sources.EXTRACT_DIRNAME / sources.META_FILE,
                 settings.data_dir() / "default" / sources.META_FILE,
                 store.db_path(), store.db_path().with_name(store.DB_FILENAME + "-wal")):
        parts.append(f"{path.stat().st_mtime_ns}" if path.exists() else "-")
    return "|".join(parts)


def all_assets(extract: sources.Extract | None = None) -> gpd.GeoDataFrame:
    """OSM assets (with what published groups say about them) and published community assets."""
    extract = extract or sources.current()
    osm = extract.assets
    back = community.back_links()
    if back:
        osm = osm.copy()
        osm["note"] = osm["id"].map(back).where(osm["id"].isin(list(back)), osm["note"])
    names = dict(zip(osm["id"], osm["name"].fillna(osm["category"]).astype(str), strict=True))
    groups = community.published_layer(names)
    if len(groups) == 0:
        return osm
    merged = pd.concat([osm, groups], ignore_index=True)
    return schema.conform_assets(gpd.GeoDataFrame(merged, geometry="geometry", crs=schema.WGS84))
