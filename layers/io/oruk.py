"""The community directory as Open Referral UK (the UK profile of HSDS 3.0).

Two ways out, built from the same records:

- the read-only ORUK API (`routes/oruk.py` serves these functions over HTTP): `api_root()`,
  `services_page()` / `service()`, `organizations_page()` / `organization()`,
  `service_at_locations_page()` / `service_at_location()`, `taxonomies_page()` / `taxonomy()`,
  `taxonomy_terms_page()` / `taxonomy_term()`; lists are the profile's paginated page object;
- `write_package(folder)`: an HSDS tabular data package (`datapackage.json` and one CSV a table,
  named and shaped as the UK profile's table schemas).

Records carry only fields the UK profile has (a missing value is left out, never null). Every
id is a UUID derived from our own stable internal ids (uuid5), so an organisation keeps its id
when the group is renamed. Categories are the taxonomy; opening hours and "when you meet" are
parsed into structured schedules where they can be (`schedules`), the text always kept in
`schedule.description`. The tests validate everything against the official schemas.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import shapely

from layers import categories, settings
from layers.errors import BadInputError
from layers.groups import community, schedules
from layers.store.contract import Asset

NAMESPACE = uuid.UUID("6f0c2f2e-8d2b-4f43-9a52-0b1c8f3e4a17")  # Our Patch's namespace for stable ids
PROFILE = "https://github.com/OpenReferralUK/uk-profile"
OPENAPI_URL = "https://raw.githubusercontent.com/openreferral/uk-profile/main/openapi.json"
HSDS_VERSION = "3.0"
TAXONOMY_NAME = "Our Patch categories"
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 500

# The data package: table -> (file, columns, non-string column types), as the UK profile names them.
TABLES: dict[str, tuple[str, list[str], dict[str, str]]] = {
    "organization": ("organizations.csv", ["id", "name", "description", "email", "website"], {}),
    "service": (
        "services.csv",
        ["id", "organization_id", "name", "description", "url", "email", "status", "assured_date", "last_modified"],
        {"assured_date": "date", "last_modified": "datetime"},
    ),
    "location": (
        "locations.csv",
        [
            "id",
            "location_type",
            "name",
            "description",
            "latitude",
            "longitude",
            "external_identifier",
            "external_identifier_type",
        ],
        {"latitude": "number", "longitude": "number"},
    ),
    "address": (
        "address.csv",
        ["id", "location_id", "address_1", "city", "state_province", "postal_code", "country", "address_type"],
        {},
    ),
    "service_at_location": ("service_at_location.csv", ["id", "service_id", "location_id"], {}),
    "schedule": (
        "schedule.csv",
        ["id", "service_id", "service_at_location_id", "freq", "byday", "opens_at", "closes_at", "description"],
        {"opens_at": "time", "closes_at": "time"},
    ),
    "service_area": ("service_areas.csv", ["id", "service_id", "name", "extent", "extent_type"], {}),
    "contact": ("contacts.csv", ["id", "service_id", "name", "title"], {}),
    "phone": ("phones.csv", ["id", "contact_id", "number", "description"], {}),
    "taxonomy": ("taxonomies.csv", ["id", "name", "description", "version"], {}),
    "taxonomy_term": ("taxonomy_terms.csv", ["id", "name", "description", "taxonomy", "taxonomy_id", "term"], {}),
    "attribute": ("attribute.csv", ["id", "link_id", "taxonomy_term_id", "link_type"], {}),
}
FOREIGN_KEYS = {
    "service": [("organization_id", "organization")],
    "address": [("location_id", "location")],
    "service_at_location": [("service_id", "service"), ("location_id", "location")],
    "schedule": [("service_id", "service"), ("service_at_location_id", "service_at_location")],
    "service_area": [("service_id", "service")],
    "contact": [("service_id", "service")],
    "phone": [("contact_id", "contact")],
    "taxonomy_term": [("taxonomy_id", "taxonomy")],
    "attribute": [("link_id", "service"), ("taxonomy_term_id", "taxonomy_term")],
}


def stable_id(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(str(p) for p in parts)))


def _compact(record: dict[str, Any]) -> dict[str, Any]:
    """A record without its empty values: the UK profile wants a string, a number or nothing."""
    return {k: v for k, v in record.items() if v is not None and v != "" and v != []}


# ------------------------------------------------------------------ addresses

UK_POSTCODE = re.compile(r"\b([A-Z]{1,2}[0-9][A-Z0-9]?)\s*([0-9][A-Z]{2})\b", re.I)
POSTAL_CODE = re.compile(r"\b([0-9]{4,5})\b")


def parse_address(text: str | None) -> dict[str, str] | None:
    """Street, postcode and town from a one-line address ("12 High Street, York YO1 7HH",
    "Unioninkatu 40, 00170 Helsinki"); the country is GB for a UK postcode, else
    OURPATCH_COUNTRY. None when a part the UK profile requires cannot be found."""
    if not text or not text.strip():
        return None
    parts = [p.strip() for p in text.replace("\n", ",").split(",") if p.strip()]
    uk = UK_POSTCODE.search(text)
    match = uk or POSTAL_CODE.search(text)
    country = "GB" if uk else settings.country()
    if match is None or not country or len(parts) < 2:
        return None
    postal_code = f"{uk.group(1)} {uk.group(2)}".upper() if uk else match.group(1)
    holder = next(i for i, p in enumerate(parts) if match.group(0) in p or match.group(0) in p.upper())
    if holder == 0:
        return None
    town = parts[holder].replace(match.group(0), " ").strip(" ,")
    if not town and holder >= 2:
        town = parts[holder - 1]
        street = ", ".join(parts[: holder - 1])
    else:
        street = ", ".join(parts[:holder])
    if not town or not street:
        return None
    # The profile requires state_province; a one-line address names no county or region, so the town stands in.
    return {"address_1": street, "city": town, "state_province": town, "postal_code": postal_code, "country": country}


# ------------------------------------------------------------------ the directory


@dataclass
class Directory:
    """Every published community asset as UK-profile records."""

    organizations: dict[str, dict[str, Any]] = field(default_factory=dict)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)  # full records, compiled service shape
    service_at_locations: dict[str, dict[str, Any]] = field(default_factory=dict)  # with location
    taxonomy: dict[str, Any] = field(default_factory=dict)
    terms: dict[str, dict[str, Any]] = field(default_factory=dict)
    phones: list[dict[str, Any]] = field(default_factory=list)  # (the profile nests phones nowhere)


def _taxonomy() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    taxonomy_id = stable_id("taxonomy", "categories")
    taxonomy = {
        "id": taxonomy_id,
        "name": TAXONOMY_NAME,
        "version": "1",
        "description": "The categories of Our Patch's community asset map (data/categories.toml).",
    }
    terms = {}
    for cat in categories.load_categories():
        term_id = stable_id("taxonomy_term", cat.id)
        terms[cat.id] = {
            "id": term_id,
            "name": cat.label,
            "description": f"A {cat.item}.",
            "taxonomy": TAXONOMY_NAME,
            "taxonomy_id": taxonomy_id,
            "term": cat.id,
        }
    return taxonomy, terms


def _most_common(values: list[str | None]) -> str | None:
    counted = Counter(v for v in values if v)
    return counted.most_common(1)[0][0] if counted else None


def _date(value: object) -> str | None:
    return str(value)[:10] if value else None


def _schedules(service_id: str, sal_id: str | None, r: Asset) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for source, text, slots in (
        ("opening_hours", r.opening_hours, schedules.from_opening_hours),
        ("schedule", r.schedule, schedules.from_text),
    ):
        if not text:
            continue
        parsed = slots(text)
        base = {
            "service_id": service_id,
            "service_at_location_id": sal_id if source == "opening_hours" else None,
            "description": text,
        }
        if not parsed:
            rows.append(_compact({"id": stable_id("schedule", r.id, source), **base}))
        for n, slot in enumerate(parsed):
            rows.append(
                _compact(
                    {
                        "id": stable_id("schedule", r.id, source, n),
                        **base,
                        "freq": slot.freq,
                        "byday": slot.byday,
                        "opens_at": slot.opens_at,
                        "closes_at": slot.closes_at,
                    }
                )
            )
    return rows


def _build(rows: list[Asset]) -> Directory:
    d = Directory()
    d.taxonomy, terms = _taxonomy()
    d.terms = {t["id"]: t for t in terms.values()}
    by_group: dict[int, list[Asset]] = {}
    for r in rows:
        by_group.setdefault(int(r.group_id or 0), []).append(r)
    for group_id, assets in by_group.items():
        name = assets[0].group_name or "Unnamed group"
        org = _compact(
            {
                "id": stable_id("organization", group_id),
                "name": name,
                "description": f"{name}, a community group on Our Patch.",
                "email": _most_common([a.email for a in assets]),
                "website": _most_common([a.website for a in assets]),
            }
        )
        d.organizations[org["id"]] = org
    for r in rows:
        org = d.organizations[stable_id("organization", int(r.group_id or 0))]
        service_id = stable_id("service", r.id)
        description = r.description or ""
        if r.eligibility:  # the UK profile has no eligibility field: said in the description
            description = f"{description}\n\nWho it is for: {r.eligibility}".strip()
        geom = r.geometry
        assert geom is not None  # showable() rows only
        sals: list[dict[str, Any]] = []
        areas: list[dict[str, Any]] = []
        if r.kind == "place" and isinstance(geom, shapely.Point):
            location_id = stable_id("location", r.id)
            address = parse_address(r.address)
            location = _compact(
                {
                    "id": location_id,
                    "location_type": "physical",
                    "name": r.name,
                    "description": r.address if r.address and address is None else None,
                    "latitude": round(geom.y, 7),
                    "longitude": round(geom.x, 7),
                    "external_identifier": f"community:{r.id}",
                    "external_identifier_type": "ourpatch",
                    "addresses": [
                        {
                            "id": stable_id("address", r.id),
                            "location_id": location_id,
                            **address,
                            "address_type": "physical",
                        }
                    ]
                    if address
                    else [],
                }
            )
            sals.append(
                {
                    "id": stable_id("sal", r.id),
                    "service_id": service_id,
                    "location_id": location_id,
                    "location": location,
                }
            )
        else:
            if r.kind == "online":
                location_id = stable_id("location", r.id)
                sals.append(
                    {
                        "id": stable_id("sal", r.id),
                        "service_id": service_id,
                        "location_id": location_id,
                        "location": {"id": location_id, "location_type": "virtual", "name": r.name},
                    }
                )
            areas.append(
                {
                    "id": stable_id("area", r.id),
                    "service_id": service_id,
                    "name": r.name,
                    "extent": json.dumps(shapely.geometry.mapping(geom)),
                    "extent_type": "geojson",
                }
            )
        contacts, phones = [], []
        if r.phone:
            contact_id = stable_id("contact", r.id)
            contacts.append({"id": contact_id, "service_id": service_id, "name": org["name"], "title": "Group contact"})
            phones.append({"id": stable_id("phone", r.id), "contact_id": contact_id, "number": r.phone})
        term = terms.get(r.category)
        attributes = (
            [
                {
                    "id": stable_id("attribute", r.id, r.category),
                    "link_id": service_id,
                    "taxonomy_term_id": term["id"],
                    "link_type": "category",
                    "taxonomy_term": term,
                }
            ]
            if term
            else []
        )
        service = _compact(
            {
                "id": service_id,
                "organization_id": org["id"],
                "name": r.name,
                "description": description,
                "url": r.website or r.online_url,
                "email": r.email,
                "status": "active",
                "assured_date": _date(r.last_verified),
                "last_modified": r.updated_at or r.created_at,
                "schedules": _schedules(
                    service_id,
                    sals[0]["id"] if sals and sals[0]["location"]["location_type"] == "physical" else None,
                    r,
                ),
                "service_areas": areas,
                "service_at_locations": sals,
                "contacts": contacts,
                "attributes": attributes,
                "organization": org,
            }
        )
        d.services[service_id] = service
        for sal in sals:
            d.service_at_locations[sal["id"]] = sal
        d.phones += phones
    return d


def _fingerprint(asset: Asset) -> dict[str, Any]:
    """Everything about an asset the directory is built from (its geometry as WKB, in full)."""
    values = {f.name: getattr(asset, f.name) for f in fields(asset)}
    values["geometry"] = None if asset.geometry is None else asset.geometry.wkb_hex
    values["links"] = [[getattr(link, f.name) for f in fields(link)] for link in asset.links]
    return values


_cache: dict[str, Directory] = {}
_cache_lock = threading.Lock()


def directory() -> Directory:
    """The directory, rebuilt only when what it is built from changes (an asset, its group's name,
    the country setting, the categories)."""
    rows = [
        r for r in community.showable(community.visible_assets(None, status="published")) if r.status == "published"
    ]
    built_from = [settings.country(), categories.table_fingerprint(), [_fingerprint(r) for r in rows]]
    key = hashlib.sha256(json.dumps(built_from, default=str, sort_keys=True).encode()).hexdigest()
    with _cache_lock:
        if key not in _cache:
            _cache.clear()
            _cache[key] = _build(rows)
        return _cache[key]


# ------------------------------------------------------------------ the API's answers

LIST_FIELDS = (
    "id",
    "organization_id",
    "name",
    "description",
    "url",
    "email",
    "status",
    "assured_date",
    "last_modified",
    "organization",
)


def api_root() -> dict[str, str]:
    return {"version": HSDS_VERSION, "profile": PROFILE, "openapi_url": OPENAPI_URL}


def parse_paging(page: str | None, per_page: str | None) -> tuple[int, int]:
    """`page` (from 1) and `per_page` (1..500) from query text; one sentence when wrong."""
    values = []
    for name, raw, default in (("page", page, 1), ("per_page", per_page, DEFAULT_PER_PAGE)):
        if raw is None or raw == "":
            values.append(default)
            continue
        if not re.fullmatch(r"[0-9]{1,6}", raw.strip()):
            raise BadInputError(f"{name} must be a whole number, not {raw[:20]!r}.")
        values.append(int(raw))
    number, size = values
    if number < 1:
        raise BadInputError("page starts at 1.")
    if not 1 <= size <= MAX_PER_PAGE:
        raise BadInputError(f"per_page must be between 1 and {MAX_PER_PAGE}.")
    return number, size


def paginate(items: list[dict[str, Any]], page: int, per_page: int) -> dict[str, Any]:
    """The profile's page object (openapi.json components.schemas.Page) with `contents`."""
    total = len(items)
    pages = max(1, math.ceil(total / per_page))
    contents = items[(page - 1) * per_page : page * per_page]
    return {
        "total_items": total,
        "total_pages": pages,
        "page_number": page,
        "size": len(contents),
        "first_page": page == 1,
        "last_page": page >= pages,
        "empty": len(contents) == 0,
        "contents": contents,
    }


