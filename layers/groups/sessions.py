"""Sign-in sessions that survive a reload and a new tab, without putting the password, the role
or the name in the browser.

The browser holds only an opaque random id (`secrets.token_urlsafe(32)`) in an HttpOnly,
SameSite=Lax cookie; the store keeps the session (a SHA-256 hash of that id, never the id
itself; who; when it started; when it was last used). A session ends after IDLE without use,
after MAX_AGE in any case, and at once on sign-out (one session, or all of a person's).

Handing the id to the browser: the sign-in page (a Streamlit session, which cannot set cookies)
starts a session with a one-time code that lives CODE_TTL; the browser swaps the code at our
own HTTP route (routes/auth.py) for the cookie. The code is useless once swapped or expired.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from layers import store
from layers.groups import accounts

COOKIE_NAME = "ourpatch_session"
IDLE = timedelta(hours=8)
MAX_AGE = timedelta(days=7)
CODE_TTL = timedelta(seconds=120)
TOKEN_BYTES = 32
_TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Session:
    id: int
    user: accounts.User


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def start(user: accounts.User, *, now: datetime | None = None) -> tuple[int, str]:
    """A new session for this person (already checked by the caller) and the one-time code that
    the browser swaps for the cookie. Returns (session id, code). (`now`, here and below: the
    time it is, for tests that let time pass; the clock when None.)"""
    now = now or _now()
    purge_expired(now=now)  # sessions idle or old past their limits go when anyone signs in
    code = secrets.token_urlsafe(TOKEN_BYTES)
    session_id = store.insert_session(user.id, _hash(code), _iso(now + CODE_TTL), _iso(now))
    return session_id, code


def claim(code: str, *, now: datetime | None = None) -> str | None:
    """The cookie's token for a valid one-time code (each code works once), else None."""
    if not isinstance(code, str) or not 20 <= len(code) <= 100:
        return None
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token if store.claim_session_code(_hash(code), _hash(token), _iso(now or _now())) is not None else None


def _alive(row: store.SignInSession | None, now: datetime | None) -> Session | None:
    if row is None:
        return None
    now = now or _now()
    last_seen = datetime.fromisoformat(row.last_seen)
    if last_seen < now - IDLE or datetime.fromisoformat(row.created_at) < now - MAX_AGE:
        store.delete_sessions(session_id=row.id)
        return None
    user = accounts.get_user(row.user_id)
    if user is None:
        return None
    if last_seen < now - _TOUCH_EVERY:
        store.touch_session(row.id, _iso(now))
    return Session(row.id, user)


def from_token(token: str | None, *, now: datetime | None = None) -> Session | None:
    """The live session behind a cookie's token (kept alive by this use), else None."""
    if not token or not isinstance(token, str) or len(token) > 100:
        return None
    return _alive(store.find_session(token_hash=_hash(token)), now)


def from_id(session_id: int, *, now: datetime | None = None) -> Session | None:
    """The live session with this id (a sign-out elsewhere ends it here too), else None."""
    return _alive(store.find_session(session_id=int(session_id)), now)


def end(session_id: int) -> None:
    store.delete_sessions(session_id=int(session_id))


def end_token(token: str | None) -> None:
    if token and isinstance(token, str) and len(token) <= 100:
        found = store.find_session(token_hash=_hash(token))
        if found is not None:
            end(found.id)


def end_everywhere(user_id: int) -> int:
    """Sign a person out on every browser; returns how many sessions ended."""
    return store.delete_sessions(user_id=int(user_id))


def purge_expired(*, now: datetime | None = None) -> int:
    now = now or _now()
    return store.delete_sessions(idle_before=_iso(now - IDLE), created_before=_iso(now - MAX_AGE))
