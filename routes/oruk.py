"""The read-only Open Referral UK API, mounted at /api/oruk by app.py (st.App routes).

Paths and answers follow the UK profile's openapi.json: `/` (version and profile), `/services`,
`/services/{id}`, `/service_at_locations`, `/service_at_locations/{id}`, `/taxonomies`,
`/taxonomies/{id}`, `/taxonomy_terms`, `/taxonomy_terms/{id}`, and `/organizations`,
`/organizations/{id}` as HSDS 3 has them. Lists take `page` and `per_page` (and, for services,
`search`, `taxonomy_term_id`, `taxonomy_id`). GET only; any origin may read (CORS). The JSON is
built by pure functions in layers/io/oruk.py; here only HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from layers.errors import BadInputError
from layers.io import oruk

PREFIX = "/api/oruk"


def _page_args(request: Request) -> tuple[int, int]:
    return oruk.parse_paging(request.query_params.get("page"), request.query_params.get("per_page"))


def _filters(request: Request) -> dict[str, str | None]:
    q = request.query_params
    return {
        "search": q.get("search") or None,
        "taxonomy_term_id": q.get("taxonomy_term_id") or None,
        "taxonomy_id": q.get("taxonomy_id") or None,
    }


async def _answer(work: Callable[[], Any], missing: str | None = None) -> Response:
    try:
        body = await run_in_threadpool(work)
    except BadInputError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=400)
    if body is None:
        return JSONResponse({"detail": f"No {missing} with that id."}, status_code=404)
    return JSONResponse(body)


def _list(build: Callable[..., dict[str, Any]], *, filtered: bool = False) -> Callable[[Request], Any]:
    async def handler(request: Request) -> Response:
        def work() -> dict[str, Any]:
            page, per_page = _page_args(request)
            return build(page, per_page, **_filters(request)) if filtered else build(page, per_page)

        return await _answer(work)

    return handler


def _one(get: Callable[[str], dict[str, Any] | None], what: str) -> Callable[[Request], Any]:
    async def handler(request: Request) -> Response:
        return await _answer(lambda: get(str(request.path_params["id"])), what)

    return handler


async def _root(_request: Request) -> Response:
    return JSONResponse(oruk.api_root())


async def _to_root(_request: Request) -> Response:
    return RedirectResponse(PREFIX + "/", status_code=308)


api = Starlette(
    routes=[
        Route("/", _root, methods=["GET"]),
        Route("/services", _list(oruk.services_page, filtered=True), methods=["GET"]),
        Route("/services/{id}", _one(oruk.service, "service"), methods=["GET"]),
        Route("/service_at_locations", _list(oruk.service_at_locations_page, filtered=True), methods=["GET"]),
        Route("/service_at_locations/{id}", _one(oruk.service_at_location, "service at a location"), methods=["GET"]),
        Route("/organizations", _list(oruk.organizations_page), methods=["GET"]),
        Route("/organizations/{id}", _one(oruk.organization, "organization"), methods=["GET"]),
        Route("/taxonomies", _list(oruk.taxonomies_page), methods=["GET"]),
        Route("/taxonomies/{id}", _one(oruk.taxonomy, "taxonomy"), methods=["GET"]),
        Route("/taxonomy_terms", _list(oruk.taxonomy_terms_page), methods=["GET"]),
        Route("/taxonomy_terms/{id}", _one(oruk.taxonomy_term, "taxonomy term"), methods=["GET"]),
    ],
    middleware=[Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET"], allow_headers=["*"])],
)

ROUTES: list[BaseRoute] = [Route(PREFIX, _to_root, methods=["GET"]), Mount(PREFIX, app=api)]
