"""Walk-time locals: the area reachable along the streets in so many minutes.

The street network comes from the same extract (offline, no API key): every OSM way with a
`highway` tag, with the tags the travel modes look at. Each mode (walk, wheelchair-friendly
walk, cycle) judges the ways by the rules in data/travel_modes.toml and makes a sparse graph
weighted in seconds, direction by direction (a cyclist rides a one-way street with the flow and
pushes against it). scipy's Dijkstra with a limit finds every node within reach, edges are cut
where time runs out, and the area is the reachable streets buffered a little, with small
enclosed blocks filled in. Water with no bridge in the data is never crossed.

A start (or a place, for what is missing and coverage gaps) is snapped to the nearest point of
the nearest street of the network's main part: the largest strongly connected component, the
part that reaches the rest of the city (an OSM network is in many pieces: a courtyard path that
joins nothing must not trap a walk). The straight walk from the start to that street counts in
the time.
"""

from __future__ import annotations

import functools
import json
import math
import tomllib
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import substring

from layers import settings
from layers.errors import BadInputError

MODES_FILE = settings.SHIPPED_DATA_DIR / "travel_modes.toml"
FAR_START_M = 150.0  # beyond this, say how far the start is from its street
START_JOIN_M = 50.0  # a start steps straight onto any street of the main part this close
OUTSIDE_MAP_M = 2_000.0  # a start this far beyond the network's bounds is outside the loaded map
STREET_BUFFER_M = 25.0  # half a street's width plus frontage: "on this street"
FILL_HOLES_BELOW_M2 = 20_000.0  # blocks enclosed by reachable streets count as reachable
MIN_MINUTES, MAX_MINUTES = 1, 60
MAIN_PART_SHARE = 0.25  # a second piece at least this share of the largest one also counts as main
CLOSED = ("no", "private")  # access values that close a way to everyone they apply to
ALLOWED = ("yes", "designated", "permissive", "destination", "official")
ONEWAY_FORWARD = ("yes", "true", "1")
ONEWAY_BACKWARD = ("-1", "reverse")
BASE_COLUMNS = ["u", "v", "length"]


@dataclass(frozen=True)
class Mode:
    """One way of travelling, as data/travel_modes.toml defines it."""

    id: str
    label: str
    speed_kmh: float
    highway: frozenset[str] = frozenset()
    highway_if_allowed: frozenset[str] = frozenset()
    access_keys: tuple[str, ...] = ()
    closed_also: tuple[str, ...] = ()
    avoid: dict[str, tuple[str, ...]] = field(default_factory=dict)
    oneway: bool = False
    oneway_exempt: dict[str, tuple[str, ...]] = field(default_factory=dict)
    push_like: str | None = None
    push_speed_kmh: float | None = None

    @property
    def metres_per_minute(self) -> float:
        return self.speed_kmh * 1000 / 60

    @property
    def metres_per_second(self) -> float:
        return self.speed_kmh / 3.6

    @property
    def access_metres_per_second(self) -> float:
        """The straight walk from a start to its street (a cyclist walks the bike there)."""
        return (self.push_speed_kmh or self.speed_kmh) / 3.6

    def tag_keys(self) -> set[str]:
        """Every OSM key these rules look at."""
        return {
            "highway",
            "access",
            *self.access_keys,
            *self.avoid,
            *self.oneway_exempt,
            *(("oneway", "junction") if self.oneway else ()),
        }


def _values(raw: Any, what: str) -> tuple[str, ...]:
    if isinstance(raw, str) or not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise ValueError(f"{MODES_FILE.name}: {what} must be a list of strings")
    return tuple(raw)


