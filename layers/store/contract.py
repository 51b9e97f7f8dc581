"""The store contract: what every backend (layers/store/sqlite.py, layers/store/postgis.py) does,
typed, with its records. Domain modules call layers/store/__init__.py, which picks the backend.

What crosses the contract is typed: frozen record dataclasses (below) out, records or plain
values in; geometry is a shapely geometry both ways (SQLite keeps WKT text, PostGIS a
geometry(…, 4326) column; each backend converts inside). A stored geometry that cannot be read
comes back as None (the backend logs it) so one damaged row never takes a page down. The store
only stores: checking input (names, sizes, areas, who may do what) is done by the domain modules
before they call it. Named errors: a change made meanwhile raises `layers.errors.ConflictError`,
a storage fault `layers.errors.StorageError`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import shapely
from shapely.geometry.base import BaseGeometry

# An asset's own fields (what a group gives), as attributes of AssetDraft and Asset.
ASSET_FIELDS = [
    "name",
    "category",
    "kind",
    "geometry",
    "description",
    "address",
    "website",
    "email",
    "phone",
    "online_url",
    "schedule",
    "eligibility",
    "opening_hours",
]
LINK_FIELDS = [
    "relation",
    "target_osm_type",
    "target_osm_id",
    "target_asset_id",
    "target_name",
    "target_category",
    "target_lon",
    "target_lat",
]
# What change_asset may set (links are given on their own).
CHANGEABLE_FIELDS = {*ASSET_FIELDS, "status", "rejection_reason", "last_verified", "group_id"}

# What tests may set behind the app's back (a link target re-mapped by a newer extract, an asset
# last checked long ago): table -> columns. Only these, so the helper is no back door to
# arbitrary SQL. (Tests let time pass for sessions and sign-in delays by giving `now`.)
TEST_SETTABLE: dict[str, set[str]] = {
    "asset_links": {"target_osm_id"},
    "community_assets": {"last_verified", "status"},
}
TEST_READABLE = {
    "sign_in_sessions",
    "sign_in_attempts",
    "users",
    "community_assets",
    "asset_links",
    "asset_history",
    "saved_locals",
    "groups",
}


@dataclass(frozen=True)
class SavedLocal:
    """A resident's saved local: `area` is None when the stored area cannot be read."""

    token: str
    name: str
    spec_json: str
    area: BaseGeometry | None
    created_at: str


@dataclass(frozen=True)
class LocalFootprint:
    """Who saved a local and its area, for aggregates only: `owner` is the signed-in account's key,
    `source` where an anonymous resident connected from; `area` None when it cannot be read."""

    owner: str | None
    source: str | None
    area: BaseGeometry | None


@dataclass(frozen=True)
class UserRow:
    id: int
    name: str
    role: str
    group_id: int | None
    group_name: str | None
    password_hash: str


@dataclass(frozen=True)
class Person:
    """An account as an admin lists it (never its password hash)."""

    id: int
    name: str
    role: str
    group_name: str | None
    created_at: str
    email: str | None


@dataclass(frozen=True)
class SignInSession:
    id: int
    user_id: int
    created_at: str
    last_seen: str


@dataclass(frozen=True)
class AssetLink:
    """An asset *cares for*, *meets at* or *runs a service at* a place: an OpenStreetMap feature
    (type and id) or another community asset (its id), with the name, category and point it had
    when linked (so a link to a feature gone from a newer extract can still be named)."""

    relation: str
    target_osm_type: str | None = None
    target_osm_id: int | None = None
    target_asset_id: int | None = None
    target_name: str | None = None
    target_category: str | None = None
    target_lon: float | None = None
    target_lat: float | None = None

    @property
    def target(self) -> str:
        """What it points at, as the map's ids say it: "osm:way/123" or "community:7"."""
        if self.target_asset_id is not None:
            return f"community:{self.target_asset_id}"
        return f"osm:{self.target_osm_type}/{self.target_osm_id}"


