"""Community assets: what groups put on the map, checked at the door, with who may do what.

Shaped after Open Referral UK / HSDS 3: the group is the organisation; an asset is a place
(point), an area it serves (polygon) or an online community (a link and the area it covers);
contact, schedule, eligibility and description travel with it; links say it *cares for* a park,
*meets at* a hall or *runs* a service at a place. New and edited assets wait for a moderator;
every change is kept and any version can be restored. Permissions are checked here, not in the UI.
"""

from __future__ import annotations

import difflib
import logging
import re
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.ops
from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from layers import areas, categories, geodesy, schema, settings, store
from layers.errors import BadInputError, ChangedMeanwhileError, NotAllowedError
from layers.groups import accounts
from layers.groups.accounts import User
from layers.store import ASSET_FIELDS, AssetDraft, AssetLink, AssetVersion
from layers.store import Asset as Asset  # re-exported: the pages name it

KINDS = {
    "place": "A place (a point on the map)",
    "area": "An area it serves",
    "online": "An online community (a link and the area it covers)",
}
RELATIONS = {"cares_for": "Cares for", "meets_at": "Meets at", "runs_at": "Runs a service at"}
RELATION_BACK = {"cares_for": "Cared for by", "meets_at": "Meeting place of", "runs_at": "Service run here by"}
STATUSES = ("pending", "published", "rejected")
STALE_AFTER = timedelta(days=365)
SIMILAR_WITHIN_M = 100.0
LIMITS = {
    "name": 120,
    "description": 2000,
    "address": 200,
    "website": 500,
    "online_url": 500,
    "email": 254,
    "phone": 40,
    "schedule": 500,
    "eligibility": 500,
    "opening_hours": 255,
}
TARGET_PATTERN = re.compile(r"osm:(node|way|relation)/(\d{1,19})|community:(\d{1,19})")
EMAIL_PATTERN = re.compile(r"[^@\s<>\"']{1,64}@[A-Za-z0-9.-]{1,189}\.[A-Za-z]{2,24}")
PHONE_PATTERN = re.compile(r"\+?[0-9 ()./-]{5,40}")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
logger = logging.getLogger(__name__)


class FieldError(BadInputError):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field.replace('_', ' ').capitalize()}: {problem}")
        self.field = field


# ---------------------------------------------------------------- checking input


def _text(data: dict[str, Any], field: str, *, required: bool = False) -> str | None:
    raw = data.get(field)
    if raw is None or (isinstance(raw, float) and np.isnan(raw)):
        raw = ""
    if not isinstance(raw, str | int | float):
        raise FieldError(field, "must be text.")
    text = str(raw).strip()
    if CONTROL.search(text):
        raise FieldError(field, "contains control characters.")
    if field != "description":
        text = " ".join(text.split())
    if not text:
        if required:
            raise FieldError(field, "is required.")
        return None
    if len(text) > LIMITS[field]:
        raise FieldError(field, f"can be at most {LIMITS[field]} characters (this has {len(text):,}).")
    return text


def _url(data: dict[str, Any], field: str, *, required: bool = False) -> str | None:
    text = _text(data, field, required=required)
    if text is None:
        return None
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or " " in text:
        raise FieldError(field, "must be a web address starting with http:// or https://.")
    return text


def _finite_2d(geom: BaseGeometry) -> BaseGeometry:
    """The geometry without heights or measures, after checking every value (those too) is a
    finite number: a NaN height would otherwise reach every map page and export."""
    values = shapely.get_coordinates(geom, include_z=bool(shapely.has_z(geom)), include_m=bool(shapely.has_m(geom)))
    if not np.isfinite(values).all():
        raise FieldError("location", "has coordinates (or heights) that are not numbers (NaN or infinite).")
    return shapely.force_2d(geom) if shapely.has_z(geom) or shapely.has_m(geom) else geom


