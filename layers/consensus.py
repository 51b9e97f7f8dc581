"""What residents' locals add up to: a hexagon grid (H3, about 150 m across) counting how many
residents' saved locals cover each cell. Cells with fewer than 5 residents are left out, so no
single resident's local can be recovered from the layer.

A resident is a person, not a link: every local of one signed-in account counts once, all the
anonymous locals saved from one source (the network address the browser connected from, a
server-side key that clearing the browser does not reset) count as one resident, and an account
that also saved from a source is the same resident as that source. The layer is cached until a
local is saved, and a local too large to grid (settings.max_consensus_cells_per_local) is
skipped and logged, so building it takes bounded time and memory."""

from __future__ import annotations

import logging
import threading
from collections import Counter

import geopandas as gpd
import h3
import shapely
from shapely.geometry import MultiPolygon, Polygon

from layers import geodesy, schema, settings, store
from layers.progress import Progress, each

RESOLUTION = 10  # average edge about 76 m, so a cell is about 150 m across
MIN_CONTRIBUTORS = 5
UNKNOWN_SOURCE = "source:unknown"
logger = logging.getLogger(__name__)
_cache: dict[tuple[str, int], gpd.GeoDataFrame] = {}
_lock = threading.Lock()


class _People:
    """Union-find: accounts and sources that saved locals together are one resident."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        self.parent.setdefault(key, key)
        root = key
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[key] != root:
            self.parent[key], key = root, self.parent[key]
        return root

    def join(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def resident_keys(footprints: list[tuple[str | None, str | None, str]]) -> list[str]:
    """For each saved local (owner, source, area), the resident it belongs to."""
    people = _People()
    keys = []
    for owner, source, _wkt in footprints:
        src = f"source:{source}" if source else UNKNOWN_SOURCE
        if owner:
            own = f"owner:{owner}"
            if source:
                people.join(own, src)
            keys.append(own)
        else:
            keys.append(src)
    return [people.find(k) for k in keys]


def _cells(wkt: str) -> set[str]:
    area = shapely.from_wkt(wkt)
    if not isinstance(area, Polygon | MultiPolygon) or area.is_empty or not area.is_valid:
        raise ValueError("not a valid polygon")
    estimate = geodesy.area_m2(area) / h3.average_hexagon_area(RESOLUTION, "m^2")
    if estimate > settings.max_consensus_cells_per_local:
        raise ValueError(f"about {estimate:,.0f} cells, over the limit of {settings.max_consensus_cells_per_local:,}")
    return set(h3.geo_to_cells(area, RESOLUTION))


def _build(min_contributors: int, progress: Progress | None = None) -> gpd.GeoDataFrame:
    footprints = store.saved_local_footprints()
    if footprints:
        for _ in each(progress, "Adding up residents' locals", [None], 1):
            pass
    by_resident: dict[str, set[str]] = {}
    for (_owner, _source, wkt), who in zip(footprints, resident_keys(footprints), strict=True):
        try:
            cells = _cells(wkt)
        except (ValueError, shapely.errors.GEOSException) as exc:
            logger.warning("consensus: a saved local was skipped (%s)", exc)
            continue
        by_resident.setdefault(who, set()).update(cells)
    counts = Counter(cell for cells in by_resident.values() for cell in cells)
    kept = sorted((cell, n) for cell, n in counts.items() if n >= min_contributors)
    geoms = [Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(cell)]) for cell, _ in kept]
    return gpd.GeoDataFrame({"h3": [c for c, _ in kept], "residents": [n for _, n in kept]},
                            geometry=gpd.GeoSeries(geoms, crs=schema.WGS84), crs=schema.WGS84)


def consensus_cells(min_contributors: int = MIN_CONTRIBUTORS, *, progress: Progress | None = None) -> gpd.GeoDataFrame:
    """One row per H3 cell covered by at least `min_contributors` different residents (cached
    until a local is saved)."""
    if min_contributors < MIN_CONTRIBUTORS:
        raise ValueError(f"the consensus layer never shows cells with fewer than {MIN_CONTRIBUTORS} contributors")
    key = (store.locals_version(), min_contributors)
    with _lock:
        if key not in _cache:
            _cache.clear()
            _cache[key] = _build(min_contributors, progress)
        return _cache[key].copy()
