"""The asset layers a user sees: the current OSM extract plus published community assets."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from layers import schema, settings, sources, store


def version() -> str:
    """Changes whenever the layers a user sees change: a new load or a store write."""
    parts = []
    for path in (settings.data_dir() / sources.EXTRACT_DIRNAME / sources.META_FILE,
                 settings.data_dir() / "default" / sources.META_FILE,
                 store.db_path(), store.db_path().with_name(store.DB_FILENAME + "-wal")):
        parts.append(f"{path.stat().st_mtime_ns}" if path.exists() else "-")
    return "|".join(parts)


def all_assets(extract: sources.Extract | None = None) -> gpd.GeoDataFrame:
    extract = extract or sources.current()
    community = store.published_assets()
    if len(community) == 0:
        return extract.assets
    merged = pd.concat([extract.assets, community], ignore_index=True)
    return schema.conform_assets(gpd.GeoDataFrame(merged, geometry="geometry", crs=schema.WGS84))