def _geometry(data: dict[str, Any], kind: str) -> BaseGeometry:
    geom = data.get("geometry")
    if isinstance(geom, str):
        try:
            geom = shapely.from_wkt(geom)
        except shapely.errors.GEOSException as exc:
            raise FieldError("location", "is not readable.") from exc
    if isinstance(geom, dict):
        if kind != "place":
            geom = areas.parse_area(geom, origin="The area")
        else:
            areas.check_positions(
                geom.get("coordinates"),
                "The location",
                [settings.max_asset_vertices],
                limit=settings.max_asset_vertices,
            )
            try:
                geom = shapely.geometry.shape(geom)
            except (ValueError, TypeError, AttributeError, shapely.errors.GEOSException) as exc:
                raise FieldError("location", "is not readable.") from exc
    if not isinstance(geom, BaseGeometry) or geom.is_empty:
        raise FieldError("location", "is missing: click the map, draw an area or find an address.")
    if shapely.get_num_coordinates(geom) > settings.max_asset_vertices:
        raise FieldError("location", f"has more than {settings.max_asset_vertices:,} points; simplify the area first.")
    geom = _finite_2d(geom)
    coords = shapely.get_coordinates(geom)
    if not ((coords[:, 0] >= -180) & (coords[:, 0] <= 180) & (coords[:, 1] >= -90) & (coords[:, 1] <= 90)).all():
        raise FieldError("location", "is outside longitude -180..180, latitude -90..90 (WGS84).")
    if kind == "place":
        if not isinstance(geom, Point):
            raise FieldError("location", "of a place is one point.")
        return geom
    if not isinstance(geom, Polygon | MultiPolygon):
        what = "an area it serves" if kind == "area" else "an online community"
        raise FieldError(
            "location",
            f"of {what} is the area it covers (a polygon), not a {geom.geom_type.lower()}; say kind=place for a point.",
        )
    if not geom.is_valid:
        raise FieldError("location", "is not a valid area (its edges cross); redraw it.")
    if geom.area == 0:
        raise FieldError("location", "is an area with no size.")
    km2 = geodesy.area_m2(geom) / 1e6
    if km2 > settings.max_area_km2:
        raise FieldError(
            "location",
            f"covers {km2:,.0f} km², more than the {settings.max_area_km2:,.0f} km² an asset's area can cover.",
        )
    return geom


def _links(data: dict[str, Any]) -> list[AssetLink]:
    out = []
    for raw in data.get("links") or []:
        relation = str(raw.get("relation", ""))
        if relation not in RELATIONS:
            raise FieldError("links", f"unknown kind of link {relation[:30]!r}.")
        target = str(raw.get("target", ""))
        match = TARGET_PATTERN.fullmatch(target)
        if not match:
            raise FieldError("links", f"{target[:60]!r} is not a place on the map.")
        if match.group(3):
            out.append(AssetLink(relation, target_asset_id=int(match.group(3))))
        else:
            out.append(AssetLink(relation, target_osm_type=match.group(1), target_osm_id=int(match.group(2))))
    return out


def targets_on_the_map() -> pd.DataFrame:
    """What links may point at on the loaded map: name, category and a point, by asset id."""
    from layers.osm import sources  # the loaded map: what links may point at

    osm = sources.current().assets
    xs, ys = geodesy.representative_xy(np.asarray(osm.geometry.values))
    return pd.DataFrame(
        {"name": osm["name"].values, "category": osm["category"].values, "lon": xs, "lat": ys}, index=osm["id"].values
    )


