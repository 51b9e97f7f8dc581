"""People and passwords: hashed with Argon2id, checked in layers/, one clear sentence on mistakes.
Every test here runs on SQLite and on PostGIS (each_store)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from layers import settings, store
from layers.errors import BadInputError, NotAllowedError
from layers.groups import accounts
from layers.settings import REPO_ROOT

GOOD_PASSWORD = "correct horse battery"
pytestmark = pytest.mark.usefixtures("each_store")


def test_passwords_are_hashed_and_checked(fresh_data_dir: Path) -> None:
    user = accounts.add_user("Aino Editor", "editor", GOOD_PASSWORD, group="Friends of Esplanadi")
    assert user.group == "Friends of Esplanadi"
    raw = store.table_rows("users")[0]["password_hash"]
    assert raw.startswith("$argon2id$") and GOOD_PASSWORD not in raw
    assert accounts.authenticate("aino editor", GOOD_PASSWORD) == user  # names ignore case
    assert accounts.authenticate("Aino Editor", "wrong password!") is None
    assert accounts.authenticate("Nobody", GOOD_PASSWORD) is None
    assert accounts.authenticate("Aino Editor", "x" * 100_000) is None
    assert accounts.get_user(user.id) == user


@pytest.mark.parametrize(
    ("name", "role", "password", "group", "words"),
    [
        ("A", "editor", GOOD_PASSWORD, "G1", "2 to 64"),
        ("<script>alert(1)</script>", "admin", GOOD_PASSWORD, None, "2 to 64"),
        ("x" * 10_000, "admin", GOOD_PASSWORD, None, "2 to 64"),
        ("Bea", "superuser", GOOD_PASSWORD, None, "Unknown role"),
        ("Bea", "editor", GOOD_PASSWORD, None, "belongs to a group"),
        ("Bea", "admin", "short", None, "12 to 1024"),
    ],
)
def test_bad_people_are_refused(
    fresh_data_dir: Path, name: str, role: str, password: str, group: str | None, words: str
) -> None:
    with pytest.raises(BadInputError, match=words):
        accounts.add_user(name, role, password, group=group)


def test_names_are_unique_whatever_the_case(fresh_data_dir: Path) -> None:
    accounts.add_user("Mika Moderator", "moderator", GOOD_PASSWORD)
    with pytest.raises(BadInputError, match="already a user"):
        accounts.add_user("mika moderator", "admin", GOOD_PASSWORD)


def test_cli_users_add(tmp_path: Path) -> None:
    env = {**os.environ, "OURPATCH_DATA_DIR": str(tmp_path), "OURPATCH_PASSWORD": GOOD_PASSWORD}
    ok = subprocess.run(
        [sys.executable, "-m", "layers", "users", "add", "Ada Admin", "--role", "admin"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert ok.returncode == 0, ok.stderr
    assert "Added Ada Admin (admin)" in ok.stdout
    again = subprocess.run(
        [sys.executable, "-m", "layers", "users", "add", "ada admin", "--role", "admin"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert again.returncode == 2 and "already a user" in again.stderr
    no_password = {k: v for k, v in env.items() if k != "OURPATCH_PASSWORD"}
    asked = subprocess.run(
        [sys.executable, "-m", "layers", "users", "add", "Pia Planner", "--role", "planner"],
        cwd=REPO_ROOT,
        env=no_password,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert asked.returncode == 2 and "OURPATCH_PASSWORD" in asked.stderr


def test_many_wrong_passwords_delay_the_name_for_a_while(fresh_data_dir: Path) -> None:
    accounts.add_user("Lotta Locked", "admin", GOOD_PASSWORD)
    now = time.time()  # the guesses come faster than a slow machine hashes passwords
    for _ in range(settings.sign_in_free_failures_per_name):
        assert accounts.authenticate("Lotta Locked", "not the password", source="ip:192.0.2.1", now=now) is None
    with pytest.raises(NotAllowedError, match="Too many wrong passwords for this name; wait"):
        accounts.authenticate("Lotta Locked", GOOD_PASSWORD, source="ip:192.0.2.2", now=now)
    later = now + settings.sign_in_max_delay_name_s  # the delay has passed
    assert accounts.authenticate("Lotta Locked", GOOD_PASSWORD, source="ip:192.0.2.2", now=later) is not None
