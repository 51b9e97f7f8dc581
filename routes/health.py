"""The health check a load balancer asks each app server, mounted at /health by app.py.

Streamlit's own /_stcore/health says the process answers; this one also reads the data version
from the store (the database of every server), so a server that has lost its database is taken
out of rotation. GET or HEAD /health -> 200 {"ok": true}, or 503 with one sentence (the cause
goes to the server's log, never to the caller: it may name a host)."""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from layers import catalogue
from layers.errors import StorageError

logger = logging.getLogger(__name__)
NO_STORE = {"Cache-Control": "no-store"}


async def health(request: Request) -> JSONResponse:
    try:
        await run_in_threadpool(catalogue.version)
    except (StorageError, OSError) as exc:  # OSError: a data folder that cannot be read
        logger.error("health check failed: %s", exc)
        return JSONResponse(
            {"ok": False, "error": "This server cannot reach its data store."}, status_code=503, headers=NO_STORE
        )
    return JSONResponse({"ok": True}, headers=NO_STORE)


ROUTES = [Route("/health", health, methods=["GET", "HEAD"])]
