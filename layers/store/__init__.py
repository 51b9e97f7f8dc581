"""The store's one door: the domain modules (accounts, community, sessions, locals, consensus)
call these functions; they pick the backend by one setting and pass the call on.

- layers/store/contract.py: the contract (a typed Protocol and its records).
- layers/store/sqlite.py: SQLite via sqlite-utils, the default (no set-up, a file in the data folder).
- layers/store/postgis.py: PostgreSQL + PostGIS via psycopg 3, chosen by
  OURPATCH_DATABASE_URL=postgresql://… so several app servers can share one database.

Only these store modules contain SQL. The store only stores: what is checked before a write
(a local's name and area, an asset's fields, who may do what) is checked by the domain modules.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Any

from shapely.geometry.base import BaseGeometry

from layers import settings
from layers.errors import ConflictError
from layers.store import sqlite as store_sqlite
from layers.store.contract import (
    ASSET_FIELDS,
    CHANGEABLE_FIELDS,
    Asset,
    AssetDraft,
    AssetLink,
    AssetVersion,
    LocalFootprint,
    Person,
    SavedLocal,
    SignInSession,
    Store,
    UserRow,
)
from layers.store.sqlite import (
    DB_FILENAME,
    MIGRATIONS,
    OSM_LOAD,
    connect,
    db_path,
    migrate,
    schema_version,
    storage_error,
)

__all__ = [
    "ASSET_FIELDS",
    "CHANGEABLE_FIELDS",
    "DB_FILENAME",
    "MIGRATIONS",
    "Asset",
    "AssetDraft",
    "AssetLink",
    "AssetVersion",
    "ConflictError",
    "LocalFootprint",
    "Person",
    "SavedLocal",
    "SignInSession",
    "Store",
    "UserRow",
    "backend",
    "connect",
    "db_path",
    "migrate",
    "schema_version",
    "storage_error",
]

_postgis: dict[str, Store] = {}
_postgis_lock = threading.Lock()


def backend() -> Store:
    """The backend OURPATCH_DATABASE_URL names (PostGIS, one per URL, kept), else SQLite."""
    url = settings.database_url()
    if url is None:
        return store_sqlite  # the module implements the contract
    with _postgis_lock:
        found = _postgis.get(url)
        if found is None:
            from layers.store.postgis import PostgisStore  # psycopg is needed only with PostGIS

            found = _postgis[url] = PostgisStore(url)
    return found


def describe() -> str:
    """Where the store is, for messages and logs (never the password of a URL)."""
    url = settings.database_url()
    if url is None:
        return str(db_path())
    from layers.store.postgis import redact

    return redact(url)


# ---------------------------------------------------------------- saved locals


def insert_local(
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
) -> None:
    """Keep a local checked by layers/analysis/local_spec.py. An anonymous source (owner None) that
    saved `per_source_per_day` locals since `since` is refused with LimitError inside the same
    transaction, so parallel saves cannot slip past."""
    backend().insert_local(
        token,
        name,
        spec_json,
        area,
        owner=owner,
        source=source,
        now=now,
        since=since,
        per_source_per_day=per_source_per_day,
    )


def get_local(token: str) -> SavedLocal | None:
    """The saved local with this token, or None."""
    return backend().get_local(token)


def locals_owned_by(owner: str) -> list[SavedLocal]:
    return backend().locals_owned_by(owner)


def saved_local_footprints() -> list[LocalFootprint]:
    """Who saved each local and its area; used only for aggregates."""
    return backend().saved_local_footprints()


def locals_version() -> str:
    """A fingerprint of the saved locals: saving one moves it (aggregates are cached on it)."""
    return f"{describe()}:{backend().locals_version()}"


# ---------------------------------------------------------------- people (see layers/groups/accounts.py)


def group_id(name: str, *, create: bool = False) -> int | None:
    return backend().group_id(name, create=create)


def group_names() -> list[str]:
    return backend().group_names()


def rename_group(group_id: int, name: str) -> None:
    """A group's new name (checked by layers/groups/accounts.py); BadInputError if another has it."""
    backend().rename_group(group_id, name)


def insert_user(name: str, role: str, password_hash: str, group: int | None) -> int:
    return backend().insert_user(name, role, password_hash, group)


def find_user(*, name: str | None = None, user_id: int | None = None) -> UserRow | None:
    return backend().find_user(name=name, user_id=user_id)


def set_password_hash(user_id: int, password_hash: str) -> None:
    backend().set_password_hash(user_id, password_hash)


def list_users() -> list[Person]:
    return backend().list_users()


def set_user_email(user_id: int, email: str | None) -> None:
    backend().set_user_email(user_id, email)


def find_user_by_email(email: str) -> UserRow | None:
    return backend().find_user_by_email(email)


# ---------------------------------------------------------------- community assets (see layers/groups/community.py)


def insert_assets(
    drafts: list[AssetDraft],
    *,
    group: int,
    user: int | None,
    status: str,
    check: Callable[[list[Asset]], None] | None = None,
) -> list[int]:
    """Insert assets (checked by layers/groups/community.py) with their links and a first history
    entry, all in one transaction (an import is all-or-nothing). `check` sees the group's assets
    inside that transaction and may refuse by raising (two parallel imports cannot both pass)."""
    return backend().insert_assets(drafts, group=group, user=user, status=status, check=check)