def _with_target_details(
    links: list[AssetLink] | tuple[AssetLink, ...], before: tuple[AssetLink, ...], on_map: pd.DataFrame | None = None
) -> tuple[AssetLink, ...]:
    """Each link with the name, category and place of what it points at, as the map has them now.
    A target no longer on the map may stay only if the asset already had it (an edit keeps it,
    flagged); a new link must point at something on the map. (`on_map`: pass it when checking
    many rows.)"""
    if not links:
        return ()
    on_map = targets_on_the_map() if on_map is None else on_map
    kept = {link.target: link for link in before}
    out = []
    for link in links:
        tid = link.target
        if link.target_asset_id is not None:
            other = store.get_asset(int(link.target_asset_id))
            if other is None or other.geometry is None:
                raise FieldError(
                    "links",
                    f"there is no community asset {link.target_asset_id}, so it is "
                    "not on the loaded map (link to a place that exists).",
                )
            centre = other.geometry.representative_point()
            out.append(
                replace(
                    link,
                    target_name=other.name,
                    target_category=other.category,
                    target_lon=centre.x,
                    target_lat=centre.y,
                )
            )
        elif tid in on_map.index:
            row: dict[Any, Any] = on_map.loc[tid].to_dict()
            out.append(
                replace(
                    link,
                    target_name=None if pd.isna(row["name"]) else str(row["name"]),
                    target_category=str(row["category"]),
                    target_lon=float(row["lon"]),
                    target_lat=float(row["lat"]),
                )
            )
        elif tid in kept:
            was = kept[tid]
            out.append(
                replace(
                    link,
                    target_name=was.target_name,
                    target_category=was.target_category,
                    target_lon=was.target_lon,
                    target_lat=was.target_lat,
                )
            )
        else:
            raise FieldError("links", f"{tid} is not on the loaded map.")
    return tuple(out)


def clean_asset(data: dict[str, Any]) -> AssetDraft:
    """One asset's fields checked and tidied (links not yet checked against the map: see
    create_assets and update_asset); raises FieldError naming the field."""
    kind = str(data.get("kind") or "place")
    if kind not in KINDS:
        raise FieldError("kind", f"must be one of: {', '.join(KINDS)}.")
    name = _text(data, "name", required=True)
    assert name is not None
    if len(name) < 2:
        raise FieldError("name", "needs at least 2 characters.")
    category = str(data.get("category") or "community_groups")
    if category not in categories.by_id():
        raise FieldError("category", f"unknown category {category[:40]!r}.")
    email = _text(data, "email")
    if email and not EMAIL_PATTERN.fullmatch(email):
        raise FieldError("email", "is not an email address.")
    phone = _text(data, "phone")
    if phone and not PHONE_PATTERN.fullmatch(phone):
        raise FieldError("phone", "may hold only digits, spaces, + ( ) . / and -.")
    geometry = shapely.from_wkt(shapely.to_wkt(_geometry(data, kind), rounding_precision=7))  # 1 cm is enough
    return AssetDraft(
        name=name,
        category=category,
        kind=kind,
        geometry=geometry,
        description=_text(data, "description"),
        address=_text(data, "address"),
        website=_url(data, "website"),
        online_url=_url(data, "online_url", required=kind == "online"),
        email=email,
        phone=phone,
        schedule=_text(data, "schedule"),
        eligibility=_text(data, "eligibility"),
        opening_hours=_text(data, "opening_hours"),
        links=tuple(_links(data)),
    )


# ---------------------------------------------------------------- who may do what


def _own_group_id(user: User) -> int | None:
    return store.group_id(user.group) if user.group else None


def _require(user: User | None, roles: tuple[str, ...], what: str) -> User:
    if user is None:
        raise NotAllowedError(f"Sign in to {what}.")
    if user.role not in roles:
        raise NotAllowedError(f"A {user.role} cannot {what}.")
    return user


def _may_edit(user: User, asset: Asset) -> None:
    if user.role in ("admin", "moderator"):
        return
    if user.role == "editor" and asset.group_id is not None and asset.group_id == _own_group_id(user):
        return
    raise NotAllowedError("You can change only your own group's assets.")


def asset_for(user: User | None, asset_id: int) -> Asset:
    """One asset with its links, for someone who may change it (or moderate it)."""
    who = _require(user, ("admin", "moderator", "editor", "planner"), "look at community assets")
    asset = store.get_asset(int(asset_id))
    if asset is None:
        raise BadInputError(f"There is no community asset {asset_id}.")
    if who.role == "editor":
        _may_edit(who, asset)
    return asset


