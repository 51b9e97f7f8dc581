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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from shapely.geometry.base import BaseGeometry

ASSET_FIELDS = ["name", "category", "kind", "geometry_wkt", "description", "address", "website", "email",
                "phone", "online_url", "schedule", "eligibility", "opening_hours"]
LINK_FIELDS = ["relation", "target_osm_type", "target_osm_id", "target_asset_id", "target_name", "target_category",
               "target_lon", "target_lat"]
CHANGEABLE_FIELDS = {*ASSET_FIELDS, "status", "rejection_reason", "last_verified", "group_id"}

# What tests may set behind the app's back (to age a session, pass a delay, damage a link):
# table -> columns. Only these, so the helper is no back door to arbitrary SQL.
TEST_SETTABLE: dict[str, set[str]] = {
    "sign_in_sessions": {"last_seen", "created_at", "code_expires"},
    "sign_in_attempts": {"next_allowed"},
    "asset_links": {"target_osm_id"},
    "community_assets": {"last_verified", "status"},
}
TEST_READABLE = {"sign_in_sessions", "sign_in_attempts", "users", "community_assets", "asset_links",
                 "asset_history", "saved_locals", "groups"}


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


class Store(Protocol):
    """Every backend offers these; each write is one transaction."""

    # saved locals
    def insert_local(self, token: str, name: str, spec_json: str, area: BaseGeometry, *, owner: str | None,
                     source: str | None, now: str, since: str, per_source_per_day: int) -> None: ...
    def get_local(self, token: str) -> SavedLocal | None: ...
    def locals_owned_by(self, owner: str) -> list[SavedLocal]: ...
    def saved_local_footprints(self) -> list[LocalFootprint]: ...
    def locals_version(self) -> str: ...

    # people
    def group_id(self, name: str, *, create: bool = False) -> int | None: ...
    def group_names(self) -> list[str]: ...
    def insert_user(self, name: str, role: str, password_hash: str, group: int | None) -> int: ...
    def find_user(self, *, name: str | None = None, user_id: int | None = None) -> UserRow | None: ...
    def set_password_hash(self, user_id: int, password_hash: str) -> None: ...
    def list_users(self) -> list[Person]: ...
    def set_user_email(self, user_id: int, email: str | None) -> None: ...
    def find_user_by_email(self, email: str) -> UserRow | None: ...

    # community assets
    def insert_assets(self, items: list[dict[str, Any]], *, group: int, user: int | None, status: str,
                      history_snapshot: Callable[[dict[str, Any]], str],
                      check: Callable[[list[dict[str, Any]]], None] | None = None) -> list[int]: ...
    def get_asset(self, asset_id: int) -> dict[str, Any] | None: ...
    def change_asset(self, asset_id: int, values: dict[str, Any], *, expected_version: int | None, action: str,
                     user: int | None, snapshot: Callable[[dict[str, Any]], str],
                     links: list[dict[str, Any]] | None = None) -> int: ...
    def asset_rows(self, *, status: str | None = None, group: int | None = None) -> list[dict[str, Any]]: ...
    def assets_within(self, area: BaseGeometry, *, status: str | None = None) -> list[int]: ...
    def asset_ids(self) -> list[int]: ...
    def asset_history(self, asset_id: int) -> list[dict[str, Any]]: ...
    def community_version(self) -> str: ...

    # sign-in sessions and attempts
    def insert_session(self, user_id: int, code_hash: str, code_expires: str, now: str) -> int: ...
    def claim_session_code(self, code_hash: str, token_hash: str, now: str) -> int | None: ...
    def find_session(self, *, token_hash: str | None = None,
                     session_id: int | None = None) -> SignInSession | None: ...
    def touch_session(self, session_id: int, now: str) -> None: ...
    def delete_sessions(self, *, session_id: int | None = None, user_id: int | None = None,
                        idle_before: str | None = None, created_before: str | None = None) -> int: ...
    def reserve_sign_in_attempt(self, keys: list[str], now: float, window_s: float,
                                delay_for: Callable[[str, int], float]) -> tuple[float, str | None]: ...
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
