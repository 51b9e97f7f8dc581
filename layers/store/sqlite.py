"""The SQLite backend of the store (sqlite-utils), the default: no set-up, one file in the data
folder. It implements layers/store/contract.py as module functions; layers/store/__init__.py picks it
when OURPATCH_DATABASE_URL is not set. Connections are opened per unit of work
(Streamlit runs sessions on many threads), in WAL mode with a busy timeout; writes are one
short BEGIN IMMEDIATE transaction each. Schema changes are numbered migrations, recorded in
PRAGMA user_version, each applied in its own transaction; a second run is a no-op.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import shapely
import sqlite_utils
from shapely.geometry.base import BaseGeometry

from layers import settings
from layers.errors import BadInputError, ConflictError, LimitError, StorageError
from layers.store.contract import (
    ASSET_FIELDS,
    CHANGEABLE_FIELDS,
    LINK_FIELDS,
    Asset,
    AssetDraft,
    AssetLink,
    AssetVersion,
    LocalFootprint,
    Person,
    SavedLocal,
    SignInSession,
    UserRow,
    check_test_read,
    check_test_set,
    snapshot_json,
    version_from_json,
)

logger = logging.getLogger(__name__)

DB_FILENAME = "ourpatch.db"
BUSY_TIMEOUT_MS = 10_000


def _m001_community_assets(db: sqlite_utils.Database) -> None:
    db.table("community_assets").create(
        {
            "id": int,
            "name": str,
            "category": str,
            "geometry_wkt": str,
            "status": str,
            "address": str,
            "website": str,
            "phone": str,
            "opening_hours": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"name", "category", "geometry_wkt", "status"},
        defaults={"status": "pending"},
    )
    db.table("community_assets").create_index(["status"])


def _m002_saved_locals(db: sqlite_utils.Database) -> None:
    db.table("saved_locals").create(
        {"token": str, "name": str, "spec_json": str, "area_wkt": str, "owner": str, "created_at": str},
        pk="token",
        not_null={"name", "spec_json", "area_wkt", "created_at"},
    )


def _m003_people(db: sqlite_utils.Database) -> None:
    db.table("groups").create({"id": int, "name": str, "created_at": str}, pk="id", not_null={"name", "created_at"})
    db.execute("CREATE UNIQUE INDEX groups_name ON groups (name COLLATE NOCASE)")
    db.table("users").create(
        {"id": int, "name": str, "role": str, "group_id": int, "password_hash": str, "created_at": str},
        pk="id",
        not_null={"name", "role", "password_hash", "created_at"},
        foreign_keys=[("group_id", "groups", "id")],
    )
    db.execute("CREATE UNIQUE INDEX users_name ON users (name COLLATE NOCASE)")
    db.table("saved_locals").create_index(["owner"])


def _m004_community_detail(db: sqlite_utils.Database) -> None:
    """Open Referral UK-shaped detail on community assets, links, and every change kept."""
    assets = db.table("community_assets")
    for column, kind in [
        ("group_id", int),
        ("kind", str),
        ("description", str),
        ("email", str),
        ("online_url", str),
        ("schedule", str),
        ("eligibility", str),
        ("last_verified", str),
        ("rejection_reason", str),
        ("version", int),
        ("updated_by", int),
    ]:
        assets.add_column(column, kind)
    db.execute("UPDATE community_assets SET kind = 'place', version = 1 WHERE kind IS NULL")
    db.table("asset_links").create(
        {
            "id": int,
            "asset_id": int,
            "relation": str,
            "target_osm_type": str,
            "target_osm_id": int,
            "target_asset_id": int,
        },
        pk="id",
        not_null={"asset_id", "relation"},
        foreign_keys=[("asset_id", "community_assets", "id")],
    )
    db.table("asset_links").create_index(["asset_id"])
    db.table("asset_links").create_index(["target_osm_type", "target_osm_id"])
    db.table("asset_history").create(
        {
            "id": int,
            "asset_id": int,
            "version": int,
            "action": str,
            "changed_by": int,
            "changed_at": str,
            "snapshot_json": str,
        },
        pk="id",
        not_null={"asset_id", "version", "action", "changed_at", "snapshot_json"},
    )
    db.table("asset_history").create_index(["asset_id", "version"])


def _m005_sign_in_failures(db: sqlite_utils.Database) -> None:
    db.table("sign_in_failures").create({"id": int, "name": str, "at": str}, pk="id", not_null={"name", "at"})
    db.table("sign_in_failures").create_index(["name", "at"])


def _m006_hostile_input(db: sqlite_utils.Database) -> None:
    """Sign-in attempts counted per name and per source (growing delays, not a lock others can
    set), and where an anonymous local came from (so one source counts as one resident)."""
    db.table("sign_in_attempts").create(
        {"key": str, "failures": int, "last_failure": float, "next_allowed": float},
        pk="key",
        not_null={"failures", "last_failure", "next_allowed"},
    )
    db.table("saved_locals").add_column("source", str)
    db.table("saved_locals").create_index(["source", "created_at"])


def _m007_sign_in_sessions(db: sqlite_utils.Database) -> None:
    """Sign-in sessions kept server-side (the browser holds only an opaque random id, whose hash is
    stored here), and an e-mail on accounts for council single sign-on."""
    # AUTOINCREMENT: a session's id is never given again (a tab holding an ended session's id
    # must never find someone else's session under it).
    db.execute(
        "CREATE TABLE sign_in_sessions (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "user_id INTEGER NOT NULL REFERENCES users(id), token_hash TEXT, code_hash TEXT, code_expires TEXT, "
        "created_at TEXT NOT NULL, last_seen TEXT NOT NULL)"
    )
    db.execute("CREATE UNIQUE INDEX sign_in_sessions_token ON sign_in_sessions (token_hash)")
    db.execute("CREATE UNIQUE INDEX sign_in_sessions_code ON sign_in_sessions (code_hash)")
    db.table("sign_in_sessions").create_index(["user_id"])
    db.table("users").add_column("email", str)
    db.execute("CREATE UNIQUE INDEX users_email ON users (email COLLATE NOCASE)")
    # What a link pointed at when it was made: after a newer extract, a vanished feature can be
    # named, and its likely replacement found (same name and category nearby).
    for column, kind in [("target_name", str), ("target_category", str), ("target_lon", float), ("target_lat", float)]:
        db.table("asset_links").add_column(column, kind)


# ---------------------------------------------------------------- data versions (several app servers)

# What each stamp follows: triggers on these tables move it, in the writing transaction, so every
# writer (the app, the CLI, an import, a moderator, another server) moves it and a reader never
# sees new rows under an old stamp. Since migration 9 the community stamp moves only on writes
# residents may see (PUBLISHED_ONLY below). Keep in step with postgis.py's STAMPED. (A later
# migration that rebuilds one of these tables, e.g. sqlite-utils' `transform`, must create its
# triggers again: tests/test_servers.py checks which writes move it.)
STAMPED = {"community": ("community_assets", "asset_links", "groups"), "locals": ("saved_locals",)}
#: The region loaded into the database (layers/store/osm_tables.py moves it in the transaction
#: that publishes or drops a load; on SQLite nothing is loaded, so it stays where it started).
OSM_LOAD = "osm_load"
VERSIONED = (*STAMPED, OSM_LOAD)
#: The community tables whose writes move the stamp only when they touch what residents see: a
#: published asset (before or after the write), or a link of one. Every other write (a pending
#: edit, a rejection of one, its links) leaves the layers as they were. `groups` always moves it
#: (renames show in "Group: …"; a group is rarely written).
_PUBLISHED = "SELECT 1 FROM community_assets WHERE status = 'published' AND id"
PUBLISHED_ONLY = {
    "community_assets": {
        "INSERT": "NEW.status = 'published'",
        "UPDATE": "OLD.status = 'published' OR NEW.status = 'published'",
        "DELETE": "OLD.status = 'published'",
    },
    "asset_links": {
        "INSERT": f"EXISTS ({_PUBLISHED} = NEW.asset_id)",
        "UPDATE": f"EXISTS ({_PUBLISHED} = OLD.asset_id) OR EXISTS ({_PUBLISHED} = NEW.asset_id)",
        "DELETE": f"EXISTS ({_PUBLISHED} = OLD.asset_id)",
    },
}


def _stamp_start() -> int:
    """Stamps start at the time in microseconds, so a store made again (or restored) never reuses
    an older store's stamps."""
    return int(datetime.now(UTC).timestamp() * 1_000_000)