def create_asset(user: User | None, data: dict[str, Any], *, group: str | None = None, publish: bool = False) -> int:
    return create_assets(user, [data], group=group, publish=publish)[0]


def create_assets(
    user: User | None,
    rows: list[dict[str, Any]],
    *,
    group: str | None = None,
    publish: bool = False,
    row_offset: int = 1,
) -> list[int]:
    """Check every row first; write all of them in one transaction, or none (with the first
    problem, naming its row and field)."""
    who = _require(user, ("admin", "moderator", "editor"), "add community assets")
    if publish and who.role not in ("admin", "moderator"):
        raise NotAllowedError("Only a moderator or an admin can publish.")
    if who.role == "editor":
        if group and group.casefold() != (who.group or "").casefold():
            raise NotAllowedError(f"An editor adds assets only for their own group ({who.group}).")
        group_id = _own_group_id(who)
    else:
        if not group:
            raise BadInputError("Say which group these assets belong to.")
        accounts.check_group_name(" ".join(group.split()))
        group_id = store.group_id(" ".join(group.split()), create=True)
    if group_id is None:
        raise BadInputError("That group does not exist.")
    cleaned = []
    area = _served_area()
    prefixes = []
    on_map: pd.DataFrame | None = None
    for n, row in enumerate(rows, start=row_offset):
        prefix = f"Row {n}: " if len(rows) > 1 or row_offset != 1 else ""
        try:
            item = clean_asset(row)
            if item.links and on_map is None:
                on_map = targets_on_the_map()
            item = replace(item, links=_with_target_details(item.links, (), on_map))
            _check_near_the_map(item, area)
        except BadInputError as exc:
            raise BadInputError(f"{prefix}{exc}") from exc
        cleaned.append(item)
        prefixes.append(prefix)

    def not_already_there(existing: list[Asset]) -> None:
        """Run inside the writing transaction, so two imports of one file cannot both pass."""
        index = _by_name(existing)
        for item, prefix in zip(cleaned, prefixes, strict=True):
            try:
                _check_not_already_there(item, index)
            except BadInputError as exc:
                raise BadInputError(f"{prefix}{exc}") from exc

    return store.insert_assets(
        cleaned, group=group_id, user=who.id, status="published" if publish else "pending", check=not_already_there
    )


MAX_DISTANCE_FROM_MAP_M = 50_000.0


def _served_area() -> BaseGeometry:
    from layers.osm import sources  # the loaded map's extent: assets belong near it

    return shapely.box(*sources.current().bounds)


def _check_near_the_map(item: AssetDraft, area: BaseGeometry) -> None:
    geom = item.geometry
    assert geom is not None  # checked by clean_asset
    nearest = shapely.ops.nearest_points(area, geom.centroid)
    gap = float(geodesy.distances_m(nearest[0].x, nearest[0].y, np.array([nearest[1].x]), np.array([nearest[1].y]))[0])
    if gap > MAX_DISTANCE_FROM_MAP_M:
        raise FieldError(
            "location",
            f"is {gap / 1000:,.0f} km from the loaded map; are longitude and latitude "
            "swapped, or is this another area?",
        )


def _by_name(existing: list[Asset]) -> dict[str, list[Asset]]:
    index: dict[str, list[Asset]] = {}
    for row in existing:
        if row.status != "rejected":
            index.setdefault(" ".join(str(row.name).casefold().split()), []).append(row)
    return index


def _check_not_already_there(item: AssetDraft, index: dict[str, list[Asset]]) -> None:
    """The same name at the same place in the same group: a duplicate submission. Only rows of
    the same name are compared (a dictionary look-up), so a large import stays linear."""
    same_name = index.get(" ".join(item.name.casefold().split()), [])
    if not same_name or item.geometry is None:
        return
    centre = item.geometry.centroid
    for row in same_name:
        other = row.geometry  # None: a damaged row, which moderators see (published_problems)
        if other is not None and not other.is_empty and other.centroid.distance(centre) < 1e-5:
            raise FieldError("name", f"{item.name!r} is already on the map here (community:{row.id}).")


