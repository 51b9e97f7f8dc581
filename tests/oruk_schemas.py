"""Validation against the official Open Referral UK schemas (tests/standards/openreferral/).

The schemas `$ref` each other by file name ("attribute.json"): a `referencing` Registry holds
them all. On top of the schemas as published, every object is closed (`additionalProperties:
false`: a field the UK profile does not have is an error) and formats are checked."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from functools import cache
from typing import Any
from urllib.parse import urlparse

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from layers.settings import REPO_ROOT

PROFILE = REPO_ROOT / "tests" / "standards" / "openreferral" / "uk-profile"
PAGE_FIELDS = ["total_items", "total_pages", "page_number", "size", "first_page", "last_page", "empty", "contents"]


def _closed(schema: Any) -> Any:
    """A copy of `schema` in which every object with properties allows no other property."""
    if isinstance(schema, dict):
        out = {k: _closed(v) for k, v in schema.items()}
        if "properties" in out and out.get("type", "object") == "object":
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_closed(v) for v in schema]
    return schema


def load(relative: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PROFILE / relative).read_text(encoding="utf-8"))
    return data


@cache
def registry() -> Registry:
    resources = [
        (
            path.name,
            Resource.from_contents(
                _closed(json.loads(path.read_text(encoding="utf-8"))), default_specification=DRAFT202012
            ),
        )
        for path in sorted(PROFILE.glob("*.json"))
    ]
    return Registry().with_resources(resources)


FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("uri", raises=ValueError)
def _uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parsed = urlparse(value)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


@FORMATS.checks("email", raises=ValueError)
def _email(value: object) -> bool:
    return not isinstance(value, str) or (value.count("@") == 1 and "." in value.split("@")[1] and " " not in value)


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed.tzinfo is not None
    return True


def errors(instance: Any, schema: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(_closed(schema), registry=registry(), format_checker=FORMATS)
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(record)'}: {e.message}" for e in validator.iter_errors(instance)
    ]


def assert_valid(instance: Any, relative: str) -> None:
    """`instance` against a schema file of the profile (e.g. "compiled/service.json")."""
    problems = errors(instance, load(relative))
    assert not problems, f"{relative}: " + "; ".join(problems[:10])


def page_schema(item_schema: str) -> dict[str, Any]:
    """The paginated list of openapi.json: its Page object with `contents` of `item_schema`, every
    page field present."""
    page = load("openapi.json")["components"]["schemas"]["Page"]
    return {
        "type": "object",
        "required": PAGE_FIELDS,
        "properties": {**page["properties"], "contents": {"type": "array", "items": load(item_schema)}},
    }


def assert_valid_page(instance: Any, item_schema: str) -> None:
    problems = errors(instance, page_schema(item_schema))
    assert not problems, f"page of {item_schema}: " + "; ".join(problems[:10])


def typed_row(row: dict[str, str], table_schema: dict[str, Any]) -> dict[str, Any]:
    """A CSV row as the JSON record the table schema describes: empty cells left out, numbers as
    numbers, dates and times checked as such."""
    out: dict[str, Any] = {}
    for name, text in row.items():
        if text == "":
            continue
        prop = table_schema["properties"][name]
        kind = prop.get("datapackage_type", prop.get("type"))
        if kind in ("number", "integer"):
            out[name] = float(text) if kind == "number" else int(text)
            continue
        if kind == "date":
            date.fromisoformat(text)
        elif kind == "time":
            time.fromisoformat(text)
        out[name] = text
    return out


def datapackage_type(prop: dict[str, Any]) -> str:
    """The Frictionless type the table schema gives a field."""
    return str(prop.get("datapackage_type") or {"number": "number", "integer": "integer"}.get(prop["type"], "string"))


def table_schemas() -> dict[str, dict[str, Any]]:
    """Table schema by the file path it names ("services.csv")."""
    out = {}
    for path in PROFILE.glob("*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        if "path" in data:
            out[data["path"]] = data
    return out
