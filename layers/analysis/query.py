"""What is inside an area: a spatial index built once per layer set, queried many times.

Rule: a point counts when it is inside the area or on its edge; a line or polygon (a park)
counts when it intersects the area, and `share_inside` says how much of it is inside.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from layers import categories, geodesy
from layers.areas import AreaGeometry

SAME_PLACE_M = 50.0  # two mappings of one place (same name and category) lie within this of each other


class AssetIndex:
    """Read-only spatial index over an asset layer. Build once (cache it); never mutate the frame.

    Points (nearly all assets) are kept as coordinate arrays sorted by longitude: a query cuts the
    area's bounding box out with two binary searches and tests the candidates in one vectorised
    `intersects_xy` call against the prepared area. That stays fast when a large share of the
    layer is inside, where an STRtree has to return and test every hit one by one. Lines and
    polygons (parks) go through an STRtree.
    """

    def __init__(self, assets: gpd.GeoDataFrame) -> None:
        self.assets = assets
        geoms = np.asarray(assets.geometry.values)
        self._categories = assets["category"].to_numpy()
        is_point = shapely.get_type_id(geoms) == 0
        point_rows = np.flatnonzero(is_point)
        xs, ys = shapely.get_x(geoms[point_rows]), shapely.get_y(geoms[point_rows])
        order = np.argsort(xs, kind="stable")
        self._point_rows = point_rows[order]
        self._xs, self._ys = xs[order], ys[order]
        self._shape_rows = np.flatnonzero(~is_point)
        self._tree = shapely.STRtree(geoms[self._shape_rows])

    def __len__(self) -> int:
        return len(self.assets)

    def positions_within(self, area: BaseGeometry, category_ids: list[str] | None = None) -> np.ndarray:
        """Row positions of the assets that the area contains or touches, in row order."""
        shapely.prepare(area)
        minx, miny, maxx, maxy = area.bounds
        lo = np.searchsorted(self._xs, minx, side="left")
        hi = np.searchsorted(self._xs, maxx, side="right")
        cand_ys = self._ys[lo:hi]
        in_box = np.flatnonzero((cand_ys >= miny) & (cand_ys <= maxy)) + lo
        inside = shapely.intersects_xy(area, self._xs[in_box], self._ys[in_box])
        point_hits = self._point_rows[in_box[inside]]
        shape_hits = self._shape_rows[self._tree.query(area, predicate="intersects")]
        hits = np.sort(np.concatenate([point_hits, shape_hits]))
        if category_ids:
            hits = hits[np.isin(self._categories[hits], category_ids)]
        return hits

    def within(self, area: BaseGeometry, category_ids: list[str] | None = None) -> gpd.GeoDataFrame:
        return self.assets.iloc[self.positions_within(area, category_ids)]


@dataclass(frozen=True)
class AreaSummary:
    """Everything the "my local" view shows for one area."""

    items: pd.DataFrame  # one row per place: the asset columns + distance_m, share_inside, same_place
    area_m2: float
    centre: tuple[float, float]
    origin: tuple[float, float] | None = None  # where distances are from (None: the centre)

    def counts(self) -> pd.DataFrame:
        """Count per category, in the category table's order, zero rows included."""
        labels = {c.id: c.label for c in categories.load_categories()}
        counted = self.items["category"].value_counts()
        rows = [(cid, labels[cid], int(counted.get(cid, 0))) for cid in labels]
        return pd.DataFrame(rows, columns=["category", "label", "count"])


