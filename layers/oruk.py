"""The community directory as an Open Referral UK / HSDS 3 feed: organizations, services,
locations, service_at_locations, schedules, phones and service_areas, one JSON file a table.

No registry ships the ORUK JSON schema as a package, so `SCHEMA` below is a structural check
derived from the HSDS 3.0 specification (required fields, types, id formats and references);
tests validate every feed against it with jsonschema.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import shapely

from layers import community, settings
from layers.errors import BadInputError

NAMESPACE = uuid.UUID("6f0c2f2e-8d2b-4f43-9a52-0b1c8f3e4a17")  # Our Patch's namespace for stable ids
TABLES = ("organizations", "services", "locations", "service_at_locations", "schedules", "phones", "service_areas")

_ID = {"type": "string", "format": "uuid", "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"}
_TEXT = {"type": ["string", "null"]}
SCHEMA: dict[str, dict[str, Any]] = {
    "organizations": {"type": "object", "required": ["id", "name", "description"],
                      "properties": {"id": _ID, "name": {"type": "string", "minLength": 1},
                                     "description": {"type": "string"}, "email": _TEXT, "website": _TEXT}},
    "services": {"type": "object", "required": ["id", "organization_id", "name", "status"],
                 "properties": {"id": _ID, "organization_id": _ID, "name": {"type": "string", "minLength": 1},
                                "description": _TEXT, "url": _TEXT, "email": _TEXT,
                                "status": {"enum": ["active", "inactive", "defunct", "temporarily closed"]},
                                "eligibility_description": _TEXT, "last_modified": _TEXT, "assured_date": _TEXT}},
    "locations": {"type": "object", "required": ["id", "location_type"],
                  "properties": {"id": _ID, "location_type": {"enum": ["physical", "postal", "virtual"]},
                                 "name": _TEXT, "latitude": {"type": ["number", "null"], "minimum": -90, "maximum": 90},
                                 "longitude": {"type": ["number", "null"], "minimum": -180, "maximum": 180},
                                 "url": _TEXT, "external_identifier": _TEXT, "external_identifier_type": _TEXT}},
    "service_at_locations": {"type": "object", "required": ["id", "service_id", "location_id"],
                             "properties": {"id": _ID, "service_id": _ID, "location_id": _ID}},
    "schedules": {"type": "object", "required": ["id", "service_id"],
                  "properties": {"id": _ID, "service_id": _ID, "description": _TEXT}},
    "phones": {"type": "object", "required": ["id", "service_id", "number"],
               "properties": {"id": _ID, "service_id": _ID, "number": {"type": "string"}}},
    "service_areas": {"type": "object", "required": ["id", "service_id", "extent_type", "extent"],
                      "properties": {"id": _ID, "service_id": _ID, "name": _TEXT, "extent_type": {"enum": ["geojson"]},
                                     "extent": {"type": "string"}}},
}


def _id(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(str(p) for p in parts)))


def build_feed() -> dict[str, list[dict[str, Any]]]:
    """The published community directory as HSDS 3 tables."""
    rows = community.showable(community.visible_assets(None, status="published"))
    feed: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}
    groups: dict[str, str] = {}
    for r in rows:
        group = r["group_name"] or "Unnamed group"
        if group not in groups:
            groups[group] = _id("organization", group)
            feed["organizations"].append({"id": groups[group], "name": group,
                                          "description": f"{group}, a community group on Our Patch."})
        service_id = _id("service", r["id"])
        feed["services"].append({
            "id": service_id, "organization_id": groups[group], "name": r["name"], "description": r["description"],
            "url": r["website"] or r["online_url"], "email": r["email"], "status": "active",
            "eligibility_description": r["eligibility"], "last_modified": r["updated_at"],
            "assured_date": r["last_verified"],
        })
        geom = r["geometry"]
        if r["kind"] == "place":
            location_id = _id("location", r["id"])
            feed["locations"].append({"id": location_id, "location_type": "physical", "name": r["name"],
                                      "latitude": round(geom.y, 7), "longitude": round(geom.x, 7),
                                      "external_identifier": f"community:{r['id']}",
                                      "external_identifier_type": "ourpatch"})
            feed["service_at_locations"].append({"id": _id("sal", r["id"]), "service_id": service_id,
                                                 "location_id": location_id})
        else:
            if r["kind"] == "online":
                location_id = _id("location", r["id"])
                feed["locations"].append({"id": location_id, "location_type": "virtual", "name": r["name"],
                                          "url": r["online_url"], "latitude": None, "longitude": None})
                feed["service_at_locations"].append({"id": _id("sal", r["id"]), "service_id": service_id,
                                                     "location_id": location_id})
            feed["service_areas"].append({"id": _id("area", r["id"]), "service_id": service_id, "name": r["name"],
                                          "extent_type": "geojson",
                                          "extent": json.dumps(shapely.geometry.mapping(geom))})
        if r["schedule"]:
            feed["schedules"].append({"id": _id("schedule", r["id"]), "service_id": service_id,
                                      "description": r["schedule"]})
        if r["phone"]:
            feed["phones"].append({"id": _id("phone", r["id"]), "service_id": service_id, "number": r["phone"]})
    return feed


def write_feed(folder: Path | str) -> list[Path]:
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise BadInputError(f"{out} is a file; the Open Referral feed is a folder of JSON files.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInputError(f"Cannot create {out} ({exc.strerror}).") from exc
    feed = build_feed()
    written = []
    for table, records in feed.items():
        path = out / f"{table}.json"
        path.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
        written.append(path)
    from layers.export import community_licence

    licence = out / "LICENSE.txt"
    licence.write_text(f"Community directory published through Our Patch under {community_licence()}.\n"
                       f"Locations may refer to OpenStreetMap data: {settings.OSM_ATTRIBUTION} (ODbL).\n",
                       encoding="utf-8")
    return [*written, licence]
