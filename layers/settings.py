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
| OURPATCH_COUNTRY      | ISO country code of addresses without a UK postcode (ORUK) | — (GB for UK postcodes) |
"""

from __future__ import annotations

import os
import re
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


def country() -> str:
    """ISO 3166-1 alpha-2 code for community addresses in the Open Referral UK feed that have no
    UK postcode ("FI" for the Helsinki demo); empty: such addresses stay free text."""
    raw = os.environ.get("OURPATCH_COUNTRY", "").strip().upper()
    return raw if re.fullmatch(r"[A-Z]{2}", raw) else ""
