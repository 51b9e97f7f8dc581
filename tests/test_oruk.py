"""Open Referral UK: the data package (`export --format oruk`) and the API the app serves, both
validated against the official UK-profile schemas (tests/standards/openreferral/, closed to
fields the profile does not have), joined up, with addresses, contacts, phones, taxonomy,
structured schedules and organisation ids that survive a rename."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import shapely
from shapely.geometry import box

from layers.errors import BadInputError, NotAllowedError
from layers.groups import accounts, community
from layers.io import oruk
from layers.settings import REPO_ROOT
from tests import oruk_schemas
from tests.browser import running_app

HANDMADE = [
    (
        {
            "name": "Friends of Kaisaniemi Park",
            "geometry": shapely.Point(24.9462, 60.1752),
            "address": "Kaisaniemenkatu 2, 00100 Helsinki",
            "schedule": "Saturdays 10:00-12:00",
            "opening_hours": "Mo-Fr 09:00-17:00; Sa 10:00-14:00",
            "phone": "+358 40 123 4567",
            "email": "friends@example.org",
            "website": "https://friends.example.org/",
            "eligibility": "Everyone",
            "description": "We look after the park.",
            "cares_for": "osm:relation/6627217",
        },
        "Friends of Kaisaniemi Park",
    ),
    (
        {
            "name": "Handmade knitting circle",
            "category": "community_centres",
            "geometry": shapely.Point(24.95, 60.17),
            "address": "12 High Street, York YO1 7HH",
            "schedule": "First Tuesday of the month 19:00-21:00",
        },
        "Friends of Kaisaniemi Park",
    ),
    (
        {
            "name": "Kluuvi street chat",
            "kind": "online",
            "online_url": "https://chat.example.org/kluuvi",
            "geometry": box(24.944, 60.168, 24.952, 60.172),
            "schedule": "When the weather is fine",
        },
        "Kluuvi Neighbours",
    ),
    (
        {"name": "Handmade litter pick area", "kind": "area", "geometry": box(24.940, 60.166, 24.945, 60.169)},
        "Kluuvi Neighbours",
    ),
]


@pytest.fixture
def directory(fresh_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OURPATCH_COUNTRY", "FI")
    mod = accounts.add_user("Mika Moderator", "moderator", "a long enough password")
    for data, group in HANDMADE:
        row = {k: v for k, v in data.items() if k != "cares_for"}
        if "cares_for" in data:
            row["links"] = [{"relation": "cares_for", "target": data["cares_for"]}]
        community.create_asset(mod, row, group=group, publish=True)
    community.create_asset(
        mod, {"name": "Handmade pending", "geometry": shapely.Point(24.95, 60.17)}, group="Kluuvi Neighbours"
    )
    return fresh_data_dir


def _cli(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OURPATCH_DATA_DIR": str(data), "OURPATCH_COUNTRY": "FI"}
    return subprocess.run(
        [sys.executable, "-m", "layers", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def _read_package(folder: Path) -> tuple[dict[str, Any], dict[str, list[dict[str, str]]]]:
    package = json.loads((folder / "datapackage.json").read_text())
    rows = {}
    for resource in package["resources"]:
        with (folder / resource["path"]).open(encoding="utf-8", newline="") as fh:
            rows[resource["name"]] = list(csv.DictReader(fh))
    return package, rows


def test_official_examples_pass_our_validator() -> None:
    """The validator is the official schemas (made strict), not something looser or stricter."""
    oruk_schemas.assert_valid(oruk_schemas.load("examples/service_full.json"), "compiled/service.json")
    oruk_schemas.assert_valid_page(oruk_schemas.load("examples/service_list.json"), "compiled/service_list.json")
    assert oruk_schemas.errors(
        {"id": "not-a-uuid", "name": "x", "status": "open", "eligibility_description": "x"},
        oruk_schemas.load("compiled/service.json"),
    )


def test_data_package_validates_against_the_uk_profile(directory: Path, tmp_path: Path) -> None:
    result = _cli("export", "--format", "oruk", "-o", str(tmp_path / "oruk"), data=directory)
    assert result.returncode == 0, result.stderr
    package, rows = _read_package(tmp_path / "oruk")
    official = oruk_schemas.table_schemas()
    assert package["profile"] == "tabular-data-package"
    for resource in package["resources"]:
        schema = official[resource["path"]]  # every file is a table the UK profile names
        assert resource["name"] == schema["name"]
        for column in resource["schema"]["fields"]:  # every column is a field of that table, typed as it says
            assert column["name"] in schema["properties"], (resource["path"], column["name"])
            assert column["type"] == oruk_schemas.datapackage_type(schema["properties"][column["name"]])
        for row in rows[resource["name"]]:
            oruk_schemas.assert_valid(oruk_schemas.typed_row(row, schema), f"{schema['name']}.json")
        ids = [r["id"] for r in rows[resource["name"]]]
        assert len(ids) == len(set(ids)), resource["path"]
    ids = {name: {r["id"] for r in table} for name, table in rows.items()}
    for resource in package["resources"]:
        for key in resource["schema"].get("foreignKeys", []):
            target = ids[key["reference"]["resource"]]
            assert all(r[key["fields"]] in target for r in rows[resource["name"]] if r[key["fields"]])
    services = {r["name"]: r for r in rows["service"]}
    assert set(services) == {d["name"] for d, _ in HANDMADE}  # published only
    assert {o["name"] for o in rows["organization"]} == {"Friends of Kaisaniemi Park", "Kluuvi Neighbours"}
    friends = services["Friends of Kaisaniemi Park"]
    org = next(o for o in rows["organization"] if o["id"] == friends["organization_id"])
    assert org["website"] == "https://friends.example.org/" and org["email"] == "friends@example.org"
    assert "Who it is for: Everyone" in friends["description"]
    addresses = {a["postal_code"]: a for a in rows["address"]}
    assert addresses["00100"]["address_1"] == "Kaisaniemenkatu 2" and addresses["00100"]["city"] == "Helsinki"
    assert addresses["00100"]["country"] == "FI"
    assert addresses["YO1 7HH"]["city"] == "York" and addresses["YO1 7HH"]["country"] == "GB"
    contact = next(c for c in rows["contact"] if c["service_id"] == friends["id"])
    assert [p["number"] for p in rows["phone"] if p["contact_id"] == contact["id"]] == ["+358 40 123 4567"]
    terms = {t["id"]: t for t in rows["taxonomy_term"]}
    category_of = {a["link_id"]: terms[a["taxonomy_term_id"]]["term"] for a in rows["attribute"]}
    assert category_of[friends["id"]] == "community_groups"
    assert category_of[services["Handmade knitting circle"]["id"]] == "community_centres"
    slots = {
        (s["freq"], s["byday"], s["opens_at"], s["closes_at"])
        for s in rows["schedule"]
        if s["service_id"] == friends["id"]
    }
    assert slots == {
        ("WEEKLY", "MO,TU,WE,TH,FR", "09:00:00", "17:00:00"),
        ("WEEKLY", "SA", "10:00:00", "14:00:00"),
        ("WEEKLY", "SA", "10:00:00", "12:00:00"),
    }
    knitting = [s for s in rows["schedule"] if s["service_id"] == services["Handmade knitting circle"]["id"]]
    assert [(s["freq"], s["byday"], s["opens_at"], s["closes_at"]) for s in knitting] == [
        ("MONTHLY", "1TU", "19:00:00", "21:00:00")
    ]
    chat = [s for s in rows["schedule"] if s["service_id"] == services["Kluuvi street chat"]["id"]]
    assert [(s["description"], s["freq"]) for s in chat] == [("When the weather is fine", "")]  # text kept, not guessed
    assert (tmp_path / "oruk" / "LICENSE.txt").exists()


def test_api_records_validate_and_page(directory: Path) -> None:
    root = oruk.api_root()
    assert root["version"] == "3.0" and root["profile"]
    first = oruk.services_page(1, 3)
    oruk_schemas.assert_valid_page(first, "compiled/service_list.json")
    assert (first["total_items"], first["total_pages"], first["size"], first["first_page"], first["last_page"]) == (
        4,
        2,
        3,
        True,
        False,
    )
    second = oruk.services_page(2, 3)
    assert second["size"] == 1 and second["last_page"] and not second["empty"]
    assert oruk.services_page(3, 3)["empty"]
    for item in first["contents"] + second["contents"]:
        full = oruk.service(item["id"])
        assert full is not None
        oruk_schemas.assert_valid(full, "compiled/service.json")
    orgs = oruk.organizations_page()
    oruk_schemas.assert_valid_page(orgs, "compiled/organization_list.json")
    for org in orgs["contents"]:
        oruk_schemas.assert_valid(oruk.organization(org["id"]), "compiled/organization.json")
    sals = oruk.service_at_locations_page()
    oruk_schemas.assert_valid_page(sals, "compiled/service_at_location_list.json")
    assert sals["total_items"] == 3  # two places and one online community
    oruk_schemas.assert_valid_page(oruk.taxonomies_page(), "taxonomy.json")
    taxonomy_id = oruk.taxonomies_page()["contents"][0]["id"]
    oruk_schemas.assert_valid(oruk.taxonomy(taxonomy_id), "taxonomy.json")
    terms = oruk.taxonomy_terms_page(1, 500)
    oruk_schemas.assert_valid_page(terms, "taxonomy_term.json")
    groups_term = next(t["id"] for t in terms["contents"] if t["term"] == "community_groups")
    assert {s["name"] for s in oruk.services_page(taxonomy_term_id=groups_term)["contents"]} == {
        "Friends of Kaisaniemi Park",
        "Kluuvi street chat",
        "Handmade litter pick area",
    }
    assert [s["name"] for s in oruk.services_page(search="kaisaniemi")["contents"]] == ["Friends of Kaisaniemi Park"]
    assert oruk.service("00000000-0000-0000-0000-000000000000") is None


def test_organisation_id_survives_a_rename(directory: Path) -> None:
    before = {o["name"]: o["id"] for o in oruk.organizations_page()["contents"]}
    admin = accounts.add_user("Ada Admin", "admin", "a long enough password")
    with pytest.raises(NotAllowedError):
        accounts.rename_group(None, "Friends of Kaisaniemi Park", "Taken Over")
    with pytest.raises(BadInputError, match="already a group"):
        accounts.rename_group(admin, "Friends of Kaisaniemi Park", "kluuvi neighbours")
    accounts.rename_group(admin, "Friends of Kaisaniemi Park", "Kaisaniemi Park Friends")
    after = {o["name"]: o["id"] for o in oruk.organizations_page()["contents"]}
    assert after["Kaisaniemi Park Friends"] == before["Friends of Kaisaniemi Park"]
    assert after["Kluuvi Neighbours"] == before["Kluuvi Neighbours"]


def _get(url: str) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(url, headers={"Origin": "https://directory.example.org"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:  # noqa: S310 - our own app on 127.0.0.1
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read() or b"null")


def test_the_app_serves_the_oruk_api(directory: Path) -> None:
    with running_app(directory, env={"OURPATCH_COUNTRY": "FI"}) as url:
        api = url + "api/oruk"
        status, headers, root = _get(api + "/")
        assert status == 200 and root["version"] == "3.0"
        assert headers.get("access-control-allow-origin") == "*"
        status, _, page = _get(api + "/services?page=1&per_page=2")
        assert status == 200
        oruk_schemas.assert_valid_page(page, "compiled/service_list.json")
        assert page["total_items"] == 4 and page["total_pages"] == 2 and page["size"] == 2
        names = set()
        for n in (1, 2):
            for item in _get(api + f"/services?page={n}&per_page=2")[2]["contents"]:
                status, _, full = _get(api + f"/services/{item['id']}")
                assert status == 200
                oruk_schemas.assert_valid(full, "compiled/service.json")
                names.add(full["name"])
        assert names == {d["name"] for d, _ in HANDMADE}
        status, _, orgs = _get(api + "/organizations")
        oruk_schemas.assert_valid_page(orgs, "compiled/organization_list.json")
        status, _, org = _get(api + f"/organizations/{orgs['contents'][0]['id']}")
        oruk_schemas.assert_valid(org, "compiled/organization.json")
        status, _, taxonomies = _get(api + "/taxonomies")
        oruk_schemas.assert_valid_page(taxonomies, "taxonomy.json")
        status, _, terms = _get(api + "/taxonomy_terms?per_page=100")
        oruk_schemas.assert_valid_page(terms, "taxonomy_term.json")
        status, _, sals = _get(api + "/service_at_locations")
        oruk_schemas.assert_valid_page(sals, "compiled/service_at_location_list.json")
        status, _, at = _get(api + f"/service_at_locations/{sals['contents'][0]['id']}")
        oruk_schemas.assert_valid(at, "compiled/service.json")
        status, _, missing = _get(api + "/services/00000000-0000-0000-0000-000000000000")
        assert status == 404 and "No service" in missing["detail"]
        status, _, bad = _get(api + "/services?page=zero")
        assert status == 400 and "page must be a whole number" in bad["detail"]
        preflight = urllib.request.Request(  # noqa: S310
            api + "/services",
            method="OPTIONS",
            headers={
                "Origin": "https://directory.example.org",
                "Access-Control-Request-Method": "GET",
            },
        )
        with urllib.request.urlopen(preflight, timeout=60) as resp:  # noqa: S310
            assert resp.status == 200 and "GET" in resp.headers["access-control-allow-methods"]
        post = urllib.request.Request(api + "/services", method="POST", data=b"{}")  # noqa: S310
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(post, timeout=60)  # noqa: S310
        assert err.value.code == 405  # read-only
