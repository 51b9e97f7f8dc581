"""The OpenStreetMap layers of a whole region kept in PostGIS (written by osm2pgsql, see
layers/osm/osm2pgsql.py): the SQL that publishes a finished load and reads it back.

osm2pgsql writes four tables under the staging prefix (`ourpatch_osmload_`); `publish` swaps them
for the live ones (`ourpatch_osm_`), records the load's description in `ourpatch_osm_meta` and
moves the store's `osm_load` data version, all in one transaction, so an app server never sees
half a load, nor new tables under the old version (or the reverse). These tables are not part of
the store's numbered migrations: they exist only where a region was loaded into the database, and
each load replaces them whole. Publishing or dropping a load makes the store's tables first where
they are missing, so the version always moves.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from layers.errors import ConflictError, StorageError
from layers.store.postgis import CONNECT_TIMEOUT_S, OSM_LOAD, PostgisStore, redact

STAGING_PREFIX = "ourpatch_osmload_"
LIVE_PREFIX = "ourpatch_osm_"
TABLES = ("assets", "basemap", "gazetteer", "ways")  # the SQL below spells the prefixed names out
META_TABLE = "ourpatch_osm_meta"
LOCK_PUBLISH = 7_301_003  # advisory lock key, beside postgis.py's


@contextmanager
def _connect(url: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    try:
        conn = psycopg.connect(url, autocommit=True, row_factory=dict_row, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as exc:
        cause = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StorageError(f"The database {redact(url)} cannot be reached (cause: {cause}).") from exc
    try:
        yield conn
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StorageError(
            f"The database {redact(url)} failed while handling the OpenStreetMap layers (cause: {first})."
        ) from exc
    finally:
        conn.close()


def current_schema(url: str) -> str:
    """The schema new tables go to on this URL (the first of its search_path that exists)."""
    with _connect(url) as conn:
        row = conn.execute(
            "SELECT current_schema() AS s, EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'postgis') AS postgis"
        ).fetchone()
    if not row or not row["s"]:
        raise StorageError(f"The database {redact(url)} has no schema to create tables in.")
    if not row["postgis"]:
        raise StorageError(f"The database {redact(url)} lacks PostGIS (CREATE EXTENSION postgis).")
    return str(row["s"])


def drop_staging(url: str) -> None:
    """Remove what a failed or interrupted load left behind."""
    schema = current_schema(url)
    with _connect(url) as conn:
        for name in TABLES:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(schema, STAGING_PREFIX + name)))


def _ensure_meta(conn: psycopg.Connection[dict[str, Any]], schema: str) -> None:
    conn.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (id integer PRIMARY KEY CHECK (id = 1), "
            "version bigint NOT NULL, meta jsonb NOT NULL)"
        ).format(sql.Identifier(schema, META_TABLE))
    )


def _store_tables(url: str) -> None:
    """The store's tables (data_versions among them), made by its migrations where missing."""
    with _connect(url) as conn:
        PostgisStore(url).migrate(conn)


def _move_load_version(conn: psycopg.Connection[dict[str, Any]]) -> None:
    """Move the store's data version of the loaded region, in the caller's transaction. The table
    is named as the store names it (found on the search_path), so it is the one the store reads."""
    conn.execute(
        "INSERT INTO data_versions (name, version) "
        "VALUES (%s, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint) "
        "ON CONFLICT (name) DO UPDATE SET version = data_versions.version + 1",
        [OSM_LOAD],
    )


def publish(url: str, meta: dict[str, Any]) -> int:
    """Make the staged load the live one (tables and their indexes renamed), record `meta` and move
    the store's `osm_load` data version, in one transaction. Returns the load's version number
    (one more than the last)."""
    schema = current_schema(url)
    _store_tables(url)
    with _connect(url) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_PUBLISH])
        for name in TABLES:
            staged = conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL AS present", [f'"{schema}"."ourpatch_osmload_{name}"']
            ).fetchone()
            if not staged or not staged["present"]:
                raise StorageError(f"The load into {redact(url)} did not write its {name} table; nothing was changed.")
        for name in TABLES:
            live, staged_name = LIVE_PREFIX + name, STAGING_PREFIX + name
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(schema, live)))
            conn.execute(
                sql.SQL("ALTER TABLE {} RENAME TO {}").format(sql.Identifier(schema, staged_name), sql.Identifier(live))
            )
            # osm2pgsql names indexes after the table; rename them too, or the next load's clash
            indexes = conn.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = %s", [schema, live]
            ).fetchall()
            for row in indexes:
                old = str(row["indexname"])
                if old.startswith(STAGING_PREFIX):
                    conn.execute(
                        sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                            sql.Identifier(schema, old), sql.Identifier(LIVE_PREFIX + old[len(STAGING_PREFIX) :])
                        )
                    )
        _ensure_meta(conn, schema)
        found = conn.execute(sql.SQL("SELECT version FROM {} WHERE id = 1").format(sql.Identifier(schema, META_TABLE)))
        last = found.fetchone()
        version = (int(last["version"]) if last else 0) + 1
        meta_table = sql.Identifier(schema, META_TABLE)
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (id, version, meta) VALUES (1, %s, %s) ON CONFLICT (id) DO UPDATE "
                "SET version = EXCLUDED.version, meta = EXCLUDED.meta"
            ).format(meta_table),
            [version, json.dumps(meta, ensure_ascii=False)],
        )
        _move_load_version(conn)
    return version


