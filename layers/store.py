"""Community assets in SQLite (sqlite-utils). Every query of the store lives in this module.

Kept behind a small interface (open, migrate, published layer) so a PostGIS backend can take
its place for councils that outgrow one machine. Connections are opened per unit of work
(Streamlit runs sessions on many threads), in WAL mode with a busy timeout; writes are one
short BEGIN IMMEDIATE transaction each. Schema changes are numbered migrations, recorded in
PRAGMA user_version, each applied in its own transaction; a second run is a no-op.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import shapely
import sqlite_utils

from layers import schema, settings
from layers.errors import BadInputError

DB_FILENAME = "ourpatch.db"
BUSY_TIMEOUT_MS = 10_000
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{20,40}")


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
        pk="id", not_null={"name", "role", "password_hash", "created_at"},
        foreign_keys=[("group_id", "groups", "id")],
    )
    db.execute("CREATE UNIQUE INDEX users_name ON users (name COLLATE NOCASE)")
    db.table("saved_locals").create_index(["owner"])


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _m001_community_assets, _m002_saved_locals, _m003_people,
]
TOKEN_BYTES = 18  # 144 bits: a private link nobody can guess
MAX_LOCAL_NAME = 120


def db_path() -> Path:
    return settings.data_dir() / DB_FILENAME


@contextmanager
def connect(path: Path | None = None) -> Iterator[sqlite_utils.Database]:
    """A fresh connection for one unit of work, migrated to the latest schema."""
    conn = sqlite3.connect(path or db_path(), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
        db = sqlite_utils.Database(conn)
        migrate(db)
        yield db
    finally:
        conn.close()


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
            conn.execute("ROLLBACK")
            raise
    return schema_version(db)


def published_assets() -> gpd.GeoDataFrame:
    """Published community assets in the common asset shape (source "community")."""
    with connect() as db:
        rows = list(
            db.query(
                "select id, name, category, geometry_wkt, address, website, phone, opening_hours "
                "from community_assets where status = 'published' order by id"
            )
        )
    if not rows:
        return schema.empty_assets()
    frame = gpd.GeoDataFrame(
        {
            "id": [f"community:{r['id']}" for r in rows],
            "source": "community",
            "osm_type": None,
            "osm_id": None,
            "name": [r["name"] for r in rows],
            "category": [r["category"] for r in rows],
            "address": [r["address"] for r in rows],
            "website": [r["website"] for r in rows],
            "phone": [r["phone"] for r in rows],
            "opening_hours": [r["opening_hours"] for r in rows],
        },
        geometry=shapely.from_wkt([r["geometry_wkt"] for r in rows]),
        crs=schema.WGS84,
    )
    return schema.conform_assets(frame)


@dataclass(frozen=True)
class SavedLocal:
    token: str
    name: str
    spec_json: str
    area_wkt: str
    created_at: str


def save_local(name: str, spec_json: str, area_wkt: str, *, owner: str | None = None) -> str:
    """Keep a resident's local; returns the secret token its private link carries."""
    clean = " ".join(name.split())
    if not clean:
        raise BadInputError("Give your local a name, for example \"Home and the park\".")
    if len(clean) > MAX_LOCAL_NAME:
        raise BadInputError(f"A local's name can be at most {MAX_LOCAL_NAME} characters.")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with connect() as db:
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            db.table("saved_locals").insert({
                "token": token, "name": clean, "spec_json": spec_json, "area_wkt": area_wkt,
                "owner": owner, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            })
            db.conn.execute("COMMIT")
        except BaseException:
            db.conn.execute("ROLLBACK")
            raise
    return token


def get_local(token: str) -> SavedLocal | None:
    """The saved local behind a private link, or None (also for anything not shaped like a token)."""
    if not TOKEN_PATTERN.fullmatch(token or ""):
        return None
    with connect() as db:
        rows = list(db.query("select token, name, spec_json, area_wkt, created_at from saved_locals "
                             "where token = ?", [token]))
    return SavedLocal(**rows[0]) if rows else None


def saved_local_areas() -> list[str]:
    """Every saved local's area (WKT), for aggregate views; never who saved it or its name."""
    with connect() as db:
        return [r["area_wkt"] for r in db.query("select area_wkt from saved_locals")]


# ---------------------------------------------------------------- people (see layers/accounts.py)


@dataclass(frozen=True)
class UserRow:
    id: int
    name: str
    role: str
    group_id: int | None
    group_name: str | None
    password_hash: str


def _write(db: sqlite_utils.Database, action: Callable[[], object]) -> object:
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        result = action()
        db.conn.execute("COMMIT")
        return result
    except BaseException:
        db.conn.execute("ROLLBACK")
        raise


def group_id(name: str, *, create: bool = False) -> int | None:
    """The id of the group with this name (any case); created first when `create`."""
    with connect() as db:
        rows = list(db.query("select id from groups where name = ? collate nocase", [name]))
        if rows:
            return int(rows[0]["id"])
        if not create:
            return None

        def insert() -> int:
            table = db.table("groups")
            table.insert({"name": name, "created_at": datetime.now(UTC).isoformat(timespec="seconds")})
            return int(table.last_pk)  # type: ignore[arg-type]

        return int(_write(db, insert))  # type: ignore[call-overload]


def insert_user(name: str, role: str, password_hash: str, group: int | None) -> int:
    with connect() as db:
        if list(db.query("select 1 from users where name = ? collate nocase", [name])):
            raise BadInputError(f"There is already a user called {name!r}.")

        def insert() -> int:
            table = db.table("users")
            table.insert({"name": name, "role": role, "group_id": group, "password_hash": password_hash,
                          "created_at": datetime.now(UTC).isoformat(timespec="seconds")})
            return int(table.last_pk)  # type: ignore[arg-type]

        return int(_write(db, insert))  # type: ignore[call-overload]


_USER_SELECT = ("select users.id, users.name, users.role, users.group_id, groups.name as group_name, "
                "users.password_hash from users left join groups on groups.id = users.group_id ")


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
        rows = list(db.query("select token, name, spec_json, area_wkt, created_at from saved_locals "
                             "where owner = ? order by created_at desc, name", [owner]))
    return [SavedLocal(**r) for r in rows]
