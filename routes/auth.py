"""Our two HTTP routes for sign-in cookies, served by st.App (Starlette) beside the pages.

A Streamlit page cannot set a cookie (it talks over a websocket), so the sign-in page starts a
session in the store with a one-time code, and the browser swaps that code here for an
HttpOnly, SameSite=Lax cookie holding an opaque random id (see layers/groups/sessions.py). Only a
hash of the id is stored; nothing about the person (name, role, password) is in the browser.

POST /auth/session      {"code": "..."}  -> sets the cookie (403 for a used or expired code)
POST /auth/session/end                    -> ends the cookie's session in the store, clears the cookie
"""

from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from layers.groups import sessions

MAX_BODY = 1024


def _cookie_options(request: Request) -> dict[str, object]:
    return {"path": "/", "httponly": True, "samesite": "lax", "secure": request.url.scheme == "https"}


async def claim_session(request: Request) -> JSONResponse:
    body = await request.body()
    try:
        code = json.loads(body[:MAX_BODY]).get("code") if len(body) <= MAX_BODY else None
    except (ValueError, AttributeError):
        code = None
    token = await run_in_threadpool(sessions.claim, code) if isinstance(code, str) else None
    if token is None:
        return JSONResponse(
            {"ok": False, "error": "That sign-in code is used or out of date; sign in again."},
            status_code=403,
            headers={"Cache-Control": "no-store"},
        )
    response = JSONResponse({"ok": True}, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        sessions.COOKIE_NAME,
        token,
        max_age=int(sessions.MAX_AGE.total_seconds()),
        **_cookie_options(request),  # type: ignore[arg-type]
    )
    return response


async def end_session(request: Request) -> JSONResponse:
    await run_in_threadpool(sessions.end_token, request.cookies.get(sessions.COOKIE_NAME))
    response = JSONResponse({"ok": True}, headers={"Cache-Control": "no-store"})
    response.delete_cookie(sessions.COOKIE_NAME, **_cookie_options(request))  # type: ignore[arg-type]
    return response


ROUTES = [
    Route("/auth/session", claim_session, methods=["POST"]),
    Route("/auth/session/end", end_session, methods=["POST"]),
]