def _tag_table(raw: Any, what: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise ValueError(f"{MODES_FILE.name}: {what} must be a table of key = [values]")
    return {str(k): _values(v, f"{what}.{k}") for k, v in raw.items()}


@functools.cache
def load_modes() -> dict[str, Mode]:
    table = tomllib.loads(MODES_FILE.read_text())
    raw_modes = {m["id"]: m for m in table["mode"]}
    modes: dict[str, Mode] = {}
    for mode_id, raw in raw_modes.items():
        base = dict(raw_modes[raw["like"]]) if "like" in raw else {}
        avoid = {**_tag_table(base.get("avoid", {}), "avoid"), **_tag_table(raw.get("avoid", {}), "avoid")}
        merged = {**base, **raw}
        modes[mode_id] = Mode(
            id=mode_id,
            label=str(merged["label"]),
            speed_kmh=float(merged["speed_kmh"]),
            highway=frozenset(_values(merged.get("highway", []), "highway")),
            highway_if_allowed=frozenset(_values(merged.get("highway_if_allowed", []), "highway_if_allowed")),
            access_keys=_values(merged.get("access_keys", []), "access_keys"),
            closed_also=_values(merged.get("closed_also", []), "closed_also"),
            avoid=avoid,
            oneway=bool(merged.get("oneway", False)),
            oneway_exempt=_tag_table(merged.get("oneway_exempt", {}), "oneway_exempt"),
            push_like=merged.get("push_like"),
            push_speed_kmh=float(merged["push_speed_kmh"]) if "push_speed_kmh" in merged else None,
        )
    for mode in modes.values():
        if mode.push_like is not None and mode.push_like not in modes:
            raise ValueError(f"{MODES_FILE.name}: mode {mode.id} pushes like unknown mode {mode.push_like}")
    return modes


@functools.cache
def start_avoid() -> dict[str, tuple[str, ...]]:
    """Ways a start never joins (`[start] avoid` in data/travel_modes.toml): tunnels."""
    table = tomllib.loads(MODES_FILE.read_text())
    return _tag_table(table.get("start", {}).get("avoid", {}), "start.avoid")


def network_tag_keys() -> list[str]:
    """The OSM keys the network table keeps: every key any mode's rules look at."""
    keys: set[str] = set(start_avoid())
    for mode in load_modes().values():
        keys |= mode.tag_keys()
    return sorted(keys)


def mode_by_id(mode_id: str) -> Mode:
    modes = load_modes()
    if mode_id not in modes:
        raise BadInputError(f"Unknown way of travelling '{mode_id}'; choose from: {', '.join(modes)}.")
    return modes[mode_id]


def check_minutes(minutes: float) -> float:
    if not isinstance(minutes, int | float) or not math.isfinite(minutes) or not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise BadInputError(f"Minutes must be a number from {MIN_MINUTES} to {MAX_MINUTES}.")
    return float(minutes)


# ---------------------------------------------------------------- the network table


def _tag(frame: pd.DataFrame, key: str) -> pd.Series:
    """A tag's value per edge, from its own column or from the JSON `tags` column."""
    if key in frame.columns:
        return frame[key].astype(object).where(frame[key].notna(), None)
    if "tags" not in frame.columns:
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)

    def pick(raw: Any) -> Any:
        if isinstance(raw, str) and key in raw:
            try:
                return json.loads(raw).get(key)
            except ValueError:
                return None
        if isinstance(raw, dict):
            return raw.get(key)
        return None

    return frame["tags"].map(pick)


def _text_or_none(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, list | tuple):  # osmnx merges the values of simplified ways into lists
        return ";".join(str(v) for v in value)
    return str(value).strip().lower() if isinstance(value, bool) else str(value).strip()


def network_table(*frames: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """One table of street edges (u, v, length in metres, line) with the tags the travel modes
    judge them by (`network_tag_keys`): what the extract saves."""
    keys = network_tag_keys()
    parts = []
    for frame in frames:
        if frame is None or len(frame) == 0:
            continue
        data: dict[str, Any] = {
            "u": frame["u"].astype("int64").to_numpy(),
            "v": frame["v"].astype("int64").to_numpy(),
            "length": frame["length"].astype(float).to_numpy(),
        }
        for key in keys:
            data[key] = _tag(frame, key).map(_text_or_none).to_numpy()
        parts.append(gpd.GeoDataFrame(data, geometry=list(frame.geometry.values), crs="EPSG:4326"))
    if not parts:
        empty = {c: pd.Series([], dtype="int64" if c in ("u", "v") else float) for c in BASE_COLUMNS}
        empty.update({k: pd.Series([], dtype=object) for k in keys})
        return gpd.GeoDataFrame(empty, geometry=gpd.GeoSeries([], crs="EPSG:4326"))
    merged = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs="EPSG:4326")
    return merged.drop_duplicates(subset=["u", "v", "length"]).reset_index(drop=True)


# ---------------------------------------------------------------- the rules


def _column(edges: pd.DataFrame, key: str) -> pd.Series:
    if key in edges.columns:
        return edges[key].astype(object).where(edges[key].notna(), None)
    return pd.Series([None] * len(edges), index=edges.index, dtype=object)