def summarise(
    index: AssetIndex,
    area: AreaGeometry,
    category_ids: list[str] | None = None,
    *,
    origin: tuple[float, float] | None = None,
) -> AreaSummary:
    """What is inside the area, one row per place, nearest first: distances from `origin` (a
    walk-time local's start) or else from the area's centre. A place mapped twice (a library as a
    node and as its building) is one row (see `same_place`)."""
    found = index.within(area, category_ids)
    centre_pt = area.centroid
    lon0, lat0 = origin if origin is not None else (float(centre_pt.x), float(centre_pt.y))
    keep, same = same_place(found)
    found = found.iloc[keep]
    geoms = np.asarray(found.geometry.values)
    xs, ys = geodesy.representative_xy(geoms)
    items = pd.DataFrame(found.drop(columns="geometry"))
    items["same_place"] = [same.get(i, "") for i in found["id"]]
    items["distance_m"] = np.round(geodesy.distances_m(lon0, lat0, xs, ys), 0)
    items["share_inside"] = _shares_inside(geoms, area)
    items["lon"], items["lat"] = xs, ys
    items = items.sort_values(["distance_m", "name"], na_position="last").reset_index(drop=True)
    return AreaSummary(
        items=items, area_m2=geodesy.area_m2(area), centre=(float(centre_pt.x), float(centre_pt.y)), origin=origin
    )


def same_place(assets: gpd.GeoDataFrame) -> tuple[np.ndarray, dict[str, str]]:
    """Rows to keep (positions) when places mapped twice count once, and for each kept row the ids
    of the rows it stands for. Twice means: the same name (ignoring case and spaces) and category,
    and shapes within SAME_PLACE_M of each other (a node inside its building). The shape with an
    area is kept (else the first in row order); the other ids are listed, space-separated."""
    names = assets["name"].where(assets["name"].notna(), None)
    key = names.map(lambda n: " ".join(str(n).casefold().split()) if isinstance(n, str) and n.strip() else None)
    keyed = pd.DataFrame(
        {"key": key.to_numpy(), "category": assets["category"].to_numpy(), "pos": np.arange(len(assets))}
    ).dropna(subset=["key"])
    dupes = keyed[keyed.duplicated(["key", "category"], keep=False)]
    drop: set[int] = set()
    same: dict[str, str] = {}
    if len(dupes):
        geoms = np.asarray(assets.geometry.values)
        ids = assets["id"].astype(str).to_numpy()
        for _, group in dupes.groupby(["key", "category"], sort=False):
            positions = sorted(group["pos"], key=lambda p: (shapely.get_type_id(geoms[p]) not in (3, 6), p))
            kept: list[int] = []
            for p in positions:
                home = next((k for k in kept if _metres_apart(geoms[k], geoms[p]) <= SAME_PLACE_M), None)
                if home is None:
                    kept.append(p)
                else:
                    drop.add(p)
                    same[ids[home]] = (same.get(ids[home], "") + " " + ids[p]).strip()
    keep = np.array([p for p in range(len(assets)) if p not in drop], dtype=np.int64)
    return keep, same


def _metres_apart(a: BaseGeometry, b: BaseGeometry) -> float:
    """Shortest distance between two WGS84 shapes, in metres (locally flat: fine under a km)."""
    lat = float(a.centroid.y)
    scale = np.cos(np.radians(lat))
    flat_a = shapely.transform(a, lambda xy: xy * [111_320.0 * scale, 110_574.0])
    flat_b = shapely.transform(b, lambda xy: xy * [111_320.0 * scale, 110_574.0])
    return float(shapely.distance(flat_a, flat_b))


def _shares_inside(geoms: np.ndarray, area: BaseGeometry) -> np.ndarray:
    """1.0 for points; for areas the fraction of their (geodesic) size inside; NaN for lines."""
    shares = np.ones(len(geoms))
    for i, geom in enumerate(geoms):  # only the few polygons that matched, not the whole layer
        kind = geom.geom_type
        if kind in ("Polygon", "MultiPolygon"):
            whole = geodesy.area_m2(geom)
            shares[i] = geodesy.area_m2(geom.intersection(area)) / whole if whole else 1.0
        elif kind in ("LineString", "MultiLineString"):
            shares[i] = np.nan
    return np.clip(shares, 0.0, 1.0)