@dataclass(frozen=True)
class AssetDraft:
    """An asset's own fields as a group gives them (checked by layers/groups/community.py before
    they reach the store). `geometry` is None only in a history entry whose location was lost."""

    name: str
    category: str
    kind: str
    geometry: BaseGeometry | None
    description: str | None = None
    address: str | None = None
    website: str | None = None
    email: str | None = None
    phone: str | None = None
    online_url: str | None = None
    schedule: str | None = None
    eligibility: str | None = None
    opening_hours: str | None = None
    links: tuple[AssetLink, ...] = ()


@dataclass(frozen=True)
class Asset:
    """A stored community asset: its own fields, its links, and what the store keeps about it
    (status, version for optimistic locking, group, freshness). `geometry` is None when the stored
    location cannot be read (a row damaged by hand or by an older version; the backend logs it)."""

    id: int
    name: str
    category: str
    kind: str
    geometry: BaseGeometry | None
    status: str
    version: int
    group_id: int | None = None
    group_name: str | None = None
    description: str | None = None
    address: str | None = None
    website: str | None = None
    email: str | None = None
    phone: str | None = None
    online_url: str | None = None
    schedule: str | None = None
    eligibility: str | None = None
    opening_hours: str | None = None
    last_verified: str | None = None
    rejection_reason: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    updated_by: int | None = None
    links: tuple[AssetLink, ...] = ()

    def draft(self) -> AssetDraft:
        """Its own fields, as a group would give them again."""
        return AssetDraft(**{f: getattr(self, f) for f in ASSET_FIELDS}, links=self.links)


@dataclass(frozen=True)
class AssetVersion:
    """One entry of an asset's history: what was done, by whom (their name), when, and the asset's
    fields, status and rejection reason as they were after it."""

    version: int
    action: str
    changed_at: str
    changed_by: str | None
    asset: AssetDraft
    status: str | None
    rejection_reason: str | None


def snapshot_json(draft: AssetDraft, status: str | None, rejection_reason: str | None) -> str:
    """An asset's state as its history keeps it (the same JSON on every backend)."""
    record: dict[str, Any] = {f: getattr(draft, f) for f in ASSET_FIELDS if f != "geometry"}
    record["geometry_wkt"] = None if draft.geometry is None else shapely.to_wkt(draft.geometry, rounding_precision=-1)
    record.update(status=status, links=[asdict(link) for link in draft.links], rejection_reason=rejection_reason)
    return json.dumps(record, ensure_ascii=False, default=str)


def version_from_json(
    version: int, action: str, changed_at: str, changed_by: str | None, snapshot: str
) -> AssetVersion:
    """A history entry back from its JSON (older entries may lack fields: they read as empty)."""
    try:
        data = json.loads(snapshot)
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    try:
        geometry = shapely.from_wkt(str(data["geometry_wkt"])) if data.get("geometry_wkt") else None
    except shapely.errors.ShapelyError:
        geometry = None
    links = tuple(
        AssetLink(**{k: v for k, v in link.items() if k in LINK_FIELDS})
        for link in data.get("links") or []
        if isinstance(link, dict) and link.get("relation")
    )
    own: dict[str, Any] = {f: data.get(f) for f in ASSET_FIELDS if f not in ("geometry", "name", "category", "kind")}
    draft = AssetDraft(
        name=str(data.get("name") or ""),
        category=str(data.get("category") or ""),
        kind=str(data.get("kind") or "place"),
        geometry=geometry,
        links=links,
        **own,
    )
    return AssetVersion(
        version=version,
        action=action,
        changed_at=changed_at,
        changed_by=changed_by,
        asset=draft,
        status=data.get("status"),
        rejection_reason=data.get("rejection_reason"),
    )


