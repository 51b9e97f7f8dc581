"""The sign-in cookie routes (routes/auth.py) on their own, with Starlette's test client:
a one-time code gives an HttpOnly, SameSite=Lax cookie once; junk gives nothing; ending clears it."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.testclient import TestClient

from layers.groups import accounts, sessions
from routes import auth as auth_routes


def test_code_swapped_once_for_an_httponly_cookie_and_ended(fresh_data_dir: Path) -> None:
    editor = accounts.add_user("Eeva Editor", "editor", "a long enough password", group="Handmade Group")
    client = TestClient(Starlette(routes=auth_routes.ROUTES))
    _, code = sessions.start(editor)
    first = client.post("/auth/session", json={"code": code})
    assert first.status_code == 200
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"{sessions.COOKIE_NAME}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Eeva" not in cookie and "editor" not in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    assert sessions.from_token(token) is not None
    again = TestClient(Starlette(routes=auth_routes.ROUTES)).post("/auth/session", json={"code": code})
    assert again.status_code == 403 and "set-cookie" not in again.headers
    for junk in (b"", b"not json", b'{"code": 5}', b'["x"]', b'{"code": "' + b"x" * 5000 + b'"}'):
        bad = client.post("/auth/session", content=junk)
        assert bad.status_code == 403 and "set-cookie" not in bad.headers
    assert client.get("/auth/session").status_code == 405
    ended = client.post("/auth/session/end")
    assert ended.status_code == 200 and 'ourpatch_session=""' in ended.headers["set-cookie"]
    assert sessions.from_token(token) is None
