"""Typed settings, each read from the environment when asked for, so tests can override them.

| variable              | meaning                                                  | default              |
|-----------------------|----------------------------------------------------------|----------------------|
| OURPATCH_DATA_DIR     | where loaded layers, caches and the database live        | data/local/          |
| OURPATCH_TILE_URL     | background map tiles; "none" turns tiles off             | OSM standard tiles   |
| OURPATCH_TILE_ATTRIBUTION | credit shown for those tiles                         | © OpenStreetMap contributors |
| OURPATCH_OSMNX_CACHE  | osmnx's HTTP cache for `load --place`                    | <data dir>/osmnx-cache |
| OURPATCH_NOMINATIM_URL | geocoder used by `load --place`                         | osmnx's default      |
| OURPATCH_OVERPASS_URL | Overpass API used by `load --place`                      | osmnx's default      |
| OURPATCH_COMMUNITY_LICENCE | licence of exported community data (layers.export)  | OGL-UK-3.0           |
| OURPATCH_MAX_START_DISTANCE_M | a walk-time start further than this from a street is refused | 500 |
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_DATA_DIR = REPO_ROOT / "data"
CATEGORIES_FILE = SHIPPED_DATA_DIR / "categories.toml"

DEFAULT_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = "© OpenStreetMap contributors"
OSM_LICENCE = "ODbL-1.0"


def data_dir() -> Path:
    """The folder for runtime data (git-ignored); created on first use."""
    raw = os.environ.get("OURPATCH_DATA_DIR", "").strip()
    path = Path(raw).expanduser() if raw else SHIPPED_DATA_DIR / "local"
    path.mkdir(parents=True, exist_ok=True)
    return path


def tile_url() -> str | None:
    """The tile URL template, or None when tiles are switched off."""
    raw = os.environ.get("OURPATCH_TILE_URL", DEFAULT_TILE_URL).strip()
    return None if raw.lower() in {"", "none", "off"} else raw


def tile_attribution() -> str:
    return os.environ.get("OURPATCH_TILE_ATTRIBUTION", OSM_ATTRIBUTION)


def nominatim_url() -> str | None:
    """Geocoder for `load --place` (osmnx's default, the public Nominatim, when unset)."""
    return os.environ.get("OURPATCH_NOMINATIM_URL") or None


def overpass_url() -> str | None:
    """Overpass API for `load --place` (osmnx's default when unset)."""
    return os.environ.get("OURPATCH_OVERPASS_URL") or None


def osmnx_cache_dir() -> Path:
    raw = os.environ.get("OURPATCH_OSMNX_CACHE", "").strip()
    return Path(raw) if raw else data_dir() / "osmnx-cache"


DEFAULT_MAX_START_DISTANCE_M = 500.0


def max_start_distance_m() -> float:
    """How far (metres, straight line) a walk-time start may be from the nearest street that
    joins the rest of the map; further away it is refused. Places further away are left out of
    coverage gaps."""
    raw = os.environ.get("OURPATCH_MAX_START_DISTANCE_M", "").strip()
    if not raw:
        return DEFAULT_MAX_START_DISTANCE_M
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not (0 < value < 100_000):
        raise ValueError(f"OURPATCH_MAX_START_DISTANCE_M must be a number of metres above 0, not {raw[:40]!r}")
    return value
