"""PostGIS for the store tests: a server named by OURPATCH_TEST_DATABASE_URL (as .ci/run starts
one), else a throwaway cluster started here when PostgreSQL + PostGIS are installed (initdb on
PATH or under /usr/lib/postgresql/*/bin), else none: the PostGIS tests then skip with the
reason, or fail when CI=true. Each test gets a fresh schema of its own, dropped after."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

ENV = "OURPATCH_TEST_DATABASE_URL"
MISSING: list[str] = []  # why no throwaway cluster could start


def _bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Start a PostgreSQL cluster in a temp folder on a free port (as `nobody` when run as root:
    PostgreSQL refuses to run as root), with a database that has PostGIS; stopped at the end."""
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError(f"PostgreSQL is not installed (no initdb); install postgresql-15-postgis-3 or set {ENV}")
    folder = Path(tempfile.mkdtemp(prefix="ourpatch-pg-"))
    as_user: list[str] = []
    user = os.environ.get("USER") or "postgres"
    if os.geteuid() == 0:
        as_user, user = ["runuser", "-u", "nobody", "--"], "nobody"
        shutil.chown(folder, "nobody")
    port = _free_port()
    data = folder / "data"
    run = {"check": True, "capture_output": True, "text": True, "cwd": folder}
    subprocess.run([*as_user, initdb, "-D", str(data), "-U", user, "-A", "trust", "--no-sync"], **run)  # type: ignore[call-overload]
    subprocess.run(
        [
            *as_user,
            pg_ctl,
            "-D",
            str(data),
            "-l",
            str(folder / "log"),
            "-w",
            "-o",
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        ],
        **run,
    )  # type: ignore[call-overload]
    try:
        with psycopg.connect(f"postgresql://{user}@127.0.0.1:{port}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE ourpatch_test")
        url = f"postgresql://{user}@127.0.0.1:{port}/ourpatch_test"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        yield url
    finally:
        subprocess.run(
            [*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], check=False, capture_output=True, cwd=folder
        )
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def fresh_schema(base_url: str) -> Iterator[str]:
    """A URL whose connections see only a new, empty schema (and public, for PostGIS)."""
    name = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    sep = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{sep}options={quote(f'-c search_path={name},public')}"
    finally:
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")


def reachable_or_skip(server: str | None) -> str:
    """`server` when it answers; else skip the test with the reason (fail it when CI=true: CI has
    PostGIS, so a missing one is a failure there)."""
    if server is not None:
        try:
            with psycopg.connect(server, connect_timeout=10):
                pass
        except psycopg.Error as exc:
            MISSING.append(f"{ENV} cannot be reached ({str(exc).strip().splitlines()[0]})")
            server = None
    if server is None:
        reason = f"PostGIS is not available: {'; '.join(dict.fromkeys(MISSING)) or 'unknown reason'}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " (CI=true: a missing PostGIS is a failure)")
        pytest.skip(reason)
    return server