class Store(Protocol):
    """Every backend offers these; each write is one transaction."""

    # saved locals
    def insert_local(
        self,
        token: str,
        name: str,
        spec_json: str,
        area: BaseGeometry,
        *,
        owner: str | None,
        source: str | None,
        now: str,
        since: str,
        per_source_per_day: int,
    ) -> None: ...
    def get_local(self, token: str) -> SavedLocal | None: ...
    def locals_owned_by(self, owner: str) -> list[SavedLocal]: ...
    def saved_local_footprints(self) -> list[LocalFootprint]: ...
    def locals_version(self) -> str: ...

    # people
    def group_id(self, name: str, *, create: bool = False) -> int | None: ...
    def group_names(self) -> list[str]: ...
    def rename_group(self, group_id: int, name: str) -> None: ...
    def insert_user(self, name: str, role: str, password_hash: str, group: int | None) -> int: ...
    def find_user(self, *, name: str | None = None, user_id: int | None = None) -> UserRow | None: ...
    def set_password_hash(self, user_id: int, password_hash: str) -> None: ...
    def list_users(self) -> list[Person]: ...
    def set_user_email(self, user_id: int, email: str | None) -> None: ...
    def find_user_by_email(self, email: str) -> UserRow | None: ...

    # community assets
    def insert_assets(
        self,
        drafts: list[AssetDraft],
        *,
        group: int,
        user: int | None,
        status: str,
        check: Callable[[list[Asset]], None] | None = None,
    ) -> list[int]: ...
    def get_asset(self, asset_id: int) -> Asset | None: ...
    def change_asset(
        self,
        asset_id: int,
        values: dict[str, Any],
        *,
        expected_version: int | None,
        action: str,
        user: int | None,
        links: tuple[AssetLink, ...] | None = None,
    ) -> int: ...
    def asset_rows(self, *, status: str | None = None, group: int | None = None) -> list[Asset]: ...
    def assets_within(self, area: BaseGeometry, *, status: str | None = None) -> list[int]: ...
    def asset_ids(self) -> list[int]: ...
    def asset_history(self, asset_id: int) -> list[AssetVersion]: ...
    def community_version(self) -> str: ...
    def layers_version(self) -> tuple[str, str]: ...  # (the loaded region's, the community assets')
    def data_version(self, name: str) -> int: ...

    # sign-in sessions and attempts
    def insert_session(self, user_id: int, code_hash: str, code_expires: str, now: str) -> int: ...
    def claim_session_code(self, code_hash: str, token_hash: str, now: str) -> int | None: ...
    def find_session(self, *, token_hash: str | None = None, session_id: int | None = None) -> SignInSession | None: ...
    def touch_session(self, session_id: int, now: str) -> None: ...
    def delete_sessions(
        self,
        *,
        session_id: int | None = None,
        user_id: int | None = None,
        idle_before: str | None = None,
        created_before: str | None = None,
    ) -> int: ...
    def reserve_sign_in_attempt(
        self, keys: list[str], now: float, window_s: float, delay_for: Callable[[str, int], float]
    ) -> tuple[float, str | None]: ...
    def forgive_sign_in_attempt(self, key: str) -> None: ...
    def clear_sign_in_attempts(self, key: str) -> None: ...

    # for tests and checks
    def snapshot(self) -> dict[str, list[str]]: ...
    def table_rows(self, table: str) -> list[dict[str, Any]]: ...
    def set_for_tests(self, table: str, values: dict[str, Any], where: dict[str, Any]) -> int: ...


def check_test_set(table: str, values: dict[str, Any], where: dict[str, Any]) -> None:
    allowed = TEST_SETTABLE.get(table, set())
    if not values or set(values) - allowed or set(where) - allowed - {"id", "asset_id", "key", "user_id"}:
        raise ValueError(f"set_for_tests cannot set {sorted(values)} where {sorted(where)} in {table!r}")


def check_test_read(table: str) -> None:
    if table not in TEST_READABLE:
        raise ValueError(f"table_rows cannot read {table!r}")
