"""From WGS84 (how every layer is stored) to the coordinate system a planner asks for.

- EPSG:27700 (British National Grid) goes through Ordnance Survey's national transformation,
  OSTN15, as implemented by the `convertbng` package: it hits OS's test points to the millimetre,
  where pyproj without the OSTN15 grid file is up to 4.9 m off. Coordinates are taken as ETRS89
  (WGS84 and ETRS89 differ by well under a metre in Britain).
- Any other CRS goes through pyproj with the best transformation for the data's extent, and never
  a "ballpark" one (a transformation that ignores the datum shift).
- Data outside a CRS's area of use (outside the OSTN15 grid for EPSG:27700) are refused with one
  sentence, unless the caller says `outside_area_of_use=True`; then the transformation used says so.

`Projected.method` names the transformation used: exports record it in the file's metadata and
in the LICENSE/README text beside it.
"""

from __future__ import annotations

import importlib.metadata
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from convertbng.cutil import convert_bng, convert_lonlat
from pyproj import CRS, aoi
from pyproj.database import query_utm_crs_info
from pyproj.transformer import AreaOfInterest, Transformer, TransformerGroup

from layers.errors import BadInputError

WGS84 = CRS.from_epsg(4326)
BNG_EPSG = 27700
OSTN15 = (
    f"OSTN15, Ordnance Survey's national transformation (convertbng "
    f"{importlib.metadata.version('convertbng')}); WGS84 coordinates taken as ETRS89"
)
# The coordinate systems the planners' page offers by name (others are accepted by code).
OFFERED = {
    "EPSG:27700": "British National Grid (EPSG:27700)",
    "EPSG:4326": "WGS84 longitude/latitude (EPSG:4326)",
    "EPSG:3857": "Web Mercator (EPSG:3857)",
    "EPSG:3067": "ETRS-TM35FIN, Finland (EPSG:3067)",
}


@dataclass(frozen=True)
class Projected:
    frame: gpd.GeoDataFrame
    crs: CRS
    method: str  # the transformation used, in words
    outside_area_of_use: bool  # the caller allowed data outside the CRS's area of use, and some were


def parse_crs(text: str | None) -> CRS:
    if not text:
        return WGS84
    try:
        crs = CRS.from_user_input(text.strip())
    except Exception as exc:  # pyproj's CRSError
        raise BadInputError(f"Unknown coordinate system {text[:60]!r}; use a code such as EPSG:27700.") from exc
    if crs.is_geocentric or len(crs.axis_info) != 2 or not (crs.is_geographic or crs.is_projected):
        raise BadInputError(
            f"{text[:60]} ({crs.name}) is not a two-dimensional map coordinate system; choose a "
            "geographic or projected one such as EPSG:4326 or EPSG:27700."
        )
    return crs


def crs_label(crs: CRS) -> str:
    code = crs.to_epsg()
    return f"EPSG:{code} ({crs.name})" if code else crs.name


def _outside_sentence(crs: CRS, where: str, bounds: tuple[float, float, float, float]) -> str:
    return (
        f"The data lie outside the area {crs_label(crs)} is meant for ({where}); choose a coordinate system "
        f"for that place (for these data: {suggest_crs_for_bounds(bounds)}), or pass "
        "--outside-area-of-use to transform them anyway."
    )


def _bounds(frame: gpd.GeoDataFrame) -> tuple[float, float, float, float] | None:
    """The data's extent; None when there is nothing to place (no rows, or only empty geometries)."""
    if len(frame) == 0:
        return None
    minx, miny, maxx, maxy = (float(v) for v in frame.total_bounds)
    return (minx, miny, maxx, maxy) if np.isfinite([minx, miny, maxx, maxy]).all() else None


def within_area_of_use(crs: CRS, bounds: tuple[float, float, float, float]) -> bool:
    area = crs.area_of_use
    if area is None:
        return True
    minx, miny, maxx, maxy = bounds
    return bool(area.west <= minx and maxx <= area.east and area.south <= miny and maxy <= area.north)


def suggest_crs_for_bounds(bounds: tuple[float, float, float, float]) -> str:
    """A projected CRS whose area of use holds the data: the smallest of those offered by name,
    else the WGS84 UTM zone of the data's middle."""
    fitting = []
    for code in OFFERED:
        crs = CRS.from_user_input(code)
        area = crs.area_of_use
        regional = area is not None and area.east - area.west < 90  # not a world-wide CRS such as Web Mercator
        if crs.is_projected and area is not None and regional and within_area_of_use(crs, bounds):
            fitting.append(((area.east - area.west) * (area.north - area.south), code))
    if fitting:
        return min(fitting)[1]
    minx, miny, maxx, maxy = bounds
    lon, lat = (minx + maxx) / 2, (miny + maxy) / 2
    zones = query_utm_crs_info(datum_name="WGS 84", area_of_interest=aoi.AreaOfInterest(lon, lat, lon, lat))
    return f"EPSG:{zones[0].code}" if zones else "EPSG:3857"


def suggest_crs(frame: gpd.GeoDataFrame) -> str:
    """The CRS to propose for WGS84 data (EPSG:3067 for Helsinki, EPSG:27700 for Britain)."""
    bounds = _bounds(frame)
    return suggest_crs_for_bounds(bounds) if bounds else "EPSG:4326"