def _matches(service: dict[str, Any], search: str | None, term_id: str | None, taxonomy_id: str | None) -> bool:
    if search:
        words = search.casefold().split()
        text = f"{service['name']} {service.get('description', '')}".casefold()
        if not all(w in text for w in words):
            return False
    terms = [a["taxonomy_term"] for a in service.get("attributes", [])]
    if term_id and term_id not in {t["id"] for t in terms}:
        return False
    return not (taxonomy_id and taxonomy_id not in {t["taxonomy_id"] for t in terms})


def services_page(
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
    *,
    search: str | None = None,
    taxonomy_term_id: str | None = None,
    taxonomy_id: str | None = None,
) -> dict[str, Any]:
    found = [s for s in directory().services.values() if _matches(s, search, taxonomy_term_id, taxonomy_id)]
    return paginate([{k: s[k] for k in LIST_FIELDS if k in s} for s in found], page, per_page)


def service(service_id: str) -> dict[str, Any] | None:
    return directory().services.get(service_id)


def organizations_page(page: int = 1, per_page: int = DEFAULT_PER_PAGE) -> dict[str, Any]:
    return paginate(list(directory().organizations.values()), page, per_page)


def organization(org_id: str) -> dict[str, Any] | None:
    d = directory()
    org = d.organizations.get(org_id)
    if org is None:
        return None
    return {**org, "services": [s for s in d.services.values() if s["organization_id"] == org_id]}


