"""People: who may do what. Passwords are hashed with Argon2id (argon2-cffi); never stored or
logged in clear. Every permission check lives here, in layers/, not in the UI."""

from __future__ import annotations

import functools
import json
import re
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import confusable_homoglyphs
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from layers import settings, store
from layers.errors import BadInputError, NotAllowedError, TooManyAttemptsError
from layers.store import Person as Person  # re-exported: the people page names it

ROLES = ("admin", "moderator", "planner", "editor")
MAX_PASSWORD = 1024
MAX_NAME_LENGTH = 64
LOCAL_SOURCE = "local"  # the command line: whoever runs it on the server
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


@functools.cache
def _common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords (zxcvbn's list, from leaked password sets)."""
    return frozenset(FREQUENCY_LISTS["passwords"])


def check_password(password: str, *, name: str | None = None) -> str:
    """Refuse a password that is short, one of the most common, or easy to guess (zxcvbn)."""
    low = settings.min_password_chars
    if not isinstance(password, str) or not low <= len(password) <= MAX_PASSWORD:
        raise BadInputError(f"A password needs {low} to {MAX_PASSWORD} characters.")
    folded = password.casefold()
    core = folded.strip("0123456789!?.,;:_-*#@$%&+= ")
    if folded in _common_passwords() or core in _common_passwords() or (name and core == name.casefold()):
        raise BadInputError(
            "That password is one of the most common ones; choose another "
            "(three or four unrelated words make a strong one)."
        )
    score = int(zxcvbn(password[:200], user_inputs=[name or "", "our patch", "ourpatch"])["score"])
    if score < settings.min_password_score:
        raise BadInputError(
            "That password is too easy to guess (a pattern, a common word or repeated characters); "
            "choose a longer one, such as three or four unrelated words."
        )
    return password


_check_password = check_password


@functools.cache
def _homoglyphs() -> dict[str, str]:
    """Characters that look like one ASCII character (Unicode's confusables, via confusable_homoglyphs)."""
    path = Path(confusable_homoglyphs.__file__).with_name("confusables.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    out = {}
    for char, entries in data.items():
        if len(entries) == 1 and len(entries[0]["c"]) == 1 and entries[0]["c"].isascii():
            out[char] = entries[0]["c"]
    return out


def skeleton(name: str) -> str:
    """What a name looks like: NFKC, accents and invisible characters dropped, look-alike
    characters (Cyrillic а, digit 0, capital I…) mapped to one, case folded, separators dropped.
    Two names with one skeleton cannot be told apart by eye."""
    text = unicodedata.normalize("NFKC", str(name))
    text = "".join(
        ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) not in ("Mn", "Me", "Cf", "Cc")
    )
    mapping = _homoglyphs()
    for _ in range(3):  # I -> l, 0 -> O: follow the chain to its end
        text = "".join(mapping.get(ch, ch) for ch in text)
    text = text.casefold().replace("rn", "m").replace("vv", "w")
    return re.sub(r"[\s._'@-]+", "", text)


def _check_not_look_alike(name: str) -> None:
    wanted = skeleton(name)
    for other in store.list_users():
        if skeleton(other.name) == wanted:
            if other.name.casefold() == name.casefold():
                raise BadInputError(f"There is already a user called {name!r}.")
            raise BadInputError(
                f"{name!r} looks too much like the existing account {other.name!r}; "
                "choose a name that is easy to tell apart."
            )


def check_group_name(name: str) -> None:
    """A new group's name may not look like an existing group's (Cyrillic а for a, 0 for O…)."""
    wanted = skeleton(name)
    for other in store.group_names():
        if other.casefold() != name.casefold() and skeleton(other) == wanted:
            raise BadInputError(
                f"The group name {name!r} looks too much like the existing group {other!r}; "
                "use that group, or a name that is easy to tell apart."
            )


def rename_group(by: User | None, old: str, new: str) -> None:
    """An admin renames a group: its members, assets and published organisation id stay with it."""
    if by is None or by.role != "admin":
        raise NotAllowedError("Only an admin can rename a group.")
    group_id = store.group_id(" ".join(str(old).split()))
    if group_id is None:
        raise BadInputError(f"There is no group called {old!r}.")
    clean = _check_name(new, "group")
    check_group_name(clean)
    store.rename_group(group_id, clean)


def add_user(name: str, role: str, password: str, *, group: str | None = None) -> User:
    clean = _check_name(name, "user")
    if role not in ROLES:
        raise BadInputError(f"Unknown role {role!r}; choose from: {', '.join(ROLES)}.")
    if role == "editor" and not group:
        raise BadInputError("An editor belongs to a group: give --group.")
    group_name = _check_name(group, "group") if group else None
    check_password(password, name=clean)
    _check_not_look_alike(clean)
    if group_name:
        check_group_name(group_name)
    gid = store.group_id(group_name, create=True) if group_name else None
    user_id = store.insert_user(clean, role, _HASHER.hash(password), gid)
    return User(user_id, clean, role, group_name)


def _delay_s(key: str, failures: int) -> float:
    """Growing delays: none for the first few failures, then 1, 2, 4 … seconds, capped (so
    nobody else can keep a name shut for long)."""
    if key.startswith("name:"):
        free, cap = settings.sign_in_free_failures_per_name, settings.sign_in_max_delay_name_s
    else:
        free, cap = settings.sign_in_free_failures_per_source, settings.sign_in_max_delay_source_s
    return 0.0 if failures < free else float(min(cap, 2.0 ** (failures - free)))


def _wait_words(seconds: float) -> str:
    whole = max(1, round(seconds + 0.49))
    return f"{whole} seconds" if whole < 120 else f"{round(whole / 60)} minutes"


def authenticate(name: str, password: str, *, source: str | None = None, now: float | None = None) -> User | None:
    """The user when name and password match, else None (the same for either mistake).

    Every attempt is counted, before the password is checked and in one transaction, against the
    name and against the source (the network address it came from), so parallel guesses cannot
    slip past. After a few failures each further one must wait longer (1, 2, 4 … seconds), up to
    a cap per name (others cannot lock an account out) and a longer cap per source. (`now`: the
    time it is, in seconds since the epoch, for tests that let time pass; the clock when None.)"""
    clean = " ".join(str(name).split())[:MAX_NAME_LENGTH]
    if not clean:
        return None
    name_key, source_key = f"name:{clean.casefold()}", f"source:{source or LOCAL_SOURCE}"
    wait, which = store.reserve_sign_in_attempt(
        [name_key, source_key], time.time() if now is None else now, settings.sign_in_window_s, _delay_s
    )
    if which is not None:
        whose = "for this name" if which == name_key else "from your connection"
        raise TooManyAttemptsError(f"Too many wrong passwords {whose}; wait {_wait_words(wait)} and try again.", wait)
    row = store.find_user(name=clean)
    ok = isinstance(password, str) and len(password) <= MAX_PASSWORD
    try:
        _HASHER.verify(row.password_hash if row else _DUMMY_HASH, password if ok else "")
    except (VerificationError, InvalidHashError):
        ok = False
    if row is None or not ok:
        return None
    store.clear_sign_in_attempts(name_key)
    store.forgive_sign_in_attempt(source_key)
    if _HASHER.check_needs_rehash(row.password_hash):
        store.set_password_hash(row.id, _HASHER.hash(password))
    return User(row.id, row.name, row.role, row.group_name)


def list_people(by: User | None) -> list[Person]:
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
