"""A resident's "local": how it was made (drawn shapes, a walk-time area, or both) and the area
that results. The spec is plain JSON so it can be saved, shared as a link and reopened."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from shapely.geometry import MultiPolygon, Polygon

from layers import areas, categories, settings, store
from layers.analysis import access
from layers.areas import AreaGeometry
from layers.errors import BadInputError
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
            raise BadInputError("The walk-time area and the drawn area do not overlap; choose 'Either' "
                                "or draw nearer the start.")
        area = _as_area(overlap)
    assert area is not None
    return ResolvedLocal(area=area, isochrone=iso, drawn=drawn)


def _as_area(geom: Any) -> AreaGeometry:
    if isinstance(geom, Polygon | MultiPolygon):
        return geom
    polys = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon | MultiPolygon)]
    flat = [p for g in polys for p in (g.geoms if isinstance(g, MultiPolygon) else [g])]
    return MultiPolygon(flat)


MAX_NAME = store.MAX_LOCAL_NAME


def save(name: str, spec: LocalSpec, area: AreaGeometry, *, owner: str | None, source: str | None) -> str:
    """Keep a local under a private link; the token. `owner`: the signed-in person's own key;
    `source`: where an anonymous resident connects from (they count once in the consensus layer)."""
    return store.save_local(name, spec.to_json(), area.wkt, owner=owner, source=source)


def saved(token: str) -> SavedLocal | None:
    """The saved local behind a private link (its token is the permission), or None: pages open
    saved locals through here, never the store."""
    return store.get_local(token)


def owned_by(owner: str) -> list[SavedLocal]:
    """The locals a signed-in resident saved (pages pass the signed-in person's own key)."""
    return store.locals_owned_by(owner)