def service_at_locations_page(
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
    *,
    search: str | None = None,
    taxonomy_term_id: str | None = None,
    taxonomy_id: str | None = None,
) -> dict[str, Any]:
    d = directory()
    items = []
    for sal in d.service_at_locations.values():
        full = d.services[sal["service_id"]]
        if _matches(full, search, taxonomy_term_id, taxonomy_id):
            location = {k: v for k, v in sal["location"].items() if not isinstance(v, list)}  # the list form is flat
            items.append({**sal, "location": location, "service": {k: full[k] for k in LIST_FIELDS if k in full}})
    return paginate(items, page, per_page)


def service_at_location(sal_id: str) -> dict[str, Any] | None:
    """As the profile's openapi.json says: the full service offered at that location."""
    d = directory()
    sal = d.service_at_locations.get(sal_id)
    return d.services[sal["service_id"]] if sal else None


def taxonomies_page(page: int = 1, per_page: int = DEFAULT_PER_PAGE) -> dict[str, Any]:
    return paginate([directory().taxonomy], page, per_page)


def taxonomy(taxonomy_id: str) -> dict[str, Any] | None:
    d = directory()
    return {**d.taxonomy, "taxonomy_terms": list(d.terms.values())} if taxonomy_id == d.taxonomy["id"] else None


