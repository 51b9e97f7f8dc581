"""15-minute walk area on a ~60,000-node street graph: ours against osmnx's ego_graph recipe.

The big graph is generated (a jittered grid of footways, 25 m apart, a tenth of the links
missing), because the embedded extract's network has only ~5,500 nodes; that real graph is
measured too. The baseline is osmnx's documented isochrone recipe: networkx `ego_graph` by
travel time, then the convex hull of the reached nodes.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely
from pyproj import Transformer

from layers.analysis import access
from layers.osm import sources

SIDE = 245  # 245 x 245 = 60,025 nodes
SPACING_M = 25.0
MINUTES = 15
FLOOR_HA = 10.0  # a 10-minute walk from near a street reaches at least this (median about 60 ha)


def generated_network(seed: int = 1) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    to_wgs84 = Transformer.from_crs("EPSG:3067", "EPSG:4326", always_xy=True)
    ii, jj = np.meshgrid(np.arange(SIDE), np.arange(SIDE), indexing="ij")
    xs = 380_000 + ii.ravel() * SPACING_M + rng.uniform(-5, 5, SIDE * SIDE)
    ys = 6_670_000 + jj.ravel() * SPACING_M + rng.uniform(-5, 5, SIDE * SIDE)
    ids = np.arange(SIDE * SIDE).reshape(SIDE, SIDE)
    u = np.concatenate([ids[:-1, :].ravel(), ids[:, :-1].ravel()])
    v = np.concatenate([ids[1:, :].ravel(), ids[:, 1:].ravel()])
    keep = rng.random(len(u)) > 0.1
    u, v = u[keep], v[keep]
    lon, lat = to_wgs84.transform(xs, ys)
    ends = [np.column_stack([lon[u], lat[u]]), np.column_stack([lon[v], lat[v]])]
    lines = shapely.linestrings(np.stack(ends, axis=1))
    length = np.hypot(xs[u] - xs[v], ys[u] - ys[v])
    return gpd.GeoDataFrame(
        {"u": u, "v": v, "length": length, "highway": "footway"},
        geometry=lines,
        crs="EPSG:4326",
    )


def ego_graph_isochrone(graph: nx.Graph, node: int, minutes: float, points: dict[int, tuple[float, float]]) -> Any:
    sub = nx.ego_graph(graph, node, radius=minutes, distance="time")
    return shapely.MultiPoint([points[n] for n in sub.nodes]).convex_hull


def _nx_graph(net: access.StreetNetwork) -> tuple[nx.Graph, dict[int, tuple[float, float]]]:
    graph: nx.Graph[int] = nx.Graph()
    per_minute = net.mode.metres_per_minute
    graph.add_weighted_edges_from(
        ((int(a), int(b), float(length) / per_minute) for a, b, length in zip(net.u, net.v, net.length, strict=True)),
        weight="time",
    )
    points = {i: (float(x), float(y)) for i, (x, y) in enumerate(net.node_xy)}
    return graph, points


def _measure(net: access.StreetNetwork, starts: list[tuple[float, float]], repeat: int) -> tuple[float, float]:
    graph, points = _nx_graph(net)
    ours, naive = [], []
    for lon, lat in starts:
        for _ in range(repeat):
            t = time.perf_counter()
            access.isochrone(net, lon, lat, MINUTES)
            ours.append((time.perf_counter() - t) * 1000)
        x, y = net.to_metres(lon, lat)
        node = int(np.argmin((net.node_xy[:, 0] - x) ** 2 + (net.node_xy[:, 1] - y) ** 2))
        t = time.perf_counter()
        ego_graph_isochrone(graph, node, MINUTES, points)
        naive.append((time.perf_counter() - t) * 1000)
    return statistics.median(ours), statistics.median(naive)


def random_start_areas(
    extract: sources.Extract, *, starts: int = 60, minutes: float = 10, seed: int = 11, near_m: float = 150.0
) -> np.ndarray:
    """Hectares reachable on foot in `minutes` from random starts in the extract: points drawn
    uniformly over its bounds, kept when a walkable street (of any piece of the network) lies
    within `near_m`, as a resident clicking near a street would."""
    from layers import geodesy

    net = access.StreetNetwork(extract.network, access.mode_by_id("walk"))
    tree = shapely.STRtree(net.lines)
    rng = np.random.default_rng(seed)
    west, south, east, north = extract.bounds
    out: list[float] = []
    while len(out) < starts:
        lon, lat = float(rng.uniform(west, east)), float(rng.uniform(south, north))
        _, gap = tree.query_nearest(shapely.Point(*net.to_metres(lon, lat)), return_distance=True)
        if gap[0] <= near_m:
            out.append(geodesy.area_m2(access.isochrone(net, lon, lat, minutes).area) / 10_000)
    return np.array(out)


def run() -> list[dict[str, Any]]:
    walk = access.mode_by_id("walk")
    big = access.StreetNetwork(generated_network(), walk)
    centre = big.edges.geometry.union_all().centroid
    rng = np.random.default_rng(4)
    starts = [(centre.x + rng.uniform(-0.01, 0.01), centre.y + rng.uniform(-0.005, 0.005)) for _ in range(5)]
    ours, naive = _measure(big, starts, 3)
    rows = [
        {
            "figure": f"15-min walk area, generated graph ({big.graph.shape[0]:,} nodes)",
            "ours": ours,
            "naive": naive,
            "unit": "ms",
            "target": "<= 100 ms",
            "ok": ours <= 100,
        }
    ]
    real = access.StreetNetwork(sources.current().network, walk)
    ours_r, naive_r = _measure(real, [(24.9470, 60.1735), (24.9441, 60.1712), (24.9520, 60.1690)], 3)
    rows.append(
        {
            "figure": f"15-min walk area, real Helsinki graph ({real.graph.shape[0]:,} nodes)",
            "ours": ours_r,
            "naive": naive_r,
            "unit": "ms",
            "target": "<= 100 ms",
            "ok": ours_r <= 100,
        }
    )
    hectares = random_start_areas(sources.current())
    rows.append(
        {
            "figure": "10-min walk from 60 random starts: smallest area",
            "ours": float(hectares.min()),
            "naive": None,
            "unit": "ha",
            "target": f">= {FLOOR_HA:g} ha",
            "ok": bool(hectares.min() >= FLOOR_HA),
        }
    )
    rows.append(
        {
            "figure": "10-min walk from 60 random starts: median area",
            "ours": float(np.median(hectares)),
            "naive": None,
            "unit": "ha",
            "target": "-",
            "ok": True,
        }
    )
    return rows
