"""Area query over a large generated layer: our index against GeoDataFrame.within."""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

from benchmarks.synthetic import BBOX, synthetic_assets
from layers import areas, geodesy
from layers.analysis import query


def _p50_ms(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _radius_for_share(share: float) -> float:
    west, south, east, north = BBOX
    from shapely.geometry import box

    return float(np.sqrt(share * geodesy.area_m2(box(west, south, east, north)) / np.pi))


def run(n: int) -> list[dict[str, Any]]:
    assets = synthetic_assets(n, seed=7)
    index = query.AssetIndex(assets)
    rows = []
    rng = np.random.default_rng(3)
    cases = [("neighbourhood (~1% inside)", 0.01, 10.0, 20.0), ("worst case (~15% inside)", 0.15, 100.0, None)]
    for label, share, target_ms, target_ratio in cases:
        radius = _radius_for_share(share)
        polys = [
            areas.circle(float(rng.uniform(24.95, 25.05)), float(rng.uniform(60.19, 60.23)), radius) for _ in range(5)
        ]
        inside = len(index.positions_within(polys[0])) / n
        for poly in polys:  # same answers as the naive way (random points are never on an edge)
            assert np.array_equal(index.positions_within(poly), np.flatnonzero(assets.within(poly).to_numpy()))
        ours = statistics.median(_p50_ms(lambda p=p: index.positions_within(p), 15) for p in polys)
        naive = statistics.median(_p50_ms(lambda p=p: assets[assets.within(p)], 3) for p in polys)
        ok = ours <= target_ms and (target_ratio is None or naive / ours >= target_ratio)
        target = f"p50 <= {target_ms:.0f} ms" + (f", >= {target_ratio:.0f}x" if target_ratio else "")
        rows.append(
            {
                "figure": f"area query, {n:,} assets, {label}",
                "ours": ours,
                "naive": naive,
                "unit": "ms",
                "target": target,
                "ok": ok,
                "share_inside": round(inside, 4),
            }
        )
    return rows