def taxonomy_terms_page(page: int = 1, per_page: int = DEFAULT_PER_PAGE) -> dict[str, Any]:
    return paginate(list(directory().terms.values()), page, per_page)


def taxonomy_term(term_id: str) -> dict[str, Any] | None:
    return directory().terms.get(term_id)


# ------------------------------------------------------------------ the data package


def tables(d: Directory | None = None) -> dict[str, list[dict[str, Any]]]:
    """The directory as flat UK-profile tables (table name -> rows)."""
    d = d or directory()
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
    out["organization"] = list(d.organizations.values())
    out["taxonomy"] = [d.taxonomy]
    out["taxonomy_term"] = list(d.terms.values())
    for s in d.services.values():
        out["service"].append({k: s[k] for k in TABLES["service"][1] if k in s})
        out["schedule"] += s.get("schedules", [])
        out["service_area"] += s.get("service_areas", [])
        out["contact"] += s.get("contacts", [])
        out["attribute"] += [{k: a[k] for k in TABLES["attribute"][1]} for a in s.get("attributes", [])]
        for sal in s.get("service_at_locations", []):
            out["service_at_location"].append({k: sal[k] for k in TABLES["service_at_location"][1]})
            location = sal["location"]
            out["location"].append({k: location[k] for k in TABLES["location"][1] if k in location})
            out["address"] += location.get("addresses", [])
    out["phone"] = list(d.phones)
    return out


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not re.fullmatch(r"[-+0-9 ().]+", text):
        return "'" + text  # OWASP CSV injection; a phone number (digits, spaces, + - ( ) .) cannot be a formula
    return text


