"""A resident's "local": how it was made (drawn shapes, a walk-time area, or both) and the area
that results. The spec is plain JSON so it can be saved, shared as a link and reopened."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from layers import areas, categories, settings, store
from layers.analysis import access
from layers.areas import AreaGeometry
from layers.errors import BadInputError, LimitError
from layers.store.contract import SavedLocal as SavedLocal  # re-exported: the pages name it

COMBINE_CHOICES = {
    "walk": "Walk-time area only",
    "drawn": "Drawn area only",
    "union": "Either: the walk-time area and the drawn area together",
    "intersection": "Both: only where the walk-time area and the drawn area overlap",
}


@dataclass(frozen=True)
class WalkSpec:
    lon: float
    lat: float
    minutes: float
    mode: str = "walk"


@dataclass(frozen=True)
class LocalSpec:
    drawn: dict[str, Any] | None = None  # a GeoJSON FeatureCollection of drawn shapes
    walk: WalkSpec | None = None
    combine: str = "union"
    hidden: tuple[str, ...] = field(default_factory=tuple)  # categories hidden on the map

    @property
    def is_empty(self) -> bool:
        return self.drawn is None and self.walk is None

    def to_json(self) -> str:
        data = asdict(self)
        data["hidden"] = list(self.hidden)
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @staticmethod
    def from_json(text: str) -> LocalSpec:
        if len(text) > settings.max_local_spec_bytes:
            raise BadInputError("That saved local is too large to open.")
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise BadInputError("That saved local could not be read.") from exc
        if not isinstance(data, dict):
            raise BadInputError("That saved local could not be read.")
        return spec_from_dict(data)


def spec_from_dict(data: dict[str, Any]) -> LocalSpec:
    walk = data.get("walk")
    walk_spec = None
    if walk is not None:
        try:
            walk_spec = WalkSpec(float(walk["lon"]), float(walk["lat"]), float(walk["minutes"]), str(walk["mode"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInputError("The walk-time part of that local is incomplete.") from exc
        access.check_minutes(walk_spec.minutes)
        access.mode_by_id(walk_spec.mode)
    drawn = data.get("drawn")
    if drawn is not None:
        areas.parse_area(drawn, origin="The drawn area")
    combine = str(data.get("combine", "union"))
    if combine not in COMBINE_CHOICES:
        raise BadInputError(f"Unknown way of combining areas '{combine[:40]}'.")
    hidden = tuple(str(h) for h in data.get("hidden") or [])
    categories.check_category_ids(list(hidden))
    return LocalSpec(drawn=drawn, walk=walk_spec, combine=combine, hidden=hidden)


@dataclass(frozen=True)
class ResolvedLocal:
    area: AreaGeometry
    isochrone: access.Isochrone | None
    drawn: AreaGeometry | None


def resolve(spec: LocalSpec, network_for: Any) -> ResolvedLocal | None:
    """The area a spec describes; `network_for(mode_id)` gives the StreetNetwork (cached by caller)."""
    drawn = areas.parse_area(spec.drawn, origin="The drawn area") if spec.drawn else None
    iso = None
    if spec.walk is not None:
        iso = access.isochrone(network_for(spec.walk.mode), spec.walk.lon, spec.walk.lat, spec.walk.minutes)
    if drawn is None and iso is None:
        return None
    if drawn is None or spec.combine == "walk":
        area = iso.area if iso is not None else drawn
    elif iso is None or spec.combine == "drawn":
        area = drawn
    elif spec.combine == "union":
        area = _as_area(iso.area.union(drawn))
    else:
        overlap = iso.area.intersection(drawn)
        if overlap.is_empty or overlap.area == 0:
            raise BadInputError(
                "The walk-time area and the drawn area do not overlap; choose 'Either' or draw nearer the start."
            )
        area = _as_area(overlap)
    assert area is not None
    return ResolvedLocal(area=area, isochrone=iso, drawn=drawn)


def _as_area(geom: Any) -> AreaGeometry:
    if isinstance(geom, Polygon | MultiPolygon):
        return geom
    polys = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon | MultiPolygon)]
    flat = [p for g in polys for p in (g.geoms if isinstance(g, MultiPolygon) else [g])]
    return MultiPolygon(flat)


MAX_NAME = 120
TOKEN_BYTES = 18  # 144 bits: a private link nobody can guess
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{20,40}")


def save(
    name: str, spec: LocalSpec | str, area: BaseGeometry | str, *, owner: str | None = None, source: str | None = None
) -> str:
    """Keep a local under a private link; returns the secret token the link carries. Checked here
    first: the name, the spec's size (and that it reopens: the same checks as opening it), and the
    area (a finite polygon within the limits on points and size). `spec` may be the spec's JSON,
    `area` WKT, as they come from a link or a file. `owner`: the signed-in person's own key;
    `source`: where an anonymous resident connects from (they count once in the consensus layer
    and at most settings.max_anonymous_locals_per_source_per_day a day)."""
    clean = " ".join(str(name).split())
    if not clean:
        raise BadInputError('Give your local a name, for example "Home and the park".')
    if len(clean) > MAX_NAME:
        raise BadInputError(f"A local's name can be at most {MAX_NAME} characters.")
    spec_json = spec.to_json() if isinstance(spec, LocalSpec) else str(spec)
    area_size = len(area) if isinstance(area, str) else len(area.wkt)
    if len(spec_json.encode()) > settings.max_local_spec_bytes or area_size > 2 * settings.max_local_spec_bytes:
        raise LimitError(
            f"This local is too large to save (over {settings.max_local_spec_bytes // 1000:,} KB); "
            "draw it with fewer points."
        )
    checked = areas.check_saved_area(area)
    LocalSpec.from_json(spec_json)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = datetime.now(UTC)
    store.insert_local(
        token,
        clean,
        spec_json,
        checked,
        owner=owner,
        source=source,
        now=now.isoformat(timespec="seconds"),
        since=(now - timedelta(days=1)).isoformat(timespec="seconds"),
        per_source_per_day=settings.max_anonymous_locals_per_source_per_day,
    )
    return token


def saved(token: str) -> SavedLocal | None:
    """The saved local behind a private link (its token is the permission), or None (also for
    anything not shaped like a token): pages open saved locals through here, never the store."""
    if not isinstance(token, str) or not TOKEN_PATTERN.fullmatch(token):
        return None
    return store.get_local(token)


def saved_area(local: SavedLocal) -> AreaGeometry:
    """A saved local's area, or BadInputError when the stored area cannot be used."""
    if local.area is None:
        raise BadInputError("That saved area cannot be read.")
    if not isinstance(local.area, Polygon | MultiPolygon):
        raise BadInputError("That saved area is not a polygon.")
    return local.area


def owned_by(owner: str) -> list[SavedLocal]:
    """The locals a signed-in resident saved (pages pass the signed-in person's own key)."""
    return store.locals_owned_by(owner)
