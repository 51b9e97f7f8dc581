"""Sizes and distances on the ellipsoid (pyproj.Geod), so results hold anywhere on Earth."""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import Geod
from shapely.geometry.base import BaseGeometry

WGS84_GEOD = Geod(ellps="WGS84")


def area_m2(geom: BaseGeometry) -> float:
    if geom.is_empty:
        return 0.0
    area, _ = WGS84_GEOD.geometry_area_perimeter(geom)
    return abs(float(area))


def distances_m(lon0: float, lat0: float, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    if len(lons) == 0:
        return np.zeros(0)
    _, _, dist = WGS84_GEOD.inv(np.full(len(lons), lon0), np.full(len(lats), lat0), lons, lats)
    return np.asarray(dist, dtype=float)


def representative_xy(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A point on each geometry (the point itself for points): where a marker goes."""
    pts = shapely.point_on_surface(geoms)
    return shapely.get_x(pts), shapely.get_y(pts)
