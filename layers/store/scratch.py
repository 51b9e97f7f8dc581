"""A throwaway schema in a PostGIS database, for benchmarks that must not touch real tables: a
URL whose connections create and find tables only in a new schema (PostGIS stays reachable in
public), dropped with everything in it at the end."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import psycopg
from psycopg import sql


@contextmanager
def scratch_schema(url: str, *, prefix: str = "ourpatch_bench_") -> Iterator[str]:
    name = prefix + secrets.token_hex(6)
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options={quote(f'-c search_path={name},public')}"
    finally:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


def reachable(url: str) -> str | None:
    """None when the database answers and has PostGIS, else why not (one line)."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            row = conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'").fetchone()
    except psycopg.Error as exc:
        return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return None if row and row[0] else "the database lacks PostGIS (CREATE EXTENSION postgis)"
