"""Turning what a user gives as "my local" into one checked WGS84 (Multi)Polygon.

Accepted: a GeoJSON Feature, FeatureCollection (the union of its polygons) or bare geometry,
and Leaflet.draw's circle (a Point feature with a `radius` property in metres).
Everything is checked at the door; every refusal is one sentence.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import shapely
from pyproj import CRS, Transformer
from shapely.geometry import MultiPolygon, Point, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import transform, unary_union
from shapely.validation import explain_validity

from layers.errors import BadInputError

MAX_AREA_FILE_BYTES = 20 * 1024 * 1024
MAX_VERTICES = 200_000
MAX_CIRCLE_RADIUS_M = 50_000.0
AreaGeometry = Polygon | MultiPolygon


def read_area_file(path: Path | str) -> AreaGeometry:
    p = Path(path)
    if not p.exists():
        raise BadInputError(f"No such file: {p}.")
    if not p.is_file():
        raise BadInputError(f"{p} is a folder, not a GeoJSON file.")
    size = p.stat().st_size
    if size == 0:
        raise BadInputError(f"{p.name} is empty; it should hold a GeoJSON polygon.")
    if size > MAX_AREA_FILE_BYTES:
        limit_mb = MAX_AREA_FILE_BYTES // (1024 * 1024)
        raise BadInputError(f"{p.name} is larger than {limit_mb} MB; an area file should be small.")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{p.name} is not GeoJSON (it is not UTF-8 text).") from exc
    return parse_area_text(text, origin=p.name)


def parse_area_text(text: str, *, origin: str = "The area") -> AreaGeometry:
    try:
        obj = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise BadInputError(f"{origin} is not GeoJSON (not valid JSON: {exc}).") from exc
    return parse_area(obj, origin=origin)


def parse_area(obj: Any, *, origin: str = "The area") -> AreaGeometry:
    """One checked polygon or multipolygon from a GeoJSON-like object.

    RFC 7946 GeoJSON is WGS84 longitude/latitude. Older files may name another CRS in a `crs`
    member (GeoJSON 2008, e.g. EPSG:27700 from a UK GIS): those are transformed to WGS84.
    """
    if not isinstance(obj, dict) or "type" not in obj:
        raise BadInputError(f"{origin} is not GeoJSON (no 'type' member).")
    to_wgs84 = _declared_crs_transform(obj, origin)
    geometries = _geometries(obj, origin)
    if to_wgs84 is not None:
        geometries = [_transformed(g, to_wgs84, origin) for g in geometries]
    polygons = [_as_area(geom, origin) for geom in geometries]
    polygons = [p for p in polygons if p is not None]
    if not polygons:
        raise BadInputError(f"{origin} holds no polygon; draw or give an area, not just points or lines.")
    area = polygons[0] if len(polygons) == 1 else unary_union(polygons)
    if isinstance(area, Polygon | MultiPolygon):
        return area
    raise BadInputError(f"{origin} does not make a single area.")


def _declared_crs_transform(obj: dict[str, Any], origin: str) -> Transformer | None:
    declared = obj.get("crs")
    if declared is None:
        return None
    name = (declared.get("properties") or {}).get("name") if isinstance(declared, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise BadInputError(f"{origin} has a 'crs' member without a CRS name.")
    try:
        crs = CRS.from_user_input(name.strip())
    except Exception as exc:  # pyproj raises CRSError, a plain exception subclass
        raise BadInputError(f"{origin} names a CRS that is not known: {name[:80]!r}.") from exc
    if crs.is_geographic and crs.ellipsoid is not None and "WGS 84" in crs.ellipsoid.name:
        return None  # WGS84 degrees: GeoJSON practice is longitude first, whatever the CRS's axis order
    return Transformer.from_crs(crs, "EPSG:4326", always_xy=True)


def _transformed(geom_obj: dict[str, Any], transformer: Transformer, origin: str) -> dict[str, Any]:
    if geom_obj.get("type") not in {"Polygon", "MultiPolygon"}:
        return geom_obj
    try:
        geom = shape(geom_obj)
    except Exception as exc:  # shapely raises several types on malformed coordinates
        raise BadInputError(f"{origin} has coordinates that are malformed ({exc}).") from exc
    moved = transform(transformer.transform, geom)
    return dict(shapely.geometry.mapping(moved))


def from_wkt(text: str) -> AreaGeometry:
    """A stored area back from WKT (saved locals keep theirs so they reopen unchanged)."""
    geom = shapely.from_wkt(text)
    if not isinstance(geom, Polygon | MultiPolygon):
        raise BadInputError("That saved area is not a polygon.")
    return geom


def circle(lon: float, lat: float, radius_m: float) -> Polygon:
    """A geodesically correct circle: buffered in a local azimuthal-equidistant projection."""
    _check_lon_lat(lon, lat, "The circle's centre")
    if not math.isfinite(radius_m) or radius_m <= 0:
        raise BadInputError("A circle needs a radius greater than 0 metres.")
    if radius_m > MAX_CIRCLE_RADIUS_M:
        raise BadInputError(f"A circle can be at most {MAX_CIRCLE_RADIUS_M / 1000:.0f} km across its radius.")
    local = CRS.from_proj4(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m")
    back = Transformer.from_crs(local, "EPSG:4326", always_xy=True)
    disc = Point(0, 0).buffer(radius_m, quad_segs=32)
    return transform(back.transform, disc)


def _geometries(obj: dict[str, Any], origin: str) -> list[dict[str, Any]]:
    kind = obj.get("type")
    if kind == "FeatureCollection":
        features = obj.get("features")
        if not isinstance(features, list):
            raise BadInputError(f"{origin}: a FeatureCollection needs a 'features' list.")
        out: list[dict[str, Any]] = []
        for n, feature in enumerate(features, start=1):
            out.extend(_geometries_of_feature(feature, f"{origin}, feature {n}"))
        return out
    if kind == "Feature":
        return _geometries_of_feature(obj, origin)
    if kind == "GeometryCollection":
        geoms = obj.get("geometries")
        if not isinstance(geoms, list):
            raise BadInputError(f"{origin}: a GeometryCollection needs a 'geometries' list.")
        return [g for g in geoms if isinstance(g, dict)]
    return [obj]


def _geometries_of_feature(feature: Any, origin: str) -> list[dict[str, Any]]:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise BadInputError(f"{origin} is not a GeoJSON Feature.")
    geom = feature.get("geometry")
    if geom is None:
        return []
    if not isinstance(geom, dict):
        raise BadInputError(f"{origin} has a geometry that is not a GeoJSON object.")
    radius = (feature.get("properties") or {}).get("radius")
    if geom.get("type") == "Point" and radius is not None:
        lon, lat = _point_coords(geom, origin)
        try:
            r = float(radius)
        except (TypeError, ValueError) as exc:
            raise BadInputError(f"{origin}: the circle's radius is not a number.") from exc
        return [shapely.geometry.mapping(circle(lon, lat, r))]
    return [geom]


def _point_coords(geom: dict[str, Any], origin: str) -> tuple[float, float]:
    coords = geom.get("coordinates")
    if not (isinstance(coords, list | tuple) and len(coords) >= 2):
        raise BadInputError(f"{origin}: the circle's centre has no coordinates.")
    try:
        return float(coords[0]), float(coords[1])
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"{origin}: the circle's centre has coordinates that are not numbers.") from exc


def _as_area(geom_obj: dict[str, Any], origin: str) -> AreaGeometry | None:
    kind = geom_obj.get("type")
    if kind not in {"Polygon", "MultiPolygon", "Point", "MultiPoint", "LineString",
                    "MultiLineString", "GeometryCollection"}:
        raise BadInputError(f"{origin} has an unknown geometry type {str(kind)[:40]!r}.")
    if kind not in {"Polygon", "MultiPolygon"}:
        return None
    try:
        geom: BaseGeometry = shape(geom_obj)
    except Exception as exc:  # shapely raises several types on malformed coordinates
        raise BadInputError(f"{origin} has a {kind} whose coordinates are malformed ({exc}).") from exc
    if geom.is_empty:
        raise BadInputError(f"{origin} has an empty {kind}.")
    coords = shapely.get_coordinates(geom)
    if len(coords) > MAX_VERTICES:
        raise BadInputError(f"{origin} has more than {MAX_VERTICES:,} points; simplify it first.")
    if not shapely.is_valid_input(geom) or not coords.size or not all(map(math.isfinite, coords.ravel())):
        raise BadInputError(f"{origin} has coordinates that are not numbers.")
    lon_ok = (coords[:, 0] >= -180) & (coords[:, 0] <= 180)
    lat_ok = (coords[:, 1] >= -90) & (coords[:, 1] <= 90)
    if not (lon_ok.all() and lat_ok.all()):
        bad = coords[~(lon_ok & lat_ok)][0]
        hint = (" These look like projected coordinates in metres; say which CRS in a 'crs' member or "
                "convert the file to WGS84.") if abs(bad).max() > 1000 else ""
        raise BadInputError(
            f"{origin} has a point out of range ({bad[0]:g}, {bad[1]:g}): GeoJSON is longitude "
            f"-180..180 then latitude -90..90, in WGS84 degrees.{hint}"
        )
    if not geom.is_valid:
        reason = explain_validity(geom)
        if "Self-intersection" in reason or "Ring Self-intersection" in reason:
            raise BadInputError(
                f"{origin} is a self-intersecting polygon ({reason}); redraw it without crossing edges."
            )
        raise BadInputError(f"{origin} is not a valid polygon ({reason}).")
    if geom.area == 0:
        raise BadInputError(f"{origin} has a polygon with no area.")
    assert isinstance(geom, Polygon | MultiPolygon)
    return geom


def _check_lon_lat(lon: float, lat: float, what: str) -> None:
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise BadInputError(f"{what} ({lon:g}, {lat:g}) is out of range for longitude, latitude.")