def _m008_data_versions(db: sqlite_utils.Database) -> None:
    """A data version per kind of shared data, for the caches of every app server: one indexed
    row to read on each rerun instead of scanning the tables. Stamps start at the time in
    microseconds, so a store made again (or restored) never reuses an older store's stamps."""
    db.table("data_versions").create({"name": str, "version": int}, pk="name", not_null={"version"})
    start = _stamp_start()
    db.table("data_versions").insert_all([{"name": name, "version": start} for name in ("community", "locals")])
    for name, tables in STAMPED.items():
        for table in tables:
            for event in ("INSERT", "UPDATE", "DELETE"):
                db.execute(
                    f"CREATE TRIGGER {table}_{event.lower()}_moves_{name} AFTER {event} ON {table} "  # noqa: S608
                    f"BEGIN UPDATE data_versions SET version = version + 1 WHERE name = '{name}'; END"
                )


def _m009_layers_version(db: sqlite_utils.Database) -> None:
    """The version of the region loaded into the database (`osm_load`, read with the community
    stamp in one query); the community stamp narrowed to writes residents can see; the unused
    sign_in_failures table (replaced by sign_in_attempts in migration 6) dropped."""
    db.execute("INSERT OR IGNORE INTO data_versions (name, version) VALUES (?, ?)", [OSM_LOAD, _stamp_start()])
    for table, when in PUBLISHED_ONLY.items():
        for event, condition in when.items():
            trigger = f"{table}_{event.lower()}_moves_community"
            db.execute(f"DROP TRIGGER IF EXISTS {trigger}")
            db.execute(
                f"CREATE TRIGGER {trigger} AFTER {event} ON {table} WHEN {condition} "  # noqa: S608
                "BEGIN UPDATE data_versions SET version = version + 1 WHERE name = 'community'; END"
            )
    db.execute("DROP TABLE IF EXISTS sign_in_failures")


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _m001_community_assets,
    _m002_saved_locals,
    _m003_people,
    _m004_community_detail,
    _m005_sign_in_failures,
    _m006_hostile_input,
    _m007_sign_in_sessions,
    _m008_data_versions,
    _m009_layers_version,
]


