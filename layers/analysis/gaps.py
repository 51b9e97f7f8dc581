"""What a local lacks, and how two locals differ."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from shapely.geometry.base import BaseGeometry

from layers import categories, geodesy, settings
from layers.analysis import access, query
from layers.areas import AreaGeometry
from layers.progress import Progress, report

CANDIDATES = 5  # nearest by straight line, then the quickest of these along the streets


@dataclass(frozen=True)
class NearestOutside:
    category: str
    label: str
    asset_id: str | None
    name: str | None
    lon: float | None
    lat: float | None
    straight_m: float | None
    minutes: float | None  # along the streets, in the network's mode; None without a network


def missing_with_nearest(
    index: query.AssetIndex,
    summary: query.AreaSummary,
    origin: tuple[float, float],
    network: access.StreetNetwork | None,
) -> list[NearestOutside]:
    """For each category with nothing inside: the nearest one outside, by travel time where a
    street network is given (else by straight line)."""
    counts = summary.counts()
    missing = counts[counts["count"] == 0]
    assets = index.assets
    out = []
    for cat_id, label in zip(missing["category"].astype(str), missing["label"].astype(str), strict=True):
        pool = assets[assets["category"] == cat_id]
        if len(pool) == 0:
            out.append(NearestOutside(cat_id, label, None, None, None, None, None, None))
            continue
        xs, ys = geodesy.representative_xy(np.asarray(pool.geometry.values))
        straight = geodesy.distances_m(origin[0], origin[1], xs, ys)
        best = np.argsort(straight)[:CANDIDATES]
        minutes = None
        pick = int(best[0])
        if network is not None:
            times = access.travel_minutes_to(
                network, origin[0], origin[1], [(float(xs[i]), float(ys[i])) for i in best]
            )
            order = int(np.argmin(times))
            pick = int(best[order])
            minutes = float(times[order]) if np.isfinite(times[order]) else None
        asset = pool.iloc[pick]
        name = asset["name"] if isinstance(asset["name"], str) else None
        out.append(
            NearestOutside(
                cat_id, label, str(asset["id"]), name, float(xs[pick]), float(ys[pick]), float(straight[pick]), minutes
            )
        )
    return out


@dataclass(frozen=True)
class Comparison:
    counts: pd.DataFrame  # category label, count in A, count in B
    only_a: pd.DataFrame  # assets in A and not in B
    only_b: pd.DataFrame
    shared: int
    area_a_m2: float
    area_b_m2: float
    overlap_m2: float


def compare(index: query.AssetIndex, area_a: AreaGeometry, area_b: AreaGeometry) -> Comparison:
    a = query.summarise(index, area_a)
    b = query.summarise(index, area_b)
    labels = {c.id: c.label for c in categories.load_categories()}
    ca, cb = a.counts().set_index("category")["count"], b.counts().set_index("category")["count"]
    counts = pd.DataFrame({"Category": [labels[c] for c in ca.index], "A": ca.to_numpy(), "B": cb.to_numpy()})
    ids_a, ids_b = set(a.items["id"]), set(b.items["id"])
    overlap = area_a.intersection(area_b)
    return Comparison(
        counts=counts,
        only_a=a.items[~a.items["id"].isin(ids_b)],
        only_b=b.items[~b.items["id"].isin(ids_a)],
        shared=len(ids_a & ids_b),
        area_a_m2=a.area_m2,
        area_b_m2=b.area_m2,
        overlap_m2=geodesy.area_m2(overlap) if not overlap.is_empty else 0.0,
    )


@dataclass(frozen=True)
class CoverageGap:
    gap: BaseGeometry  # the part of the area beyond the walk of every asset of the category
    area_m2: float
    gap_m2: float
    sources: int

    @property
    def share(self) -> float:
        return self.gap_m2 / self.area_m2 if self.area_m2 else 0.0


def coverage_gap(
    network: access.StreetNetwork,
    assets: pd.DataFrame,
    category: str,
    minutes: float,
    area: BaseGeometry,
    *,
    progress: Progress | None = None,
) -> CoverageGap:
    """The part of `area` more than `minutes` along the streets from every asset of `category`.

    All the category's assets start at once (one multi-source Dijkstra), each from the nearest
    point of the nearest street of the network's main part, the straight walk to it counted."""
    access.check_minutes(minutes)
    pool = assets[assets["category"] == category]
    area_m2 = geodesy.area_m2(area)
    if len(pool) == 0:
        return CoverageGap(area, area_m2, area_m2, 0)
    report(progress, "Finding the nearest street to each place", 1, 3)
    xs, ys = geodesy.representative_xy(np.asarray(pool.geometry.values))
    mxy = np.array([network.to_metres(float(x), float(y)) for x, y in zip(xs, ys, strict=True)])
    budget = minutes * 60
    access_mps = network.mode.access_metres_per_second
    entries: list[tuple[int, float]] = []
    pieces = []
    for snap in network.snap_many(mxy[:, 0], mxy[:, 1]):
        if snap.gap_m <= settings.max_start_distance_m() and snap.gap_m / access_mps < budget:
            spent = snap.gap_m / access_mps
            entries.extend(network.entry_costs(snap, spent))
            pieces.append(network.start_edge_piece(snap, budget - spent))
    if not entries:
        return CoverageGap(area, area_m2, area_m2, 0)
    report(progress, "Walking the streets from every place", 2, 3)
    dist = network.search(entries, budget)
    reached = network.area_from_lines(
        network.reachable_lines(dist, budget) + pieces,
        (float(mxy[0, 0]), float(mxy[0, 1])),
        network.reachable_blocks(dist, budget),
    )
    report(progress, "Drawing the gap", 3, 3)
    beyond = area.difference(reached)
    return CoverageGap(beyond, area_m2, geodesy.area_m2(beyond) if not beyond.is_empty else 0.0, len(pool))