def update_asset(user: User | None, asset_id: int, data: dict[str, Any], *, expected_version: int) -> int:
    who = _require(user, ("admin", "moderator", "editor"), "change community assets")
    asset = store.get_asset(asset_id)
    if asset is None:
        raise BadInputError(f"There is no community asset {asset_id}.")
    _may_edit(who, asset)
    cleaned = clean_asset(data)
    links = _with_target_details(cleaned.links, asset.links)
    status = asset.status if who.role in ("admin", "moderator") else "pending"
    values = {**_own_fields(cleaned), "status": status, "rejection_reason": None}
    return store.change_asset(
        asset_id, values, expected_version=expected_version, action="edited", user=who.id, links=links
    )


def _own_fields(draft: AssetDraft) -> dict[str, Any]:
    return {f: getattr(draft, f) for f in ASSET_FIELDS}


MAX_REASON = 500
MODERATION_CHANGED = (
    "This asset was changed after you opened it, so nothing was published or rejected; check the version now shown."
)


def _moderate(asset_id: int, values: dict[str, Any], *, expected_version: int | None, action: str, who: User) -> int:
    try:
        return store.change_asset(asset_id, values, expected_version=expected_version, action=action, user=who.id)
    except store.ConflictError as exc:
        raise ChangedMeanwhileError(MODERATION_CHANGED) from exc


def publish(user: User | None, asset_id: int, *, expected_version: int | None = None) -> int:
    """Publish the asset as the moderator was shown it: with `expected_version` (the pages always
    give it), a change made in between stops the publish with ChangedMeanwhileError."""
    who = _require(user, ("admin", "moderator"), "publish community assets")
    return _moderate(
        asset_id,
        {"status": "published", "rejection_reason": None},
        expected_version=expected_version,
        action="published",
        who=who,
    )


def reject(user: User | None, asset_id: int, reason: str, *, expected_version: int | None = None) -> int:
    who = _require(user, ("admin", "moderator"), "reject community assets")
    text = " ".join(str(reason or "").split())
    if not text:
        raise FieldError("reason", "is required: tell the group what to change.")
    if CONTROL.search(text):
        raise FieldError("reason", "contains control characters.")
    if len(text) > MAX_REASON:
        raise FieldError("reason", f"can be at most {MAX_REASON} characters (this has {len(text):,}).")
    return _moderate(
        asset_id,
        {"status": "rejected", "rejection_reason": text},
        expected_version=expected_version,
        action="rejected",
        who=who,
    )


def verify(user: User | None, asset_id: int) -> int:
    """ "Still right": the group confirms the asset, which resets its freshness."""
    who = _require(user, ("admin", "moderator", "editor"), "confirm community assets")
    asset = store.get_asset(asset_id)
    if asset is None:
        raise BadInputError(f"There is no community asset {asset_id}.")
    _may_edit(who, asset)
    return store.change_asset(
        asset_id, {"last_verified": date.today().isoformat()}, expected_version=None, action="verified", user=who.id
    )


def restore(user: User | None, asset_id: int, version: int, *, expected_version: int | None = None) -> int:
    """Make an earlier version the pending one: it waits to be checked again (residents keep
    seeing nothing new until a moderator publishes it)."""
    who = _require(user, ("admin", "moderator"), "restore earlier versions")
    past = next((h for h in store.asset_history(asset_id) if h.version == version), None)
    if past is None:
        raise BadInputError(f"Asset {asset_id} has no version {version}.")
    if past.asset.geometry is None:
        raise BadInputError(
            f"Version {version} of asset {asset_id} has no location that can be read, so it cannot be restored."
        )
    values = {**_own_fields(past.asset), "status": "pending", "rejection_reason": None}
    return store.change_asset(
        asset_id,
        values,
        expected_version=expected_version,
        action=f"restored version {version}",
        user=who.id,
        links=past.asset.links,
    )


