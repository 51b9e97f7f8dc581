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
    """OSM assets and published community assets, each with what published groups say about it
    ("Cared for by …", "Meeting place of …")."""
    extract = extract or sources.current()
    osm = extract.assets
    names = dict(zip(osm["id"], osm["name"].fillna(osm["category"]).astype(str), strict=True))
    groups = community.published_layer(names)
    merged = osm if len(groups) == 0 else schema.conform_assets(
        gpd.GeoDataFrame(pd.concat([osm, groups], ignore_index=True), geometry="geometry", crs=schema.WGS84))
    back = community.back_links()
    if not back:
        return merged
    merged = merged.copy()
    said = merged["id"].map(back)
    has_note = merged["note"].notna() & (merged["note"].astype(str) != "")
    combined = said.where(~has_note, merged["note"].astype(str) + " · " + said)
    merged["note"] = combined.where(said.notna(), merged["note"])
    return merged