def _transform(frame: gpd.GeoDataFrame, fn: Callable[[np.ndarray], np.ndarray], crs: CRS) -> gpd.GeoDataFrame:
    geoms = shapely.transform(np.asarray(frame.geometry.values), fn)
    return gpd.GeoDataFrame(
        frame.drop(columns="geometry"), geometry=gpd.GeoSeries(geoms, index=frame.index, crs=crs), crs=crs
    )


def project(frame: gpd.GeoDataFrame, target: CRS | str | None, *, outside_area_of_use: bool = False) -> Projected:
    """`frame` (WGS84) in `target`, by OSTN15 for British National Grid, else pyproj without ballpark."""
    crs = target if isinstance(target, CRS) else parse_crs(target)
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        raise ValueError("project() takes WGS84 data")
    if crs.to_epsg() == 4326:
        return Projected(frame, crs, "none: WGS84 longitude/latitude as stored", False)
    bounds = _bounds(frame)
    if crs.to_epsg() == BNG_EPSG:
        return _ostn15(frame, crs, bounds or (0.0, 0.0, 0.0, 0.0), outside_area_of_use=outside_area_of_use)
    inside = bounds is None or within_area_of_use(crs, bounds)
    if not inside and not outside_area_of_use:
        area = crs.area_of_use
        raise BadInputError(
            _outside_sentence(crs, area.name.rstrip(".") if area else "no stated area", bounds or (0.0, 0.0, 0.0, 0.0))
        )
    aoi = AreaOfInterest(*bounds) if inside and bounds else None
    group = _group(crs, aoi)
    if not group.transformers:
        raise BadInputError(
            f"No transformation from WGS84 to {crs_label(crs)} is known for these data "
            "other than a rough one without the datum shift; choose another coordinate system."
        )
    transformer: Transformer = group.transformers[0]

    def fn(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))

    out = _transform(frame, fn, crs)
    method = f"{transformer.description} (pyproj {_accuracy(transformer)})"
    if not inside:
        method += "; WARNING: the data lie outside this coordinate system's area of use"
    return Projected(out, crs, method, not inside)


def _group(crs: CRS, area: AreaOfInterest | None) -> TransformerGroup:
    """The transformations pyproj has from WGS84 to `crs`, best first, without ballpark ones."""
    with warnings.catch_warnings():  # "best transformation not available" (the OSTN15 grid): we know
        warnings.simplefilter("ignore", UserWarning)
        return TransformerGroup(WGS84, crs, always_xy=True, allow_ballpark=False, area_of_interest=area)


def _accuracy(transformer: Transformer) -> str:
    acc = transformer.accuracy
    return f"stated accuracy {acc:g} m" if acc is not None and acc >= 0 else "accuracy not stated"


def _ostn15(
    frame: gpd.GeoDataFrame, crs: CRS, bounds: tuple[float, float, float, float], *, outside_area_of_use: bool
) -> Projected:
    coords = shapely.get_coordinates(np.asarray(frame.geometry.values))
    eastings, northings = convert_bng(coords[:, 0], coords[:, 1]) if len(coords) else (coords[:, 0], coords[:, 1])
    outside = ~(np.isfinite(eastings) & np.isfinite(northings))
    if not outside.any():

        def fn(xy: np.ndarray) -> np.ndarray:
            e, n = convert_bng(xy[:, 0], xy[:, 1])
            return np.column_stack([e, n])

        return Projected(_transform(frame, fn, crs), crs, OSTN15, False)
    if not outside_area_of_use:
        lon, lat = coords[np.flatnonzero(outside)[0]]
        raise BadInputError(
            _outside_sentence(crs, f"Great Britain, where OSTN15 is defined; {lon:.5f}, {lat:.5f} is not", bounds)
        )
    # Outside OSTN15 and the planner said so: the best Helmert transformation pyproj has, never ballpark.
    group = _group(crs, None)
    transformer: Transformer = group.transformers[0]

    def helmert(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))

    method = (
        f"{transformer.description} (pyproj {_accuracy(transformer)} within Great Britain); WARNING: the data "
        "lie outside the area British National Grid and OSTN15 are meant for"
    )
    return Projected(_transform(frame, helmert, crs), crs, method, True)


def to_wgs84(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Read-side: a frame in any CRS back to WGS84; British National Grid by OSTN15 (inverse) where
    the points lie on its grid, else pyproj."""
    if frame.crs is None or frame.crs.to_epsg() == 4326:
        return frame
    if frame.crs.to_epsg() == BNG_EPSG and len(frame):
        coords = shapely.get_coordinates(np.asarray(frame.geometry.values))
        lons, lats = convert_lonlat(coords[:, 0], coords[:, 1])
        if np.isfinite(lons).all() and np.isfinite(lats).all():

            def fn(xy: np.ndarray) -> np.ndarray:
                lon, lat = convert_lonlat(xy[:, 0], xy[:, 1])
                return np.column_stack([lon, lat])

            return _transform(frame, fn, WGS84)
    return frame.to_crs(WGS84)
