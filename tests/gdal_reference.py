"""An independent answer to "what is inside this area", for checking ours.

It reads the same .osm.pbf with GDAL's OSM driver (through pyogrio) instead of pyrosm, parses
the tags itself and tests every feature one by one with shapely, so it shares no code with
layers/analysis/query.py or layers/osm/sources.py; only the category table (data) is common.
"""

from __future__ import annotations

import re
import tomllib
import warnings
from pathlib import Path

import pyogrio
from shapely.geometry.base import BaseGeometry

from layers.settings import CATEGORIES_FILE

_HSTORE = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')
# GDAL's default osmconf.ini puts these keys in their own columns rather than other_tags.
_COLUMN_KEYS = ["amenity", "leisure", "landuse", "name"]


def _tags(row: dict) -> dict[str, str]:
    tags = {k: row[k] for k in _COLUMN_KEYS if k in row and isinstance(row[k], str)}
    other = row.get("other_tags")
    if isinstance(other, str):
        for key, value in _HSTORE.findall(other):
            tags[key] = value
    return tags


def _category(tags: dict[str, str], table: list[dict]) -> str | None:
    for cat in table:
        for key, values in cat.get("match", {}).items():
            if key in tags and ("*" in values or tags[key] in values):
                return cat["id"]
    return None


def osm_features(pbf: Path) -> list[tuple[str, int, str, BaseGeometry]]:
    """(osm_type, osm_id, category, geometry) for every categorised feature GDAL finds."""
    table = tomllib.loads(CATEGORIES_FILE.read_text())["category"]
    out: list[tuple[str, int, str, BaseGeometry]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for layer in ("points", "lines", "multipolygons"):
            frame = pyogrio.read_dataframe(pbf, layer=layer, on_invalid="ignore")
            for row in frame.to_dict(orient="records"):
                geom = row["geometry"]
                cat = _category(_tags(row), table)
                if cat is None or geom is None or geom.is_empty:
                    continue
                if layer == "points":
                    out.append(("node", int(row["osm_id"]), cat, geom))
                elif layer == "lines":
                    out.append(("way", int(row["osm_id"]), cat, geom))
                elif row.get("osm_way_id") is not None and str(row["osm_way_id"]) not in ("", "nan", "None"):
                    out.append(("way", int(float(row["osm_way_id"])), cat, geom))
                else:
                    out.append(("relation", int(row["osm_id"]), cat, geom))
    return out


def inside(features: list[tuple[str, int, str, BaseGeometry]], area: BaseGeometry) -> set[tuple[str, int]]:
    return {(t, i) for t, i, _c, g in features if g.intersects(area)}
