"""People: who may do what. Passwords are hashed with Argon2id (argon2-cffi); never stored or
logged in clear. Every permission check lives here, in layers/, not in the UI."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from layers import store
from layers.errors import BadInputError, NotAllowedError

ROLES = ("admin", "moderator", "planner", "editor")
MIN_PASSWORD, MAX_PASSWORD = 10, 1024
MAX_NAME_LENGTH = 64
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
NAME_PATTERN = re.compile(r"[\w][\w .@'-]{1,63}")
_HASHER = PasswordHasher()
# Verifying against this keeps a wrong user name as slow as a wrong password.
_DUMMY_HASH = _HASHER.hash("not a real password, only for timing")


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    group: str | None

    @property
    def owner_key(self) -> str:
        """What saved locals record as their owner."""
        return f"user:{self.id}"


def _check_name(name: str, what: str) -> str:
    clean = " ".join(str(name).split())
    if not NAME_PATTERN.fullmatch(clean):
        raise BadInputError(f"A {what} name needs 2 to 64 letters, digits, spaces or . @ ' - _ characters.")
    return clean


def _check_password(password: str) -> str:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise BadInputError(f"A password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters.")
    return password


def add_user(name: str, role: str, password: str, *, group: str | None = None) -> User:
    clean = _check_name(name, "user")
    if role not in ROLES:
        raise BadInputError(f"Unknown role {role!r}; choose from: {', '.join(ROLES)}.")
    if role == "editor" and not group:
        raise BadInputError("An editor belongs to a group: give --group.")
    group_name = _check_name(group, "group") if group else None
    _check_password(password)
    gid = store.group_id(group_name, create=True) if group_name else None
    user_id = store.insert_user(clean, role, _HASHER.hash(password), gid)
    return User(user_id, clean, role, group_name)


def authenticate(name: str, password: str) -> User | None:
    """The user when name and password match, else None (the same for either mistake).
    After MAX_FAILURES wrong tries for a name within LOCKOUT, that name is refused for a while,
    so a password cannot be guessed by trying many."""
    clean = " ".join(str(name).split())[:MAX_NAME_LENGTH]
    if not clean:
        return None
    if store.recent_sign_in_failures(clean, datetime.now(UTC) - LOCKOUT) >= MAX_FAILURES:
        raise NotAllowedError(f"Too many wrong passwords for {clean!r}; try again in {LOCKOUT.seconds // 60} minutes.")
    row = store.find_user(name=clean)
    ok = isinstance(password, str) and len(password) <= MAX_PASSWORD
    try:
        _HASHER.verify(row.password_hash if row else _DUMMY_HASH, password if ok else "")
    except (VerificationError, InvalidHashError):
        ok = False
    if row is None or not ok:
        store.record_sign_in_failure(clean)
        return None
    store.clear_sign_in_failures(clean)
    if _HASHER.check_needs_rehash(row.password_hash):
        store.set_password_hash(row.id, _HASHER.hash(password))
    return User(row.id, row.name, row.role, row.group_name)


def list_people(by: User | None) -> list[dict[str, object]]:
    """Everyone with an account, for an admin (names, roles and groups; never password hashes)."""
    if by is None or by.role != "admin":
        raise NotAllowedError("Only an admin can see the list of people.")
    return store.list_users()


def add_user_as(by: User | None, name: str, role: str, password: str, *, group: str | None = None) -> User:
    """An admin adds a person from the app (the command line's `users add` needs no sign-in)."""
    if by is None or by.role != "admin":
        raise NotAllowedError("Only an admin can add people.")
    return add_user(name, role, password, group=group)


def get_user(user_id: int) -> User | None:
    row = store.find_user(user_id=user_id)
    return User(row.id, row.name, row.role, row.group_name) if row else None


EMAIL_PATTERN = re.compile(r"[^@\s<>\"']{1,64}@[A-Za-z0-9.-]{1,189}\.[A-Za-z]{2,24}")


def set_email_as(by: User | None, user_id: int, email: str | None) -> None:
    """An admin gives a person the e-mail their council single sign-on uses (None removes it):
    whoever signs in with that e-mail gets this account's role."""
    if by is None or by.role != "admin":
        raise NotAllowedError("Only an admin can set people's e-mails.")
    clean = " ".join(str(email or "").split()) or None
    if clean is not None and not EMAIL_PATTERN.fullmatch(clean):
        raise BadInputError(f"{clean[:80]!r} is not an e-mail address.")
    if store.find_user(user_id=user_id) is None:
        raise BadInputError("There is no such person.")
    store.set_user_email(user_id, clean)


def user_for_email(email: str | None) -> User | None:
    """The account an admin gave this (single sign-on) e-mail, else None."""
    clean = " ".join(str(email or "").split())
    if not clean or not EMAIL_PATTERN.fullmatch(clean):
        return None
    row = store.find_user_by_email(clean)
    return User(row.id, row.name, row.role, row.group_name) if row else None
