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

import geopandas as gpd
import h3
import numpy as np
import shapely
from shapely.geometry import Polygon

from layers import schema, settings, store
from layers.progress import Progress, report

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


def resident_keys(footprints: list[store.LocalFootprint]) -> list[str]:
    """For each saved local, the resident it belongs to."""
    people = _People()
    keys = []
    for footprint in footprints:
        owner, source = footprint.owner, footprint.source
        src = f"source:{source}" if source else UNKNOWN_SOURCE
        if owner:
            own = f"owner:{owner}"
            if source:
                people.join(own, src)
            keys.append(own)
        else:
            keys.append(src)
    return [people.find(k) for k in keys]


TILE_DEG = 0.05  # candidate cells are listed tile by tile (about 3 x 5 km at 60° N)


def _build(min_contributors: int, progress: Progress | None = None) -> gpd.GeoDataFrame:
    """Vectorised: the H3 cells over the tiles the locals touch, their centres tested against all
    locals at once (an STRtree), then distinct (cell, resident) pairs counted. A cell counts for a
    local when its centre lies inside it (H3's own rule for filling a polygon)."""
    footprints = store.saved_local_footprints()
    if not footprints:
        return _frame([], [])
    report(progress, f"Adding up {len(footprints):,} residents' locals", 1, 2)
    keys, resident = np.unique(np.asarray(resident_keys(footprints), dtype=object), return_inverse=True)
    del keys
    geoms = np.asarray([f.area for f in footprints], dtype=object)  # None: an area that cannot be read
    kinds = shapely.get_type_id(geoms)
    usable = np.isin(kinds, [3, 6]) & ~shapely.is_empty(geoms) & shapely.is_valid(geoms)
    lat = np.where(usable, shapely.get_y(shapely.centroid(geoms)), 0.0)
    cell_m2 = h3.average_hexagon_area(RESOLUTION, "m^2")
    estimate = shapely.area(geoms) * 111_320.0**2 * np.cos(np.radians(lat)) / cell_m2
    too_big = usable & (np.nan_to_num(estimate, nan=np.inf) > settings.max_consensus_cells_per_local)
    if (~usable).any() or too_big.any():
        logger.warning(
            "consensus: %d saved locals skipped (not a valid polygon), %d too large to grid (over %s cells)",
            int((~usable).sum()),
            int(too_big.sum()),
            f"{settings.max_consensus_cells_per_local:,}",
        )
    keep = usable & ~too_big
    geoms, resident = geoms[keep], resident[keep]
    if len(geoms) == 0:
        return _frame([], [])
    tiles: set[tuple[int, int]] = set()
    for minx, miny, maxx, maxy in np.floor(shapely.bounds(geoms) / TILE_DEG).astype(np.int64):
        tiles.update((i, j) for i in range(minx, maxx + 1) for j in range(miny, maxy + 1))
    cells = sorted(
        {
            c
            for i, j in tiles
            for c in h3.geo_to_cells(
                shapely.box(i * TILE_DEG, j * TILE_DEG, (i + 1) * TILE_DEG, (j + 1) * TILE_DEG), RESOLUTION
            )
        }
    )
    if not cells:
        return _frame([], [])
    centres = np.array([h3.cell_to_latlng(c) for c in cells])
    points = np.asarray(shapely.points(centres[:, 1], centres[:, 0]))
    shapely.prepare(geoms)  # each local is tested against the cell centres near it, prepared once
    local_index, point_index = shapely.STRtree(points).query(geoms, predicate="contains")
    people = int(resident.max()) + 1
    pairs = np.unique(point_index.astype(np.int64) * people + resident[local_index])  # (cell, resident) once
    counts = np.bincount(pairs // people, minlength=len(cells))
    kept = np.flatnonzero(counts >= min_contributors)
    report(progress, "Drawing the cells", 2, 2)
    return _frame([cells[i] for i in kept], [int(counts[i]) for i in kept])


def _frame(cells: list[str], residents: list[int]) -> gpd.GeoDataFrame:
    geoms = [Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(cell)]) for cell in cells]
    return gpd.GeoDataFrame(
        {"h3": cells, "residents": residents}, geometry=gpd.GeoSeries(geoms, crs=schema.WGS84), crs=schema.WGS84
    )


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