HISTORY_FIELDS = [*ASSET_FIELDS, "links", "status", "rejection_reason"]


@dataclass(frozen=True)
class Change:
    """One entry of an asset's history: what was done, by whom, when, which fields it changed,
    and the asset as it was after it."""

    version: int
    action: str
    who: str | None
    when: str
    changed: tuple[str, ...]
    asset: AssetDraft
    status: str | None
    rejection_reason: str | None


def field_value(record: Asset | Change, field: str) -> Any:
    """A field of an asset, or of an asset as a history entry has it (None when it has no such field)."""
    if isinstance(record, Change) and field not in ("status", "rejection_reason"):
        return getattr(record.asset, field, None)
    return getattr(record, field, None)


def comparable(field: str, value: Any) -> Any:
    """A value as people compare it: links by what they point at, empty text as nothing."""
    if field == "links":
        return sorted(f"{link.relation} {link.target}" for link in value or ())
    if isinstance(value, BaseGeometry):
        return None if value.is_empty else value.wkb
    return value or None


def _change(entry: AssetVersion, changed: tuple[str, ...]) -> Change:
    return Change(
        version=entry.version,
        action=entry.action,
        who=entry.changed_by,
        when=entry.changed_at,
        changed=changed,
        asset=entry.asset,
        status=entry.status,
        rejection_reason=entry.rejection_reason,
    )


def history(user: User | None, asset_id: int) -> list[Change]:
    """Every change to an asset: version, what was done, who, when, and which fields changed. For
    whoever may look at the asset itself (see asset_for): a history holds unpublished versions."""
    asset_for(user, asset_id)
    out: list[Change] = []
    for entry in store.asset_history(asset_id):
        current = _change(entry, ())
        changed = tuple(
            k
            for k in HISTORY_FIELDS
            if out and comparable(k, field_value(current, k)) != comparable(k, field_value(out[-1], k))
        )
        out.append(replace(current, changed=changed))
    return out


def visible_assets(
    user: User | None, *, status: str | None = None, group: str | None = None, everyone: bool = False
) -> list[Asset]:
    """Assets this person may see: residents only published ones; editors also their group's.
    `everyone` is for the command line, run by whoever runs the server."""
    if status is not None and status not in STATUSES:
        raise BadInputError(f"Unknown status {status!r}; choose from: {', '.join(STATUSES)}.")
    group_id = store.group_id(group) if group else None
    if group and group_id is None:
        raise BadInputError(f"There is no group called {group!r}.")
    rows = store.asset_rows(status=status, group=group_id)
    if everyone or (user is not None and user.role in ("admin", "moderator", "planner")):
        return rows
    own = _own_group_id(user) if user is not None and user.role == "editor" else None
    return [r for r in rows if r.status == "published" or (own is not None and r.group_id == own)]


def pending_assets(user: User | None, *, everyone: bool = False) -> list[Asset]:
    """Assets waiting for a moderator, for a planner's export: planners, moderators and admins
    only (`everyone` is for the command line, run by whoever runs the server)."""
    if not everyone:
        _require(user, ("admin", "moderator", "planner"), "include assets not yet checked")
    return visible_assets(user, status="pending", everyone=everyone)


def published_within(area: BaseGeometry) -> list[int]:
    """Ids of the published community assets that meet an area: anyone may see these. The
    query runs in the database on PostGIS (GiST index), on a shapely STRtree with SQLite."""
    return store.assets_within(area, status="published")


def is_stale(row: Asset, today: date | None = None) -> bool:
    checked = row.last_verified
    if not checked:
        return True
    return date.fromisoformat(str(checked)[:10]) < (today or date.today()) - STALE_AFTER


# ---------------------------------------------------------------- on the map


def target_id(link: AssetLink) -> str:
    return link.target


