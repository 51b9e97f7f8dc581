"""The asset layers a user sees: the current OSM extract plus published community assets."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from layers import schema, settings, store
from layers.groups import community
from layers.osm import sources


def _files_version() -> str:
    """Changes when another area is prepared in the data folder (or the default is rebuilt)."""
    parts = []
    for path in (
        settings.data_dir() / sources.EXTRACT_DIRNAME / sources.META_FILE,
        settings.data_dir() / "default" / sources.META_FILE,
    ):
        parts.append(f"{path.stat().st_mtime_ns}" if path.exists() else "-")
    return "|".join(parts)


def extract_version() -> str:
    """Changes when another area is loaded (or the default is rebuilt). A region loaded into
    PostGIS (layers/osm/osm2pgsql.py) is followed by the store's `osm_load` data version, read
    over the store's kept connection (no new connection per page run)."""
    if settings.database_url():
        from layers.osm import osm2pgsql

        return f"{_files_version()}|{osm2pgsql.version()}"
    return _files_version()


def version() -> str:
    """Changes whenever the layers a user sees may change: a new load, or a change residents can
    see to a community asset. Other writes (pending edits, saved locals, sign-ins) leave it
    alone, so caches keyed on it hold. Both stamps come from one read of the store."""
    return f"{_files_version()}|{store.layers_version()}"


def all_assets(extract: sources.Extract | None = None) -> gpd.GeoDataFrame:
    """OSM assets and published community assets, each with what published groups say about it
    ("Cared for by …", "Meeting place of …")."""
    extract = extract or sources.current()
    osm = extract.assets
    names = dict(zip(osm["id"], osm["name"].fillna(osm["category"]).astype(str), strict=True))
    groups = community.published_layer(names)
    merged = (
        osm
        if len(groups) == 0
        else schema.conform_assets(
            gpd.GeoDataFrame(pd.concat([osm, groups], ignore_index=True), geometry="geometry", crs=schema.WGS84)
        )
    )
    back = community.back_links()
    if not back:
        return merged
    merged = merged.copy()
    said = merged["id"].map(back)
    has_note = merged["note"].notna() & (merged["note"].astype(str) != "")
    combined = said.where(~has_note, merged["note"].astype(str) + " · " + said)
    merged["note"] = combined.where(said.notna(), merged["note"])
    return merged