def drop_load(url: str) -> None:
    """Forget the region loaded into the database (the app goes back to the data folder's layers),
    moving the store's `osm_load` data version in the same transaction."""
    _store_tables(url)
    with _connect(url) as conn, conn.transaction():
        schema = _schema(conn)
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_PUBLISH])
        for name in TABLES:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(schema, LIVE_PREFIX + name)))
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(schema, META_TABLE)))
        _move_load_version(conn)


def _schema(conn: psycopg.Connection[dict[str, Any]]) -> str:
    """Where this connection creates tables: the tables of a load are always named in it, so a
    schema further down the search_path never stands in for them."""
    row = conn.execute("SELECT current_schema() AS s").fetchone()
    return str(row["s"]) if row and row["s"] else "public"


def load_version(url: str) -> tuple[int, dict[str, Any]] | None:
    """(version, meta) of the region loaded into the database, or None when there is none."""
    with _connect(url) as conn:
        schema = _schema(conn)
        present = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL AS present", [f'"{schema}"."{META_TABLE}"']
        ).fetchone()
        if not present or not present["present"]:
            return None
        row = conn.execute(
            sql.SQL("SELECT version, meta FROM {} WHERE id = 1").format(sql.Identifier(schema, META_TABLE))
        ).fetchone()
    if not row:
        return None
    meta = row["meta"] if isinstance(row["meta"], dict) else json.loads(row["meta"])
    return int(row["version"]), meta


def read_layers(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of the live tables, in one snapshot (a load published meanwhile is not mixed in):
    geometries as WKB; the gazetteer as a point on each feature's surface (lon, lat)."""
    queries = {
        "assets": "SELECT osm_type, osm_id, category, tags, ST_AsBinary(geom) AS wkb FROM {assets} "
        "ORDER BY osm_type, osm_id",
        "basemap": "SELECT kind, ST_AsBinary(geom) AS wkb FROM {basemap} ORDER BY osm_type, osm_id, kind",
        "gazetteer": "SELECT what, tags, ST_X(p) AS lon, ST_Y(p) AS lat FROM (SELECT what, tags, osm_type, osm_id, "
        "ST_PointOnSurface(geom) AS p FROM {gazetteer}) g ORDER BY osm_type, osm_id, what",
        "ways": "SELECT way_id, nodes, tags, ST_AsBinary(geom) AS wkb FROM {ways} ORDER BY way_id",
    }
    out: dict[str, list[dict[str, Any]]] = {}
    with _connect(url) as conn, conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        schema = _schema(conn)
        names = {name: sql.Identifier(schema, LIVE_PREFIX + name) for name in TABLES}
        for name, query in queries.items():
            out[name] = conn.execute(sql.SQL(query).format(**names)).fetchall()
    return out


def staged_summary(url: str) -> dict[str, Any]:
    """How many assets the staged load holds, and the bounds of its assets and base map
    ([min lon, min lat, max lon, max lat], or None when empty)."""
    with _connect(url) as conn:
        schema = _schema(conn)
        assets, basemap = (sql.Identifier(schema, STAGING_PREFIX + n) for n in ("assets", "basemap"))
        row = conn.execute(
            sql.SQL(
                "SELECT (SELECT count(*) FROM {assets}) AS assets, ST_XMin(e) AS x0, ST_YMin(e) AS y0, "
                "ST_XMax(e) AS x1, ST_YMax(e) AS y1 FROM (SELECT ST_Extent(geom) AS e FROM (SELECT geom FROM "
                "{assets} UNION ALL SELECT geom FROM {basemap}) g) x"
            ).format(assets=assets, basemap=basemap)
        ).fetchone()
    if not row:
        return {"assets": 0, "bounds": None}
    bounds = None if row["x0"] is None else [float(row[k]) for k in ("x0", "y0", "x1", "y1")]
    return {"assets": int(row["assets"]), "bounds": bounds}


LOCK_LOAD = 7_301_004


@contextmanager
def load_lock(url: str) -> Iterator[None]:
    """Held for a whole load (osm2pgsql and the publish): a second load into the same schema is
    refused at once rather than overwriting the first one's staging tables."""
    with _connect(url) as conn:
        row = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(current_schema())) AS got", [LOCK_LOAD]).fetchone()
        if not row or not row["got"]:
            raise ConflictError(f"Another load into {redact(url)} is under way; try again when it has finished.")
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s, hashtext(current_schema()))", [LOCK_LOAD])
