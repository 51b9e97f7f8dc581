"""Turning what a user gives as "my local" into one checked WGS84 (Multi)Polygon.

Accepted: a GeoJSON Feature, FeatureCollection (the union of its polygons) or bare geometry,
and Leaflet.draw's circle (a Point feature with a `radius` property in metres).
Everything is checked at the door; every refusal is one sentence.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import MultiPolygon, Point, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import transform, unary_union
from shapely.validation import explain_validity

from layers import geodesy, settings
from layers.errors import BadInputError, LimitError

MAX_CIRCLE_RADIUS_M = 50_000.0
AreaGeometry = Polygon | MultiPolygon


def _limit_mb(limit: int) -> str:
    return f"{limit / (1024 * 1024):g} MB"


def read_limited(stream: Any, origin: str) -> str:
    """Text from a binary stream (standard input), refused past the area file limit without
    reading more than one byte beyond it."""
    limit = settings.max_area_file_bytes
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise LimitError(f"{origin} is larger than {_limit_mb(limit)}; an area file should be small.")
    if not data:
        raise BadInputError(f"{origin} is empty; it should hold a GeoJSON polygon.")
    try:
        return bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{origin} is not GeoJSON (it is not UTF-8 text).") from exc


def read_area_file(path: Path | str, *, resident: bool = True) -> AreaGeometry:
    p = Path(path)
    if not p.exists():
        raise BadInputError(f"No such file: {p}.")
    if not p.is_file():
        raise BadInputError(f"{p} is a folder, not a GeoJSON file.")
    size = p.stat().st_size
    if size == 0:
        raise BadInputError(f"{p.name} is empty; it should hold a GeoJSON polygon.")
    if size > settings.max_area_file_bytes:
        raise LimitError(
            f"{p.name} is larger than {_limit_mb(settings.max_area_file_bytes)}; an area file should be small."
        )
    with p.open("rb") as fh:
        text = read_limited(fh, p.name)
    return parse_area_text(text, origin=p.name, resident=resident)


def parse_area_text(text: str, *, origin: str = "The area", resident: bool = True) -> AreaGeometry:
    try:
        obj = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise BadInputError(f"{origin} is not GeoJSON (not valid JSON: {exc}).") from exc
    return parse_area(obj, origin=origin, resident=resident)


def parse_area(obj: Any, *, origin: str = "The area", resident: bool = True) -> AreaGeometry:
    """One checked polygon or multipolygon from a GeoJSON-like object.

    RFC 7946 GeoJSON is WGS84 longitude/latitude. Older files may name another CRS in a `crs`
    member (GeoJSON 2008, e.g. EPSG:27700 from a UK GIS): those are transformed to WGS84.
    Every coordinate (heights too) must be a finite number; heights are dropped. A resident's
    area (a drawing, a `within` area, a saved local) is held to settings.max_area_shapes,
    max_area_vertices and max_area_km2; a planner's boundary (`resident=False`) only to
    settings.max_import_vertices.
    """
    if not isinstance(obj, dict) or "type" not in obj:
        raise BadInputError(f"{origin} is not GeoJSON (no 'type' member).")
    to_wgs84 = _declared_crs_transform(obj, origin)
    raw = _geometries(obj, origin, max_shapes=settings.max_area_shapes if resident else None)
    budget = [settings.max_area_vertices if resident else settings.max_import_vertices]
    for geom_obj in raw:
        if geom_obj.get("type") in {"Polygon", "MultiPolygon"} and "_circle" not in geom_obj:
            check_positions(geom_obj.get("coordinates"), origin, budget, resident=resident)
    geometries = [_circle_of(g, origin) if "_circle" in g else g for g in raw]
    if to_wgs84 is not None:
        geometries = [_transformed(g, to_wgs84, origin) for g in geometries]
    polygons: list[AreaGeometry] = [p for p in (_as_area(geom, origin) for geom in geometries) if p is not None]
    if not polygons:
        raise BadInputError(f"{origin} holds no polygon; draw or give an area, not just points or lines.")
    if resident:
        total_km2 = float(sum(geodesy.area_m2(p) for p in polygons)) / 1e6
        if total_km2 > settings.max_area_km2:
            raise LimitError(
                f"{origin} covers {total_km2:,.0f} km², more than the {settings.max_area_km2:,.0f} km² "
                "a local can cover; draw a smaller area."
            )
    area = polygons[0] if len(polygons) == 1 else unary_union(polygons)
    if isinstance(area, Polygon | MultiPolygon):
        return area
    raise BadInputError(f"{origin} does not make a single area.")


def check_positions(
    coords: Any, origin: str, budget: list[int], *, resident: bool = True, limit: int | None = None
) -> None:
    """Walk a GeoJSON `coordinates` array without building anything: every position is 2 to 4
    finite numbers, and there are no more than budget[0] of them (budget is shared between the
    shapes of one area, and decreased)."""
    stack = [coords]
    while stack:
        item = stack.pop()
        if not isinstance(item, list | tuple):
            raise BadInputError(f"{origin} has coordinates that are malformed (not lists of numbers).")
        if item and not isinstance(item[0], list | tuple):  # a position
            if not 2 <= len(item) <= 4 or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in item):
                raise BadInputError(
                    f"{origin} has coordinates that are malformed or not numbers (each position is 2 or 3 numbers)."
                )
            if not all(math.isfinite(v) for v in item):
                raise BadInputError(f"{origin} has coordinates that are not numbers (NaN or infinite).")
            budget[0] -= 1
            if budget[0] < 0:
                most = limit or (settings.max_area_vertices if resident else settings.max_import_vertices)
                raise LimitError(f"{origin} has more than {most:,} points; simplify it first.")
            continue
        stack.extend(item)


def _declared_crs_transform(obj: dict[str, Any], origin: str) -> Transformer | None:
    declared = obj.get("crs")
    if declared is None:
        return None
    properties = declared.get("properties") if isinstance(declared, dict) else None
    if isinstance(declared, dict) and (
        str(declared.get("type", "")).lower() == "link" or (isinstance(properties, dict) and "href" in properties)
    ):
        raise BadInputError(
            f"{origin} names its coordinate system by a link to fetch ('crs' of type link), which "
            "is never fetched; remove the 'crs' member (GeoJSON is WGS84) or name an EPSG code."
        )
    name = properties.get("name") if isinstance(properties, dict) else None
    if isinstance(name, str) and re.search(r"(?i)://|^\s*/vsi|^\s*@", name):
        raise BadInputError(
            f"{origin} names its coordinate system by an address to fetch, which is never fetched; "
            "name an EPSG code instead."
        )
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


def check_saved_area(area: BaseGeometry | str) -> AreaGeometry:
    """A local's area (a geometry, or WKT) as it is about to be saved: a finite polygon within the
    limits on points and size (so a saved local always reopens, and never weighs on the consensus
    layer)."""
    geom: Any = area
    if isinstance(area, str):
        try:
            with np.errstate(invalid="ignore"):  # NaN in the text is refused below, not warned about
                geom = shapely.from_wkt(area)
        except shapely.errors.GEOSException as exc:
            raise BadInputError("That local's area cannot be read; draw it again.") from exc
    if not isinstance(geom, Polygon | MultiPolygon) or geom.is_empty:
        raise BadInputError("A local's area must be a polygon; draw it again.")
    if shapely.get_num_coordinates(geom) > settings.max_area_vertices:
        raise LimitError(f"This local has more than {settings.max_area_vertices:,} points; draw it with fewer.")
    values = shapely.get_coordinates(geom, include_z=bool(shapely.has_z(geom)))
    in_range = (np.abs(values[:, 0]) <= 180).all() and (np.abs(values[:, 1]) <= 90).all()
    if not np.isfinite(values).all() or not in_range:
        raise BadInputError("That local's area has coordinates that are not longitude, latitude numbers.")
    km2 = geodesy.area_m2(geom) / 1e6
    if km2 > settings.max_area_km2:
        raise LimitError(
            f"This local covers {km2:,.0f} km², more than the {settings.max_area_km2:,.0f} km² a local "
            "can cover; draw a smaller area."
        )
    return geom


def from_wkt(text: str) -> AreaGeometry:
    """A stored area back from WKT (saved locals keep theirs so they reopen unchanged)."""
    try:
        geom = shapely.from_wkt(text)
    except shapely.errors.GEOSException as exc:
        raise BadInputError("That saved area cannot be read.") from exc
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


def _geometries(obj: dict[str, Any], origin: str, *, max_shapes: int | None = None) -> list[dict[str, Any]]:
    kind = obj.get("type")
    if kind == "FeatureCollection":
        features = obj.get("features")
        if not isinstance(features, list):
            raise BadInputError(f"{origin}: a FeatureCollection needs a 'features' list.")
        out: list[dict[str, Any]] = []
        for n, feature in enumerate(features, start=1):
            out.extend(_geometries_of_feature(feature, f"{origin}, feature {n}"))
            _check_shapes(out, origin, max_shapes)
        return out
    if kind == "Feature":
        found = _geometries_of_feature(obj, origin)
    elif kind == "GeometryCollection":
        geoms = obj.get("geometries")
        if not isinstance(geoms, list):
            raise BadInputError(f"{origin}: a GeometryCollection needs a 'geometries' list.")
        found = [g for g in geoms if isinstance(g, dict)]
    else:
        found = [obj]
    _check_shapes(found, origin, max_shapes)
    return found


def _check_shapes(found: list[dict[str, Any]], origin: str, max_shapes: int | None) -> None:
    if max_shapes is None:
        return
    shapes = 0
    for g in found:
        coords = g.get("coordinates")
        shapes += len(coords) if g.get("type") == "MultiPolygon" and isinstance(coords, list) else 1
    if shapes > max_shapes:
        raise LimitError(
            f"{origin} has more than {max_shapes} shapes; a local can be at most {max_shapes} drawn shapes together."
        )


def _geometries_of_feature(feature: Any, origin: str) -> list[dict[str, Any]]:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise BadInputError(f"{origin} is not a GeoJSON Feature.")
    geom = feature.get("geometry")
    if geom is None:
        return []
    if not isinstance(geom, dict):
        raise BadInputError(f"{origin} has a geometry that is not a GeoJSON object.")
    properties = feature.get("properties")
    radius = properties.get("radius") if isinstance(properties, dict) else None
    if geom.get("type") == "Point" and radius is not None:
        lon, lat = _point_coords(geom, origin)
        if isinstance(radius, bool):
            raise BadInputError(f"{origin}: the circle's radius is not a number.")
        try:
            r = float(radius)
        except (TypeError, ValueError) as exc:
            raise BadInputError(f"{origin}: the circle's radius is not a number.") from exc
        return [{"type": "Polygon", "_circle": (lon, lat, r)}]  # made once the shapes are counted
    return [geom]


def _circle_of(geom_obj: dict[str, Any], _origin: str) -> dict[str, Any]:
    lon, lat, r = geom_obj["_circle"]
    return dict(shapely.geometry.mapping(circle(lon, lat, r)))


def _point_coords(geom: dict[str, Any], origin: str) -> tuple[float, float]:
    coords = geom.get("coordinates")
    if not (isinstance(coords, list | tuple) and len(coords) >= 2):
        raise BadInputError(f"{origin}: the circle's centre has no coordinates.")
    try:
        lon, lat = float(coords[0]), float(coords[1])
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"{origin}: the circle's centre has coordinates that are not numbers.") from exc
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise BadInputError(f"{origin}: the circle's centre has coordinates that are not numbers (NaN or infinite).")
    return lon, lat


def _as_area(geom_obj: dict[str, Any], origin: str) -> AreaGeometry | None:
    kind = geom_obj.get("type")
    if kind not in {
        "Polygon",
        "MultiPolygon",
        "Point",
        "MultiPoint",
        "LineString",
        "MultiLineString",
        "GeometryCollection",
    }:
        raise BadInputError(f"{origin} has an unknown geometry type {str(kind)[:40]!r}.")
    if kind not in {"Polygon", "MultiPolygon"}:
        return None
    try:
        geom: BaseGeometry = shape(geom_obj)
    except Exception as exc:  # shapely raises several types on malformed coordinates
        raise BadInputError(f"{origin} has a {kind} whose coordinates are malformed ({exc}).") from exc
    if geom.is_empty:
        raise BadInputError(f"{origin} has an empty {kind}.")
    if not np.isfinite(shapely.get_coordinates(geom, include_z=bool(shapely.has_z(geom)))).all():
        raise BadInputError(f"{origin} has coordinates that are not numbers (NaN or infinite).")
    geom = shapely.force_2d(geom)  # heights are not part of an area
    coords = shapely.get_coordinates(geom)
    if not shapely.is_valid_input(geom) or not coords.size:
        raise BadInputError(f"{origin} has coordinates that are not numbers.")
    lon_ok = (coords[:, 0] >= -180) & (coords[:, 0] <= 180)
    lat_ok = (coords[:, 1] >= -90) & (coords[:, 1] <= 90)
    if not (lon_ok.all() and lat_ok.all()):
        bad = coords[~(lon_ok & lat_ok)][0]
        hint = (
            (
                " These look like projected coordinates in metres; say which CRS in a 'crs' member or "
                "convert the file to WGS84."
            )
            if abs(bad).max() > 1000
            else ""
        )
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