def _matches(column: pd.Series, values: tuple[str, ...] | frozenset[str]) -> np.ndarray:
    """Which values are in `values`; "a;b" matches when a or b does."""
    wanted = set(values)

    def one(value: Any) -> bool:
        if value is None:
            return False
        text = str(value)
        return text in wanted or (";" in text and any(p.strip() in wanted for p in text.split(";")))

    return np.fromiter((one(v) for v in column), dtype=bool, count=len(column))


def usable(edges: pd.DataFrame, mode: Mode) -> np.ndarray:
    """Which edges the mode may use (in at least one direction), by its OSM tag rules."""
    highway = _column(edges, "highway")
    decided = pd.Series([None] * len(edges), index=edges.index, dtype=object)
    for key in reversed((*mode.access_keys, "access")):  # the most specific tag present wins
        col = _column(edges, key)
        decided = col.where(col.notna(), decided)
    closed = _matches(decided, (*CLOSED, *mode.closed_also))
    specific = pd.Series([None] * len(edges), index=edges.index, dtype=object)
    for key in reversed(mode.access_keys):
        col = _column(edges, key)
        specific = col.where(col.notna(), specific)
    allowed = _matches(specific, ALLOWED) & ~closed
    ok: np.ndarray = (_matches(highway, mode.highway) & ~closed) | (
        _matches(highway, mode.highway_if_allowed) & allowed
    )
    for key, values in mode.avoid.items():
        ok &= ~_matches(_column(edges, key), values)
    return ok


def directions(edges: pd.DataFrame, mode: Mode) -> tuple[np.ndarray, np.ndarray]:
    """(may go u -> v, may go v -> u) per edge, for a mode that may use the edge."""
    n = len(edges)
    forward = np.ones(n, dtype=bool)
    backward = np.ones(n, dtype=bool)
    if not mode.oneway:
        return forward, backward
    oneway = _column(edges, "oneway")
    roundabout = _matches(_column(edges, "junction"), ("roundabout", "circular")) & oneway.isna().to_numpy()
    with_flow = _matches(oneway, ONEWAY_FORWARD) | roundabout
    against = _matches(oneway, ONEWAY_BACKWARD)
    exempt = np.zeros(n, dtype=bool)
    for key, values in mode.oneway_exempt.items():
        exempt |= _matches(_column(edges, key), values)
    backward &= ~(with_flow & ~exempt)
    forward &= ~(against & ~exempt)
    return forward, backward


def edge_seconds(edges: pd.DataFrame, mode: Mode) -> tuple[np.ndarray, np.ndarray]:
    """Seconds to go along each edge u -> v and v -> u (inf where the mode may not). Where a
    mode with `push_like` may not ride, it goes as that mode goes, at `push_speed_kmh`."""
    length = np.maximum(edges["length"].to_numpy(dtype=float), 0.01)
    ride = usable(edges, mode)
    forward, backward = directions(edges, mode)
    ride_s = length / mode.metres_per_second
    fwd = np.where(ride & forward, ride_s, np.inf)
    bwd = np.where(ride & backward, ride_s, np.inf)
    if mode.push_like is not None:
        push_mode = mode_by_id(mode.push_like)
        push = usable(edges, push_mode)
        push_s = length / ((mode.push_speed_kmh or push_mode.speed_kmh) / 3.6)
        pf, pb = directions(edges, push_mode)
        fwd = np.minimum(fwd, np.where(push & pf, push_s, np.inf))
        bwd = np.minimum(bwd, np.where(push & pb, push_s, np.inf))
    return fwd, bwd


# ---------------------------------------------------------------- a routable graph


@dataclass(frozen=True)
class Snap:
    """Where a point joins the network: an edge of the main part, how far along it (0..1 from u
    to v), and the straight distance from the point to it."""

    edge: int
    fraction: float
    gap_m: float