def unshowable(row: Asset) -> str | None:
    """Why a stored asset cannot be shown or exported (a row written by an older version, or by
    hand), or None when it can. Such a row is skipped, logged and shown to moderators; it never
    takes a page down."""
    geom = row.geometry
    if geom is None:
        return "its location cannot be read"
    if geom.is_empty:
        return "it has no location"
    values = shapely.get_coordinates(geom, include_z=bool(shapely.has_z(geom)), include_m=bool(shapely.has_m(geom)))
    if not np.isfinite(values).all():
        return "its location has coordinates or heights that are not numbers"
    xy = values[:, :2]
    if not ((xy[:, 0] >= -180) & (xy[:, 0] <= 180) & (xy[:, 1] >= -90) & (xy[:, 1] <= 90)).all():
        return "its location is outside longitude -180..180, latitude -90..90"
    if shapely.get_num_coordinates(geom) > settings.max_asset_vertices:
        return f"its area has more than {settings.max_asset_vertices:,} points"
    if not isinstance(row.name, str) or not row.name.strip():
        return "it has no name"
    if row.category not in categories.by_id():
        return f"its category {str(row.category)[:40]!r} is unknown"
    return None


def showable(rows: list[Asset]) -> list[Asset]:
    """The assets that can be shown, with their geometry in 2D; the others are logged."""
    out = []
    for r in rows:
        reason = unshowable(r)
        if reason is not None:
            logger.warning("community:%s is not shown: %s", r.id, reason)
            continue
        out.append(replace(r, geometry=shapely.force_2d(r.geometry)))
    return out


@dataclass(frozen=True)
class RowProblem:
    """A published asset that cannot be shown, and why (for moderators)."""

    id: int
    name: str
    reason: str


def published_problems() -> list[RowProblem]:
    """Published assets that cannot be shown, for moderators: id, name and why."""
    out = []
    for r in store.asset_rows(status="published"):
        reason = unshowable(r)
        if reason is not None:
            out.append(RowProblem(r.id, str(r.name or ""), reason))
    return out


def target_name(link: AssetLink, names: dict[str, str] | None = None) -> str:
    """What a person calls the linked place: its name now, else its name when linked; never a raw id."""
    name = (names or {}).get(link.target) or link.target_name
    if name:
        return str(name)
    label = categories.by_id().get(str(link.target_category or ""))
    return f"a {label.label.lower()} place" if label else "a place on the map"


def link_label(link: AssetLink, names: dict[str, str] | None = None) -> str:
    """ "Cares for Kaisaniemen puisto" """
    return f"{RELATIONS.get(link.relation, link.relation)} {target_name(link, names)}"


REPLACEMENT_WITHIN_M = 200.0


@dataclass(frozen=True)
class LinkProblem:
    """A link whose OpenStreetMap feature is gone from the map, its likely replacement (the map's
    id of it, or None) and one sentence saying so."""

    link: AssetLink
    replacement: str | None
    message: str


def link_problems(asset: Asset, on_map: pd.DataFrame | None = None) -> list[LinkProblem]:
    """Links whose OpenStreetMap feature is not in the current extract (deleted, or re-mapped under
    a new id after `load`), each with its likely replacement: the nearest feature of the same name
    and category within REPLACEMENT_WITHIN_M of where the old one was (None when there is none).
    (`on_map`: targets_on_the_map(), when checking many assets.)"""
    out = []
    for link in asset.links:
        if link.target_asset_id is not None:
            continue
        if on_map is None:
            on_map = targets_on_the_map()
        if link.target in on_map.index:
            continue
        replacement = None
        name, lon, lat = link.target_name, link.target_lon, link.target_lat
        if name and lon is not None and lat is not None:
            same = on_map[
                (on_map["name"].astype(str).str.casefold() == str(name).casefold())
                & (on_map["category"] == link.target_category)
            ]
            if len(same):
                dist = geodesy.distances_m(float(lon), float(lat), same["lon"].to_numpy(), same["lat"].to_numpy())
                best = int(np.argmin(dist))
                if dist[best] <= REPLACEMENT_WITHIN_M:
                    replacement = str(same.index[best])
        out.append(
            LinkProblem(
                link,
                replacement,
                f"{target_name(link)} ({RELATIONS.get(link.relation, '')} link) is no longer "
                "on the map" + (": it looks as if it was mapped again." if replacement else "."),
            )
        )
    return out