def write_package(folder: Path | str) -> list[Path]:
    """An HSDS tabular data package: datapackage.json and one CSV a table, plus LICENSE.txt."""
    from layers.io.export import community_licence

    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise BadInputError(f"{out} is a file; the Open Referral UK data package is a folder.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInputError(f"Cannot create {out} ({exc.strerror}).") from exc
    data = tables()
    resources = []
    written = []
    for name, (path, columns, types) in TABLES.items():
        target = out / path
        with target.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            for row in data[name]:
                writer.writerow([_cell(row.get(c)) for c in columns])
        written.append(target)
        schema: dict[str, Any] = {
            "fields": [{"name": c, "type": types.get(c, "string")} for c in columns],
            "primaryKey": "id",
        }
        if name in FOREIGN_KEYS:
            schema["foreignKeys"] = [
                {"fields": col, "reference": {"resource": ref, "fields": "id"}} for col, ref in FOREIGN_KEYS[name]
            ]
        resources.append(
            {
                "name": name,
                "path": path,
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": schema,
            }
        )
    package = {
        "name": "our-patch-community-directory",
        "title": "Our Patch community directory",
        "profile": "tabular-data-package",
        "homepage": PROFILE,
        "description": f"Open Referral UK (HSDS {HSDS_VERSION} UK profile) tables of the community groups "
        "published on Our Patch.",
        "licenses": [{"name": community_licence(), "title": f"Community data: {community_licence()}"}],
        "sources": [{"title": "Our Patch community groups"}],
        "resources": resources,
    }
    manifest = out / "datapackage.json"
    manifest.write_text(json.dumps(package, ensure_ascii=False, indent=1), encoding="utf-8")
    licence = out / "LICENSE.txt"
    licence.write_text(
        f"Community directory published through Our Patch under {community_licence()}.\n"
        f"Locations may refer to OpenStreetMap data: {settings.OSM_ATTRIBUTION} (ODbL).\n"
        "Table names and fields follow the Open Referral UK profile of the Human Services Data "
        "Specification (https://openreferral.org/, CC BY-SA 4.0).\n",
        encoding="utf-8",
    )
    return [manifest, *written, licence]


write_feed = write_package  # the earlier name