class StreetNetwork:
    """One mode's streets as a sparse graph in seconds. Build once per extract and mode (cache it)."""

    def __init__(self, edges: gpd.GeoDataFrame, mode: Mode) -> None:
        self.mode = mode
        fwd, bwd = edge_seconds(edges, mode) if len(edges) else (np.zeros(0), np.zeros(0))
        keep = np.isfinite(fwd) | np.isfinite(bwd)
        if not keep.any():
            raise BadInputError("The loaded map has no streets for this way of travelling.")
        self.edges = edges[keep].reset_index(drop=True)
        self.forward_s, self.backward_s = fwd[keep], bwd[keep]
        self.crs = self.edges.estimate_utm_crs() if len(self.edges) else CRS.from_epsg(3857)
        self._to_metres = Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)
        self._to_wgs84 = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        lines = shapely.transform(np.asarray(self.edges.geometry.values), self._project)
        self.lines = lines
        node_ids, inverse = np.unique(
            np.concatenate([self.edges["u"].to_numpy(), self.edges["v"].to_numpy()]), return_inverse=True
        )
        n_edges = len(self.edges)
        self.u = inverse[:n_edges]
        self.v = inverse[n_edges:]
        self.length = np.maximum(self.edges["length"].to_numpy(dtype=float), 0.01)
        starts = shapely.get_coordinates(shapely.get_point(lines, 0))
        ends = shapely.get_coordinates(shapely.get_point(lines, -1))
        n = len(node_ids)
        self.node_xy = np.zeros((n, 2))
        self.node_xy[self.u] = starts
        self.node_xy[self.v] = ends
        go = np.isfinite(self.forward_s)
        back = np.isfinite(self.backward_s)
        rows = np.concatenate([self.u[go], self.v[back]])
        cols = np.concatenate([self.v[go], self.u[back]])
        weights = np.concatenate([self.forward_s[go], self.backward_s[back]])
        order = np.lexsort((weights, cols, rows))  # keep the quickest of parallel edges
        rows, cols, weights = rows[order], cols[order], weights[order]
        first = np.ones(len(rows), dtype=bool)
        first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        # one spare node (index n) with no edges: the start of every search (see _search)
        self._graph = csr_matrix((weights[first], (rows[first], cols[first])), shape=(n + 1, n + 1))
        self._graph.sort_indices()
        self.graph = self._graph[:n, :n]
        self.bounds_m = shapely.bounds(shapely.multilinestrings(list(lines))) if n_edges else np.zeros(4)
        self.main_edges = self._main_part_edges()
        self._main_tree = shapely.STRtree(lines[self.main_edges])
        _ = self._blocks  # polygonise the blocks now, as part of loading, not in the first query

    def _main_part_edges(self) -> np.ndarray:
        """Edges a start may join: those of the part of the network that reaches the rest of the
        city (the largest strongly connected component, and any other at least MAIN_PART_SHARE of
        its size), except ways a person cannot step onto from the surface (`start_avoid`)."""
        _, labels = connected_components(self.graph, directed=True, connection="strong")
        sizes = np.bincount(labels)
        main = np.flatnonzero(sizes >= MAIN_PART_SHARE * sizes.max())
        in_main = np.isin(labels, main)
        ok = in_main[self.u] & in_main[self.v] & (labels[self.u] == labels[self.v])
        for key, values in start_avoid().items():
            ok &= ~_matches(_column(self.edges, key), values)
        return np.flatnonzero(ok)

    def _project(self, xy: np.ndarray) -> np.ndarray:
        return np.column_stack(self._to_metres.transform(xy[:, 0], xy[:, 1]))

    def _unproject(self, xy: np.ndarray) -> np.ndarray:
        return np.column_stack(self._to_wgs84.transform(xy[:, 0], xy[:, 1]))

    def to_metres(self, lon: float, lat: float) -> tuple[float, float]:
        x, y = self._to_metres.transform(lon, lat)
        return float(x), float(y)

    def snap(self, x: float, y: float) -> Snap:
        """The nearest point of the nearest street of the main part (coordinates in metres)."""
        point = Point(x, y)
        found, gap = self._main_tree.query_nearest(point, return_distance=True, all_matches=False)
        edge = int(self.main_edges[int(found[0])])
        fraction = float(self.lines[edge].project(point, normalized=True)) if self.lines[edge].length else 0.0
        return Snap(edge, min(max(fraction, 0.0), 1.0), float(gap[0]))

    def snap_many(self, xs: np.ndarray, ys: np.ndarray) -> list[Snap]:
        points = np.asarray(shapely.points(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)), dtype=object)
        pairs, gaps = self._main_tree.query_nearest(points, return_distance=True, all_matches=False)
        out: list[Snap | None] = [None] * len(points)
        for (i, j), gap in zip(pairs.T, gaps, strict=True):
            edge = int(self.main_edges[int(j)])
            line = self.lines[edge]
            fraction = float(line.project(points[int(i)], normalized=True)) if line.length else 0.0
            out[int(i)] = Snap(edge, min(max(fraction, 0.0), 1.0), float(gap))
        return [s for s in out if s is not None]

    def joins(self, x: float, y: float, nearest: Snap) -> list[Snap]:
        """Every street a start steps onto directly: the nearest, and any other of the main part
        within START_JOIN_M (standing on a square, any street beside it is a first step)."""
        point = Point(x, y)
        near = self.main_edges[self._main_tree.query(point, predicate="dwithin", distance=START_JOIN_M)]
        out = [nearest]
        for edge in near:
            if int(edge) != nearest.edge:
                line = self.lines[int(edge)]
                fraction = float(line.project(point, normalized=True)) if line.length else 0.0
                out.append(Snap(int(edge), min(max(fraction, 0.0), 1.0), float(line.distance(point))))
        return out

    def entry_costs(self, snap: Snap, extra_s: float = 0.0) -> list[tuple[int, float]]:
        """Seconds from a snapped point to the two ends of its edge (where the mode may go)."""
        e = snap.edge
        out = []
        if np.isfinite(self.backward_s[e]):
            out.append((int(self.u[e]), extra_s + snap.fraction * float(self.backward_s[e])))
        if np.isfinite(self.forward_s[e]):
            out.append((int(self.v[e]), extra_s + (1 - snap.fraction) * float(self.forward_s[e])))
        return out

    def search(self, entries: list[tuple[int, float]], limit_s: float = np.inf) -> np.ndarray:
        """Seconds to every node from any of the entries (node, seconds already spent), inf
        beyond the limit: one Dijkstra from a spare node joined to each entry."""
        n = self.graph.shape[0]
        if not entries:
            return np.full(n, np.inf)
        nodes = np.array([e[0] for e in entries], dtype=np.int64)
        costs = np.array([e[1] for e in entries], dtype=float)
        order = np.lexsort((costs, nodes))
        nodes, costs = nodes[order], costs[order]
        first = np.ones(len(nodes), dtype=bool)
        first[1:] = nodes[1:] != nodes[:-1]
        nodes, costs = nodes[first], np.maximum(costs[first], 1e-9)  # scipy drops explicit zeros
        base = self._graph
        indptr = base.indptr.copy()
        indptr[-1] += len(nodes)
        graph = csr_matrix(
            (np.concatenate([base.data, costs]), np.concatenate([base.indices, nodes]), indptr), shape=base.shape
        )
        # scipy-stubs 1.17 only accepts an array for `indices`; scipy takes an int too (one row back).
        dist = dijkstra(graph, directed=True, indices=n, limit=limit_s)  # type: ignore[call-overload]
        return np.asarray(dist[:n])

    def reachable_lines(self, dist: np.ndarray, budget_s: float) -> list[BaseGeometry]:
        """The reachable parts of every edge: whole edges, and partial ones cut where time runs out."""
        du, dv = dist[self.u], dist[self.v]
        fwd, bwd = self.forward_s, self.backward_s
        whole = (du + fwd <= budget_s) | (dv + bwd <= budget_s)
        out: list[BaseGeometry] = list(self.lines[whole])
        from_u = ~whole & (du < budget_s) & np.isfinite(fwd)
        from_v = ~whole & (dv < budget_s) & np.isfinite(bwd)
        for i in np.flatnonzero(from_u):
            out.append(substring(self.lines[i], 0, (budget_s - du[i]) / fwd[i], normalized=True))
        for i in np.flatnonzero(from_v):
            out.append(substring(self.lines[i], 1 - (budget_s - dv[i]) / bwd[i], 1, normalized=True))
        return out

    def start_edge_piece(self, snap: Snap, budget_s: float) -> BaseGeometry:
        """The part of the start's own street within reach (the walk starts part-way along it)."""
        e, f = snap.edge, snap.fraction
        hi = min(1.0, f + budget_s / self.forward_s[e]) if np.isfinite(self.forward_s[e]) else f
        lo = max(0.0, f - budget_s / self.backward_s[e]) if np.isfinite(self.backward_s[e]) else f
        return substring(self.lines[e], lo, hi, normalized=True)

    @functools.cached_property
    def _blocks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The street network's small faces (city blocks under FILL_HOLES_BELOW_M2) and, for
        each, the nodes on its boundary: (faces, node indices, start offset of each face)."""
        faces = np.array(list(shapely.get_parts(shapely.polygonize(list(self.lines)))), dtype=object)
        if len(faces) == 0:
            return faces, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        faces = faces[shapely.area(faces) < FILL_HOLES_BELOW_M2]
        coords, owner = shapely.get_coordinates(shapely.get_exterior_ring(faces), return_index=True)
        # match ring vertices to nodes by their exact coordinates (both come from the same lines)
        order = np.lexsort((self.node_xy[:, 1], self.node_xy[:, 0]))
        sorted_xy = self.node_xy[order]
        keys = sorted_xy[:, 0] + 1j * sorted_xy[:, 1]
        wanted = coords[:, 0] + 1j * coords[:, 1]
        pos = np.clip(np.searchsorted(keys, wanted), 0, len(keys) - 1)
        is_node = keys[pos] == wanted
        node_of_vertex = np.where(is_node, order[pos], -1)
        keep = node_of_vertex >= 0
        owner, nodes = owner[keep], node_of_vertex[keep]
        starts = np.searchsorted(owner, np.arange(len(faces)))
        return faces, nodes, starts

    def reachable_blocks(self, dist: np.ndarray, budget_m: float) -> BaseGeometry | None:
        """The city blocks whose every corner is within reach, as one geometry (or None)."""
        faces, nodes, starts = self._blocks
        if len(faces) == 0 or len(nodes) == 0:
            return None
        worst = np.maximum.reduceat(dist[nodes], starts)
        counts = np.diff(np.append(starts, len(nodes)))
        reached = (worst <= budget_m) & (counts > 0)
        if not reached.any():
            return None
        return shapely.coverage_union_all(faces[reached])

    def area_from_lines(
        self, lines: list[BaseGeometry], start_xy: tuple[float, float], blocks: BaseGeometry | None = None
    ) -> Polygon | MultiPolygon:
        pieces = np.array([g for g in lines if not g.is_empty], dtype=object)
        geoms: list[BaseGeometry] = [Point(start_xy).buffer(STREET_BUFFER_M, quad_segs=3)]
        if blocks is not None and not blocks.is_empty:
            # Blocks ringed by reachable streets: one polygon, buffered once, instead of
            # thousands of street buffers to union (4x faster on a 60,000-node graph).
            geoms.append(shapely.buffer(blocks, STREET_BUFFER_M, quad_segs=3))
            shapely.prepare(blocks)
            if len(pieces):
                pieces = pieces[~shapely.covers(blocks, pieces)]  # only what the blocks hold whole
        if len(pieces):
            # The remaining streets (dead ends, the edge of the area): merge the short segments
            # into chains, buffer each, then one cascaded union: ~50x faster than buffering the
            # collection at once (measured on a 10-minute walk: 80 ms against 5.4 s).
            chains = shapely.get_parts(shapely.line_merge(shapely.multilinestrings(list(pieces))))
            geoms.extend(shapely.buffer(chains, STREET_BUFFER_M, quad_segs=3))
        shape = shapely.union_all(np.array(geoms, dtype=object))
        shape = _fill_small_holes(shape, FILL_HOLES_BELOW_M2)
        wgs84 = shapely.transform(shape, self._unproject)
        wgs84 = shapely.make_valid(wgs84)
        if isinstance(wgs84, Polygon | MultiPolygon):
            return wgs84
        polys = [g for g in getattr(wgs84, "geoms", []) if isinstance(g, Polygon | MultiPolygon)]
        return MultiPolygon([p for g in polys for p in (g.geoms if isinstance(g, MultiPolygon) else [g])])


def _fill_small_holes(shape: BaseGeometry, max_area: float) -> BaseGeometry:
    def fill(poly: Polygon) -> Polygon:
        keep = [ring for ring in poly.interiors if Polygon(ring).area >= max_area]
        return Polygon(poly.exterior, keep)

    if isinstance(shape, Polygon):
        return fill(shape)
    if isinstance(shape, MultiPolygon):
        return MultiPolygon([fill(p) for p in shape.geoms])
    return shape


@dataclass(frozen=True)
class Isochrone:
    area: Polygon | MultiPolygon
    minutes: float
    mode: str
    start: tuple[float, float]  # lon, lat
    start_gap_m: float  # from the start to the nearest street of the network's main part

    @property
    def note(self) -> str | None:
        """One sentence when the start is far from its street (the straight walk is in the time)."""
        if self.start_gap_m <= FAR_START_M:
            return None
        return (
            f"The start is {self.start_gap_m:,.0f} m from the nearest street that joins the rest of the "
            "map; the time includes getting there in a straight line."
        )

    def feature(self) -> dict[str, Any]:
        geom = shapely.orient_polygons(shapely.set_precision(self.area, 1e-7), exterior_cw=False)
        return {
            "type": "Feature",
            "geometry": shapely.geometry.mapping(geom),
            "properties": {
                "minutes": self.minutes,
                "mode": self.mode,
                "start": [round(self.start[0], 6), round(self.start[1], 6)],
            },
        }


def check_start(network: StreetNetwork, lon: float, lat: float) -> tuple[float, float, Snap]:
    """The start in metres and where it joins the network; one sentence when it cannot be used."""
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise BadInputError(f"The start ({lon:g}, {lat:g}) is not a longitude, latitude in WGS84.")
    x, y = network.to_metres(lon, lat)
    minx, miny, maxx, maxy = network.bounds_m
    margin = settings.max_start_distance_m()
    outside = max(margin, OUTSIDE_MAP_M)
    if not (minx - outside <= x <= maxx + outside and miny - outside <= y <= maxy + outside):
        raise BadInputError(
            f"The start ({lon:g}, {lat:g}) is outside the loaded map; "
            "load that area first, or check that it is longitude, latitude."
        )
    snap = network.snap(x, y)
    if snap.gap_m > margin:
        raise BadInputError(
            f"The start ({lon:g}, {lat:g}) is {snap.gap_m:,.0f} m from the nearest street "
            f"that joins the rest of the map; choose a point within {margin:,.0f} m of one."
        )
    return x, y, snap


def isochrone(network: StreetNetwork, lon: float, lat: float, minutes: float) -> Isochrone:
    minutes = check_minutes(minutes)
    x, y, snap = check_start(network, lon, lat)
    budget = minutes * 60
    joins = network.joins(x, y, snap)
    access_mps = network.mode.access_metres_per_second
    entries = [e for j in joins for e in network.entry_costs(j, j.gap_m / access_mps)]
    if snap.gap_m / access_mps >= budget:
        area = network.area_from_lines([], (x, y))
    else:
        dist = network.search(entries, budget)
        lines = network.reachable_lines(dist, budget)
        lines += [
            network.start_edge_piece(j, budget - j.gap_m / access_mps) for j in joins if j.gap_m / access_mps < budget
        ]
        # the walk from the start to its street, so the start is always inside its own area
        lines.append(shapely.shortest_line(Point(x, y), network.lines[snap.edge]))
        area = network.area_from_lines(lines, (x, y), network.reachable_blocks(dist, budget))
    return Isochrone(area=area, minutes=minutes, mode=network.mode.id, start=(lon, lat), start_gap_m=snap.gap_m)


def travel_minutes_to(
    network: StreetNetwork, lon: float, lat: float, targets: list[tuple[float, float]]
) -> list[float]:
    """Minutes from a start to each target: the straight walk to the main network, along its
    streets, and the straight walk from the street to the target (inf where unreachable)."""
    if not targets:
        return []
    access_mps = network.mode.access_metres_per_second
    x, y = network.to_metres(lon, lat)
    joins = network.joins(x, y, network.snap(x, y))
    dist = network.search([e for j in joins for e in network.entry_costs(j, j.gap_m / access_mps)])
    txy = np.array([network.to_metres(t[0], t[1]) for t in targets])
    out = []
    for snap in network.snap_many(txy[:, 0], txy[:, 1]):
        e, f = snap.edge, snap.fraction
        options = [dist[network.u[e]] + f * network.forward_s[e], dist[network.v[e]] + (1 - f) * network.backward_s[e]]
        for j in joins:
            if j.edge == e:  # along the same street, without going round
                step = network.forward_s[e] if f >= j.fraction else network.backward_s[e]
                options.append(j.gap_m / access_mps + abs(f - j.fraction) * step)
        out.append((float(min(options)) + snap.gap_m / access_mps) / 60)
    return out