def get_asset(asset_id: int) -> Asset | None:
    return backend().get_asset(asset_id)


def change_asset(
    asset_id: int,
    values: dict[str, Any],
    *,
    expected_version: int | None,
    action: str,
    user: int | None,
    links: tuple[AssetLink, ...] | None = None,
) -> int:
    """Set some of an asset's fields (CHANGEABLE_FIELDS; `links` replaces its links) in one
    transaction, only if nobody changed the asset in between (optimistic locking on `version`,
    else ConflictError); recorded in the history. Returns the new version."""
    return backend().change_asset(
        asset_id, values, expected_version=expected_version, action=action, user=user, links=links
    )


def asset_rows(*, status: str | None = None, group: int | None = None) -> list[Asset]:
    """Every asset (of a status, of a group), in id order. Unchecked: community.py decides who sees what."""
    return backend().asset_rows(status=status, group=group)


def assets_within(area: BaseGeometry, *, status: str | None = None) -> list[int]:
    """Ids of the community assets meeting the area (in the database on PostGIS)."""
    return backend().assets_within(area, status=status)


def asset_ids() -> list[int]:
    return backend().asset_ids()


def asset_history(asset_id: int) -> list[AssetVersion]:
    return backend().asset_history(asset_id)


def community_version() -> str:
    """A stamp of what residents can see of the community assets: a publish, a withdrawal or
    rejection of a published asset, an edit or link change of a published one, an import
    published at once, a group's rename, made through any app server, moves it; a pending edit
    does not (one indexed row, moved by a trigger in the writing transaction: cheap enough to
    read on every rerun). Which store it is, is part of it."""
    return f"{describe()}:{backend().community_version()}"


def osm_load_version() -> str:
    """A stamp of the region loaded into the database (layers/store/osm_tables.py moves it in the
    transaction that publishes or drops a load), read over the store's kept connection."""
    return f"{describe()}:{backend().data_version(OSM_LOAD)}"


def layers_version() -> str:
    """The stamps of the loaded region and of the community assets, read in one query (over the
    connection kept for it on PostGIS): what every page run keys its layers on."""
    osm_load, community = backend().layers_version()
    return f"{describe()}:{osm_load}:{community}"


# ---------------------------------------------------------------- sign-in sessions (see layers/groups/sessions.py)


def insert_session(user_id: int, code_hash: str, code_expires: str, now: str) -> int:
    return backend().insert_session(user_id, code_hash, code_expires, now)


def claim_session_code(code_hash: str, token_hash: str, now: str) -> int | None:
    """Swap a one-time code (unexpired, unused) for the session's token hash; the session's id, or None."""
    return backend().claim_session_code(code_hash, token_hash, now)


def find_session(*, token_hash: str | None = None, session_id: int | None = None) -> SignInSession | None:
    return backend().find_session(token_hash=token_hash, session_id=session_id)


def touch_session(session_id: int, now: str) -> None:
    backend().touch_session(session_id, now)


def delete_sessions(
    *,
    session_id: int | None = None,
    user_id: int | None = None,
    idle_before: str | None = None,
    created_before: str | None = None,
) -> int:
    """End sessions: one, all of a person's, or those idle or old past the given times."""
    return backend().delete_sessions(
        session_id=session_id, user_id=user_id, idle_before=idle_before, created_before=created_before
    )


# ---------------------------------------------------------------- sign-in attempts (see layers/groups/accounts.py)


def reserve_sign_in_attempt(
    keys: list[str], now: float, window_s: float, delay_for: Callable[[str, int], float]
) -> tuple[float, str | None]:
    """Count one attempt against every key atomically, before the password is checked. Returns
    (0, None) when the attempt may go ahead, else (seconds to wait, the key that is waiting)."""
    return backend().reserve_sign_in_attempt(keys, now, window_s, delay_for)


def forgive_sign_in_attempt(key: str) -> None:
    backend().forgive_sign_in_attempt(key)


def clear_sign_in_attempts(key: str) -> None:
    backend().clear_sign_in_attempts(key)


# ---------------------------------------------------------------- for tests and checks


def snapshot() -> dict[str, list[str]]:
    """Every table's rows, sorted, as text: tests compare two snapshots to show a refusal changed
    nothing in the store."""
    return backend().snapshot()


def digest() -> str:
    """A short fingerprint of snapshot()."""
    return hashlib.sha256(repr(sorted(snapshot().items())).encode()).hexdigest()[:16]


def table_rows(table: str) -> list[dict[str, Any]]:
    """Every row of one table (tests read the store through this, never SQL)."""
    return backend().table_rows(table)


def set_for_tests(table: str, values: dict[str, Any], where: dict[str, Any]) -> int:
    """Re-map a link target, date an asset's last check: test set-up through the contract, on any backend
    (only the columns in contract.TEST_SETTABLE; anything else is a ValueError)."""
    return backend().set_for_tests(table, values, where)