def use_replacement(
    user: User | None, asset_id: int, old_target: str, new_target: str, *, expected_version: int
) -> int:
    """Point a flagged link at its replacement (one click on the group's or the moderator's page)."""
    asset = store.get_asset(asset_id)
    if asset is None:
        raise BadInputError(f"There is no community asset {asset_id}.")
    data: dict[str, Any] = _own_fields(asset.draft())
    data["links"] = [
        {"relation": link.relation, "target": new_target if link.target == old_target else link.target}
        for link in asset.links
    ]
    return update_asset(user, asset_id, data, expected_version=expected_version)


def published_layer(names: dict[str, str] | None = None) -> gpd.GeoDataFrame:
    """Published community assets in the common asset shape, with a note for their links and
    freshness ("Cares for Kaisaniemen puisto · Meets Saturdays · Not checked since 2024-05-01").
    A row that cannot be shown is skipped and logged (moderators see it: published_problems)."""
    rows = showable(store.asset_rows(status="published"))
    if not rows:
        return schema.empty_assets()
    names = {**(names or {}), **{f"community:{r.id}": r.name for r in rows}}
    notes = []
    for r in rows:
        parts = [link_label(link, names) for link in r.links]
        if r.description:
            parts.append(str(r.description))
        if r.eligibility:
            parts.append(f"For: {r.eligibility}")
        if r.email:
            parts.append(f"Email: {r.email}")
        if r.schedule:
            parts.append(f"Meets: {r.schedule}")
        if r.online_url:
            parts.append(f"Online: {r.online_url}")
        parts.append(f"Group: {r.group_name}")
        if is_stale(r):
            parts.append(f"Not checked since {str(r.last_verified or r.created_at)[:10]}")
        notes.append(" · ".join(parts))
    frame = gpd.GeoDataFrame(
        {
            "id": [f"community:{r.id}" for r in rows],
            "source": "community",
            "osm_type": None,
            "osm_id": None,
            "name": [r.name for r in rows],
            "category": [r.category for r in rows],
            "address": [r.address for r in rows],
            "website": [r.website or r.online_url for r in rows],
            "phone": [r.phone for r in rows],
            "opening_hours": [r.opening_hours for r in rows],
            "note": notes,
        },
        geometry=np.asarray([r.geometry for r in rows], dtype=object),
        crs=schema.WGS84,
    )
    return schema.conform_assets(frame)


def back_links() -> dict[str, str]:
    """For each linked feature, what published groups say about it ("Cared for by …")."""
    out: dict[str, list[str]] = {}
    for r in store.asset_rows(status="published"):
        for link in r.links:
            out.setdefault(link.target, []).append(f"{RELATION_BACK[link.relation]} {r.name}")
    return {k: " · ".join(v) for k, v in out.items()}


def similar_nearby(name: str, point: BaseGeometry, assets: pd.DataFrame) -> list[str]:
    """Names like this one within 100 m (community or OSM): "is this already on the map?"."""
    if len(assets) == 0 or point.is_empty:
        return []
    centre = point.centroid
    xs, ys = geodesy.representative_xy(np.asarray(assets.geometry.values))
    near = geodesy.distances_m(centre.x, centre.y, xs, ys) <= SIMILAR_WITHIN_M
    wanted = " ".join(name.casefold().split())
    found = []
    for other in assets.loc[near, "name"].dropna().astype(str):
        if difflib.SequenceMatcher(None, wanted, " ".join(other.casefold().split())).ratio() >= 0.8:
            found.append(other)
    return sorted(set(found))
