"""Community assets in SQLite (sqlite-utils). Every query of the store lives in this module.

Kept behind a small interface (open, migrate, published layer) so a PostGIS backend can take
its place for councils that outgrow one machine. Connections are opened per unit of work
(Streamlit runs sessions on many threads), in WAL mode with a busy timeout; writes are one
short BEGIN IMMEDIATE transaction each. Schema changes are numbered migrations, recorded in
PRAGMA user_version, each applied in its own transaction; a second run is a no-op.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import shapely
import sqlite_utils

from layers import schema, settings

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


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_m001_community_assets]


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
