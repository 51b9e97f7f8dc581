"""Asset layers as RFC 7946 GeoJSON: WGS84 lon/lat, right-hand-rule rings, plain JSON values."""

from __future__ import annotations

import json
import math
from typing import Any

import geopandas as gpd
import shapely
from shapely.geometry import mapping

from layers import settings

PROPERTY_COLUMNS = [
    "id",
    "name",
    "category",
    "source",
    "osm_type",
    "osm_id",
    "address",
    "website",
    "phone",
    "opening_hours",
]


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        value = value.item()
    try:
        import pandas as pd

        if value is pd.NA:
            return None
    except ImportError:  # pragma: no cover
        pass
    return value


def feature_collection(assets: gpd.GeoDataFrame, *, extra: list[str] | None = None) -> dict[str, Any]:
    cols = [c for c in [*PROPERTY_COLUMNS, *(extra or [])] if c in assets.columns]
    geoms = shapely.orient_polygons(assets.geometry.values, exterior_cw=False)
    features = []
    records = assets[cols].to_dict(orient="records")
    for geom, record in zip(geoms, records, strict=True):
        props = {k: _plain(v) for k, v in record.items()}
        if props.get("source") != "osm":
            props.pop("osm_type", None)
            props.pop("osm_id", None)
        features.append({"type": "Feature", "id": props["id"], "geometry": mapping(geom), "properties": props})
    return {
        "type": "FeatureCollection",
        "attribution": settings.OSM_ATTRIBUTION,
        "licence": settings.OSM_LICENCE,
        "features": features,
    }


def dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, allow_nan=False)