def db_path() -> Path:
    return settings.data_dir() / DB_FILENAME


def storage_error(exc: BaseException, path: Path | str) -> StorageError:
    """One sentence for a storage fault that keeps SQLite's (or the system's) own words."""
    cause = str(exc) or type(exc).__name__
    low = cause.lower()
    if "readonly" in low or "read-only" in low or "permission denied" in low:
        what = f"The data store {path} cannot be written (the folder or file is read-only), so nothing was saved"
    elif "full" in low or "no space" in low:
        what = f"The disk holding {path} is full, so nothing was saved; free some space and try again"
    elif "not a database" in low or "malformed" in low or "corrupt" in low:
        what = f"The data store {path} is damaged and cannot be used; restore it from a backup"
    elif "locked" in low or "busy" in low:
        what = "The data store is busy with another change, so nothing was saved; try again in a moment"
    elif "unable to open" in low:
        what = f"The data store {path} cannot be opened (does its folder exist, and may it be written?)"
    else:
        what = f"The data store {path} failed, so nothing was saved"
    return StorageError(f"{what} (cause: {cause.rstrip('.')}).")


@contextmanager
def connect(path: Path | None = None) -> Iterator[sqlite_utils.Database]:
    """A fresh connection for one unit of work, migrated to the latest schema. A storage fault
    (read-only folder, full disk, damaged file) becomes a StorageError naming its cause."""
    try:
        target = path or db_path()
    except OSError as exc:  # the data folder cannot be made
        raise storage_error(exc, getattr(exc, "filename", None) or "folder") from exc
    try:
        conn = sqlite3.connect(target, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    except sqlite3.Error as exc:
        raise storage_error(exc, target) from exc
    try:
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA foreign_keys = ON")
            for pragma in settings.sqlite_extra_pragmas:
                conn.execute(f"PRAGMA {pragma}")
            db = sqlite_utils.Database(conn)
            migrate(db)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise storage_error(exc, target) from exc
        try:
            yield db
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise storage_error(exc, target) from exc
    finally:
        conn.close()


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open; a failing rollback is logged, never raised, so
    the error that caused it is the one the user hears about."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            logger.exception("rollback failed after an error")


def schema_version(db: sqlite_utils.Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite_utils.Database) -> int:
    """Apply the migrations not yet applied, each in one transaction. Returns the version."""
    version = schema_version(db)
    for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
        conn = db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(db) >= number:  # another process got there first
                conn.execute("ROLLBACK")
                continue
            step(db)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
    return schema_version(db)


def _to_text(geom: BaseGeometry) -> str:
    """Geometry as this backend keeps it: WKT text, every digit kept."""
    return str(shapely.to_wkt(geom, rounding_precision=-1))


def _from_text(text: object, what: str) -> BaseGeometry | None:
    """A stored geometry back, or None (logged) when the text cannot be read: one damaged row
    (written by hand, or by an older version) never takes a page down."""
    try:
        with np.errstate(invalid="ignore"):
            geom = shapely.from_wkt(str(text)) if text is not None else None
    except shapely.errors.ShapelyError:
        geom = None
    if geom is None:
        logger.warning("%s has a geometry that cannot be read", what)
    return geom


def _saved_local(row: dict[str, Any]) -> SavedLocal:
    return SavedLocal(
        token=row["token"],
        name=row["name"],
        spec_json=row["spec_json"],
        area=_from_text(row["area_wkt"], "a saved local"),
        created_at=row["created_at"],
    )


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
    """Keep a checked local (see layers/analysis/local_spec.py); an anonymous source past its daily
    count is refused inside the same transaction, so parallel saves cannot slip past."""
    with connect() as db:

        def insert() -> None:
            if owner is None:
                recent = db.conn.execute(
                    "SELECT count(*) FROM saved_locals WHERE owner IS NULL AND source IS ? AND created_at >= ?",
                    [source, since],
                ).fetchone()[0]
                if recent >= per_source_per_day:
                    raise LimitError(
                        f"At most {per_source_per_day} locals can be "
                        "saved from one connection in a day without an account; try again tomorrow."
                    )
            db.table("saved_locals").insert(
                {
                    "token": token,
                    "name": name,
                    "spec_json": spec_json,
                    "area_wkt": _to_text(area),
                    "owner": owner,
                    "source": source,
                    "created_at": now,
                }
            )

        _write(db, insert)


def get_local(token: str) -> SavedLocal | None:
    with connect() as db:
        rows = list(
            db.query("select token, name, spec_json, area_wkt, created_at from saved_locals where token = ?", [token])
        )
    return _saved_local(rows[0]) if rows else None


# ---------------------------------------------------------------- people (see layers/groups/accounts.py)


_T = TypeVar("_T")


def _write(db: sqlite_utils.Database, action: Callable[[], _T]) -> _T:
    """One short BEGIN IMMEDIATE transaction: committed whole, or rolled back and re-raised
    (BaseException too, so an interrupt never leaves a transaction open)."""
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        result = action()
        db.conn.execute("COMMIT")
        return result
    except BaseException:
        _rollback(db.conn)
        raise


def group_id(name: str, *, create: bool = False) -> int | None:
    """The id of the group with this name (any case); created first when `create` (safe when two
    people create the same group at once: one transaction looks and inserts)."""
    with connect() as db:
        rows = list(db.query("select id from groups where name = ? collate nocase", [name]))
        if rows:
            return int(rows[0]["id"])
        if not create:
            return None

        def insert() -> int:
            db.conn.execute(
                "INSERT INTO groups (name, created_at) SELECT ?, ? WHERE NOT EXISTS "
                "(SELECT 1 FROM groups WHERE name = ? COLLATE NOCASE)",
                [name, datetime.now(UTC).isoformat(timespec="seconds"), name],
            )
            return int(db.conn.execute("SELECT id FROM groups WHERE name = ? COLLATE NOCASE", [name]).fetchone()[0])

        return int(_write(db, insert))


def group_names() -> list[str]:
    with connect() as db:
        return [str(r[0]) for r in db.conn.execute("SELECT name FROM groups ORDER BY id")]


def rename_group(group_id: int, name: str) -> None:
    """Give a group a new name (checked by layers/groups/accounts.py); its id, and so its
    assets and its published organisation id, stay."""
    with connect() as db:
        try:
            _write(db, lambda: db.conn.execute("UPDATE groups SET name = ? WHERE id = ?", [name, group_id]))
        except sqlite3.IntegrityError as exc:
            raise BadInputError(f"There is already a group called {name!r}.") from exc


def insert_user(name: str, role: str, password_hash: str, group: int | None) -> int:
    with connect() as db:
        if list(db.query("select 1 from users where name = ? collate nocase", [name])):
            raise BadInputError(f"There is already a user called {name!r}.")

        def insert() -> int:
            table = db.table("users")
            table.insert(
                {
                    "name": name,
                    "role": role,
                    "group_id": group,
                    "password_hash": password_hash,
                    "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                }
            )
            return int(table.last_pk)  # type: ignore[arg-type]  # sqlite-utils: Any | None; the insert above set it

        return int(_write(db, insert))


_USER_SELECT = (
    "select users.id, users.name, users.role, users.group_id, groups.name as group_name, "
    "users.password_hash from users left join groups on groups.id = users.group_id "
)


def find_user(*, name: str | None = None, user_id: int | None = None) -> UserRow | None:
    with connect() as db:
        if name is not None:
            rows = list(db.query(_USER_SELECT + "where users.name = ? collate nocase", [name]))
        else:
            rows = list(db.query(_USER_SELECT + "where users.id = ?", [user_id]))
    return UserRow(**rows[0]) if rows else None


def set_password_hash(user_id: int, password_hash: str) -> None:
    with connect() as db:
        _write(db, lambda: db.execute("update users set password_hash = ? where id = ?", [password_hash, user_id]))


def locals_owned_by(owner: str) -> list[SavedLocal]:
    with connect() as db:
        rows = list(
            db.query(
                "select token, name, spec_json, area_wkt, created_at from saved_locals "
                "where owner = ? order by created_at desc, name",
                [owner],
            )
        )
    return [_saved_local(r) for r in rows]


# ---------------------------------------------------------------- community assets (see layers/groups/community.py)

# Column names come from the constants ASSET_FIELDS and LINK_FIELDS, never from input; the
# geometry is kept as WKT text in `geometry_wkt`.
_ASSET_COLUMNS = ["geometry_wkt" if f == "geometry" else f for f in ASSET_FIELDS]
_INSERT_ASSET = (
    "INSERT INTO community_assets ("  # noqa: S608
    + ", ".join(_ASSET_COLUMNS)
    + ", group_id, status, version, created_at, updated_at, last_verified, updated_by) VALUES ("
    + ", ".join("?" for _ in _ASSET_COLUMNS)
    + ", ?, ?, 1, ?, ?, ?, ?)"
)
_LINK_COLUMNS = ", ".join(LINK_FIELDS)
_ASSET_SELECT = "select a.*, g.name as group_name from community_assets a left join groups g on g.id = a.group_id "
_RECORD_FIELDS = {f.name for f in fields(Asset)} - {"geometry", "links"}


def _asset(row: dict[str, Any], links: tuple[AssetLink, ...]) -> Asset:
    values = {k: v for k, v in row.items() if k in _RECORD_FIELDS}
    values["kind"] = values.get("kind") or "place"
    values["version"] = int(values.get("version") or 1)
    return Asset(**values, geometry=_from_text(row["geometry_wkt"], f"community asset {row['id']}"), links=links)


def _link(row: dict[str, Any]) -> AssetLink:
    return AssetLink(**{k: row[k] for k in LINK_FIELDS})


def _links_of(db: sqlite_utils.Database, asset_id: int) -> tuple[AssetLink, ...]:
    return tuple(
        _link(r)
        for r in db.query("select " + _LINK_COLUMNS + " from asset_links where asset_id = ? order by id", [asset_id])  # noqa: S608
    )


def _draft_values(draft: AssetDraft) -> list[Any]:
    return [
        _to_text(draft.geometry) if f == "geometry" and draft.geometry is not None else getattr(draft, f)
        for f in ASSET_FIELDS
    ]


def insert_assets(
    drafts: list[AssetDraft],
    *,
    group: int,
    user: int | None,
    status: str,
    check: Callable[[list[Asset]], None] | None = None,
) -> list[int]:
    """Insert assets with their links and a first history entry, all in one transaction:
    either every one is written or none is (an import is all-or-nothing, even if killed).
    `check` sees the group's assets inside that transaction and may refuse by raising, so two
    parallel imports cannot both pass a duplicate check."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    ids: list[int] = []
    with connect() as db:

        def write() -> None:
            if check is not None:
                check([_asset(r, ()) for r in db.query(_ASSET_SELECT + "where a.group_id = ? order by a.id", [group])])
            for draft in drafts:
                cursor = db.conn.execute(
                    _INSERT_ASSET, [*_draft_values(draft), group, status, now, now, now[:10], user]
                )
                asset_id = int(cursor.lastrowid or 0)
                ids.append(asset_id)
                _replace_links(db, asset_id, draft.links)
                _add_history(db, asset_id, 1, "created", user, now, snapshot_json(draft, status, None))

        _write(db, write)
    return ids


def _replace_links(db: sqlite_utils.Database, asset_id: int, links: tuple[AssetLink, ...]) -> None:
    db.conn.execute("DELETE FROM asset_links WHERE asset_id = ?", [asset_id])
    for link in links:
        db.conn.execute(
            "INSERT INTO asset_links (asset_id, " + _LINK_COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
            [asset_id, *(getattr(link, k) for k in LINK_FIELDS)],
        )


def _add_history(
    db: sqlite_utils.Database, asset_id: int, version: int, action: str, user: int | None, when: str, snapshot: str
) -> None:
    db.conn.execute(
        "INSERT INTO asset_history (asset_id, version, action, changed_by, changed_at, snapshot_json) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [asset_id, version, action, user, when, snapshot],
    )


def get_asset(asset_id: int) -> Asset | None:
    with connect() as db:
        rows = list(db.query(_ASSET_SELECT + "where a.id = ?", [asset_id]))
        if not rows:
            return None
        return _asset(rows[0], _links_of(db, asset_id))


def change_asset(
    asset_id: int,
    values: dict[str, Any],
    *,
    expected_version: int | None,
    action: str,
    user: int | None,
    links: tuple[AssetLink, ...] | None = None,
) -> int:
    """Apply a change in one transaction, only if nobody changed the asset in between
    (optimistic locking on `version`); record it in the history. Returns the new version."""
    unknown = set(values) - CHANGEABLE_FIELDS
    if unknown:
        raise ValueError(f"not asset fields: {sorted(unknown)}")
    columns = {
        ("geometry_wkt" if k == "geometry" else k): (_to_text(v) if k == "geometry" else v) for k, v in values.items()
    }
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with connect() as db:

        def write() -> int:
            current = db.conn.execute("SELECT version FROM community_assets WHERE id = ?", [asset_id]).fetchone()
            if current is None:
                raise BadInputError(f"There is no community asset {asset_id}.")
            version = int(current[0])
            if expected_version is not None and version != expected_version:
                raise ConflictError(
                    "Someone else changed this asset while you were editing it; "
                    "open it again to see their change, then make yours."
                )
            new_version = version + 1
            sets = ", ".join(f"{k} = ?" for k in columns)
            db.conn.execute(
                f"UPDATE community_assets SET {sets}, version = ?, updated_at = ?, updated_by = ? "  # noqa: S608
                "WHERE id = ?",
                [*columns.values(), new_version, now, user, asset_id],
            )
            if links is not None:
                _replace_links(db, asset_id, links)
            [row] = db.query(_ASSET_SELECT + "where a.id = ?", [asset_id])
            record = _asset(row, _links_of(db, asset_id))
            _add_history(
                db,
                asset_id,
                new_version,
                action,
                user,
                now,
                snapshot_json(record.draft(), record.status, record.rejection_reason),
            )
            return new_version

        return int(_write(db, write))


def asset_rows(*, status: str | None = None, group: int | None = None) -> list[Asset]:
    with connect() as db:
        rows = list(
            db.query(
                _ASSET_SELECT + "where (? is null or a.status = ?) and (? is null or a.group_id = ?) order by a.id",
                [status, status, group, group],
            )
        )
        links = list(db.query("select asset_id, " + _LINK_COLUMNS + " from asset_links order by id"))  # noqa: S608
    by_asset: dict[int, list[AssetLink]] = {}
    for link in links:
        by_asset.setdefault(int(link["asset_id"]), []).append(_link(link))
    return [_asset(row, tuple(by_asset.get(int(row["id"]), ()))) for row in rows]


def assets_within(area: BaseGeometry, *, status: str | None = None) -> list[int]:
    """Ids of the assets whose geometry meets the area, in id order (a shapely STRtree here; a
    GiST index on PostGIS). A stored row whose geometry cannot be read is skipped and logged."""
    with connect() as db:
        rows = db.conn.execute(
            "SELECT id, geometry_wkt FROM community_assets WHERE (? IS NULL OR status = ?) ORDER BY id",
            [status, status],
        ).fetchall()
    ids, geoms = [], []
    for asset_id, wkt in rows:
        try:
            geoms.append(shapely.from_wkt(wkt))
            ids.append(int(asset_id))
        except shapely.errors.ShapelyError:
            logger.warning("community asset %s has an unreadable geometry; skipped", asset_id)
    if not ids:
        return []
    hits = shapely.STRtree(geoms).query(area, predicate="intersects")
    return sorted(ids[i] for i in hits)


def asset_ids() -> list[int]:
    with connect() as db:
        return [int(r[0]) for r in db.conn.execute("SELECT id FROM community_assets")]


def asset_history(asset_id: int) -> list[AssetVersion]:
    with connect() as db:
        rows = list(
            db.query(
                "select h.version, h.action, h.changed_at, u.name as changed_by, h.snapshot_json "
                "from asset_history h left join users u on u.id = h.changed_by "
                "where h.asset_id = ? order by h.version, h.id",
                [asset_id],
            )
        )
    return [
        version_from_json(int(r["version"]), r["action"], r["changed_at"], r["changed_by"], r["snapshot_json"])
        for r in rows
    ]


def list_users() -> list[Person]:
    with connect() as db:
        rows = list(
            db.query(
                "select users.id, users.name, users.role, groups.name as group_name, "
                "users.created_at, users.email "
                "from users left join groups on groups.id = users.group_id order by users.name"
            )
        )
    return [Person(**r) for r in rows]


def saved_local_footprints() -> list[LocalFootprint]:
    """Who saved each local and its area: the owner is the signed-in account, the source where an
    anonymous resident connected from. Used only for aggregates. Areas are read all at once."""
    with connect() as db:
        rows = db.conn.execute("select owner, source, area_wkt from saved_locals order by rowid").fetchall()
    with np.errstate(invalid="ignore"):
        geoms = shapely.from_wkt(np.asarray([r[2] for r in rows], dtype=object), on_invalid="ignore")
    if rows and shapely.is_missing(geoms).any():
        logger.warning("%d saved locals have an area that cannot be read", int(shapely.is_missing(geoms).sum()))
    return [LocalFootprint(r[0], r[1], g) for r, g in zip(rows, geoms, strict=True)]


def data_versions(*names: str) -> dict[str, int]:
    """The stamps of some kinds of shared data (see STAMPED and OSM_LOAD), read in one query."""
    unknown = [n for n in names if n not in VERSIONED]
    if unknown:
        raise ValueError(f"no data version called {unknown[0]!r}")
    with connect() as db:
        rows = db.execute(
            f"SELECT name, version FROM data_versions WHERE name IN ({', '.join('?' for _ in names)})",  # noqa: S608
            list(names),
        ).fetchall()
    found = {str(name): int(version) for name, version in rows}
    return {name: found.get(name, 0) for name in names}


def data_version(name: str) -> int:
    """The stamp of one kind of shared data (see STAMPED): a write to its tables moves it up."""
    return data_versions(name)[name]


def locals_version() -> str:
    """A fingerprint of the saved locals: saving one moves it (aggregates are cached on it)."""
    return f"{db_path()}:{data_version('locals')}"


def community_version() -> str:
    """A fingerprint of the published community assets: a write residents may see moves it."""
    return str(data_version("community"))


def layers_version() -> tuple[str, str]:
    """The stamps of the loaded region and of the community assets, read together."""
    found = data_versions(OSM_LOAD, "community")
    return str(found[OSM_LOAD]), str(found["community"])


# ---------------------------------------------------------------- sign-in sessions (see layers/groups/sessions.py)


def insert_session(user_id: int, code_hash: str, code_expires: str, now: str) -> int:
    with connect() as db:

        def insert() -> int:
            cursor = db.conn.execute(
                "INSERT INTO sign_in_sessions (user_id, code_hash, code_expires, created_at, last_seen) "
                "VALUES (?, ?, ?, ?, ?)",
                [user_id, code_hash, code_expires, now, now],
            )
            return int(cursor.lastrowid or 0)

        return int(_write(db, insert))


def claim_session_code(code_hash: str, token_hash: str, now: str) -> int | None:
    """Swap a one-time code (unexpired, unused) for the session's token hash; the session's id, or None."""
    with connect() as db:

        def claim() -> int | None:
            row = db.conn.execute(
                "SELECT id FROM sign_in_sessions WHERE code_hash = ? AND code_expires >= ? AND token_hash IS NULL",
                [code_hash, now],
            ).fetchone()
            if row is None:
                return None
            db.conn.execute(
                "UPDATE sign_in_sessions SET token_hash = ?, code_hash = NULL, code_expires = NULL, "
                "last_seen = ? WHERE id = ?",
                [token_hash, now, row[0]],
            )
            return int(row[0])

        return _write(db, claim)


def find_session(*, token_hash: str | None = None, session_id: int | None = None) -> SignInSession | None:
    with connect() as db:
        if token_hash is not None:
            rows = list(
                db.query(
                    "select id, user_id, created_at, last_seen from sign_in_sessions where token_hash = ?", [token_hash]
                )
            )
        else:
            rows = list(
                db.query("select id, user_id, created_at, last_seen from sign_in_sessions where id = ?", [session_id])
            )
    return SignInSession(**rows[0]) if rows else None


def touch_session(session_id: int, now: str) -> None:
    with connect() as db:
        _write(db, lambda: db.execute("update sign_in_sessions set last_seen = ? where id = ?", [now, session_id]))


def delete_sessions(
    *,
    session_id: int | None = None,
    user_id: int | None = None,
    idle_before: str | None = None,
    created_before: str | None = None,
) -> int:
    """End sessions: one, all of a person's, or those idle or old past the given times."""
    with connect() as db:

        def delete() -> int:
            cursor = db.conn.execute(
                "DELETE FROM sign_in_sessions WHERE id = ? OR user_id = ? OR last_seen < ? OR created_at < ?",
                [session_id, user_id, idle_before, created_before],
            )
            return int(cursor.rowcount)

        return int(_write(db, delete))


def set_user_email(user_id: int, email: str | None) -> None:
    with connect() as db:
        clash = list(db.query("select 1 from users where email = ? collate nocase and id != ?", [email, user_id]))
        if email and clash:
            raise BadInputError(f"Another account already has the e-mail {email!r}.")
        _write(db, lambda: db.execute("update users set email = ? where id = ?", [email, user_id]))


def find_user_by_email(email: str) -> UserRow | None:
    with connect() as db:
        rows = list(db.query(_USER_SELECT + "where users.email = ? collate nocase", [email]))
    return UserRow(**rows[0]) if rows else None


# ---------------------------------------------------------------- sign-in attempts (see layers/groups/accounts.py)


def reserve_sign_in_attempt(
    keys: list[str], now: float, window_s: float, delay_for: Callable[[str, int], float]
) -> tuple[float, str | None]:
    """Count one attempt against every key (a name, a source) atomically, before the password is
    checked, so parallel guesses cannot slip past. Returns (0, None) when the attempt may go
    ahead, else (seconds to wait, the key that is waiting). `delay_for(key, failures)` gives
    the delay after so many failures."""
    with connect() as db:

        def reserve() -> tuple[float, str | None]:
            # forget what is past the window, so names sprayed by a guesser do not pile up
            db.conn.execute(
                "DELETE FROM sign_in_attempts WHERE last_failure < ? AND next_allowed < ?", [now - window_s, now]
            )
            rows = {
                r[0]: r
                for r in db.conn.execute(
                    f"SELECT key, failures, last_failure, next_allowed FROM sign_in_attempts "  # noqa: S608
                    f"WHERE key IN ({', '.join('?' for _ in keys)})",
                    keys,
                )
            }
            for key in keys:
                row = rows.get(key)
                if row is not None and now - row[2] <= window_s and row[3] > now:
                    return row[3] - now, key
            for key in keys:
                row = rows.get(key)
                failures = 1 if row is None or now - row[2] > window_s else int(row[1]) + 1
                db.conn.execute(
                    "INSERT INTO sign_in_attempts (key, failures, last_failure, next_allowed) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET failures = excluded.failures, "
                    "last_failure = excluded.last_failure, next_allowed = excluded.next_allowed",
                    [key, failures, now, now + delay_for(key, failures)],
                )
            return 0.0, None

        return _write(db, reserve)


def forgive_sign_in_attempt(key: str) -> None:
    """Take back one counted attempt (it succeeded); a count back at nothing leaves no row."""
    with connect() as db:

        def forgive() -> None:
            db.conn.execute("UPDATE sign_in_attempts SET failures = failures - 1 WHERE key = ? AND failures > 0", [key])
            db.conn.execute("DELETE FROM sign_in_attempts WHERE key = ? AND failures <= 0", [key])

        _write(db, forgive)


def clear_sign_in_attempts(key: str) -> None:
    with connect() as db:
        _write(db, lambda: db.conn.execute("DELETE FROM sign_in_attempts WHERE key = ?", [key]))


# ---------------------------------------------------------------- for tests and checks


def snapshot() -> dict[str, list[str]]:
    """Every table's rows, sorted, as text: tests compare two snapshots to show a refusal changed
    nothing in the store."""
    with connect() as db:
        tables = [t for t in db.table_names() if not t.startswith("sqlite_")]
        return {
            t: sorted(repr(tuple(r)) for r in db.conn.execute(f"SELECT * FROM [{t}]"))  # noqa: S608
            for t in tables
        }


def table_rows(table: str) -> list[dict[str, Any]]:
    """Every row of one table, in insertion order (tests read the store through this, not SQL)."""
    check_test_read(table)
    with connect() as db:
        return list(db.query(f"select * from [{table}] order by rowid"))  # noqa: S608


def set_for_tests(table: str, values: dict[str, Any], where: dict[str, Any]) -> int:
    """Set a few columns behind the app's back (test set-up only; see TEST_SETTABLE)."""
    check_test_set(table, values, where)
    sets = ", ".join(f"{k} = ?" for k in values)
    cond = " AND ".join(f"{k} = ?" for k in where) or "1"
    with connect() as db:

        def update() -> int:
            return int(
                db.conn.execute(
                    f"UPDATE [{table}] SET {sets} WHERE {cond}",  # noqa: S608
                    [*values.values(), *where.values()],
                ).rowcount
            )

        return int(_write(db, update))
