"""`load --place` against a local stand-in for Nominatim and Overpass (no internet in tests).

The responses are hand-made (the same invented village as the XML fixture), shaped like the real
services' JSON, so the whole osmnx path runs: geocode, Overpass query, parsing, our layers, cache.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from layers import cli
from layers.osm import sources

HANDMADE_TOWN = {
    "place_id": 1,
    "licence": "hand-made test fixture",
    "osm_type": "relation",
    "osm_id": 1,
    "boundingbox": ["53.94", "53.96", "-1.09", "-1.07"],
    "lat": "53.95",
    "lon": "-1.08",
    "display_name": "Handmade Town",
    "class": "boundary",
    "type": "administrative",
    "importance": 0.5,
    "place_rank": 16,
    "addresstype": "town",
    "name": "Handmade Town",
    "geojson": {
        "type": "Polygon",
        "coordinates": [[[-1.09, 53.94], [-1.07, 53.94], [-1.07, 53.96], [-1.09, 53.96], [-1.09, 53.94]]],
    },
}
HANDMADE_ELEMENTS = {
    "elements": [
        {
            "type": "node",
            "id": 1,
            "lat": 53.95,
            "lon": -1.08,
            "tags": {"amenity": "place_of_worship", "name": "Handmade Chapel", "website": "https://chapel.invalid/"},
        },
        {"type": "node", "id": 2, "lat": 53.951, "lon": -1.081},
        {"type": "node", "id": 3, "lat": 53.951, "lon": -1.079},
        {"type": "node", "id": 4, "lat": 53.953, "lon": -1.079},
        {"type": "node", "id": 5, "lat": 53.953, "lon": -1.081},
        {"type": "way", "id": 10, "nodes": [2, 3, 4, 5, 2], "tags": {"leisure": "park", "name": "Handmade Green"}},
        {"type": "way", "id": 11, "nodes": [2, 4], "tags": {"highway": "residential", "name": "Handmade Lane"}},
    ]
}
STATUS = "Connected as: 1\nCurrent time: now\nAnnounced endpoint: none\nRate limit: 2\n2 slots available now.\n"


class _Handler(BaseHTTPRequestHandler):
    hits: list[str] = []

    def _send(self, body: str, kind: str) -> None:
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.hits.append(self.path)
        if self.path.startswith("/search"):
            self._send(json.dumps([HANDMADE_TOWN]), "application/json")
        elif self.path.startswith("/status"):
            self._send(STATUS, "text/plain")
        else:
            self.send_error(404)

    def do_POST(self) -> None:
        self.hits.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._send(json.dumps(HANDMADE_ELEMENTS), "application/json")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch, fresh_data_dir: Path) -> Iterator[list[str]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    monkeypatch.setenv("OURPATCH_NOMINATIM_URL", url)
    monkeypatch.setenv("OURPATCH_OVERPASS_URL", url)
    _Handler.hits = []
    yield _Handler.hits
    server.shutdown()


def test_load_place_fetches_classifies_and_caches(stand_in: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["load", "--place", "Handmade Town"]) == 0
    assert "Loaded Handmade Town: 2 assets" in capsys.readouterr().out
    extract = sources.current()
    by_name = extract.assets.set_index("name")
    assert by_name.loc["Handmade Chapel", "category"] == "worship"
    assert by_name.loc["Handmade Chapel", "website"] == "https://chapel.invalid/"
    assert by_name.loc["Handmade Green", "osm_type"] == "way"
    assert by_name.loc["Handmade Green"].geometry.geom_type == "Polygon"
    assert "street" in set(extract.basemap["kind"])
    assert extract.meta["source"] == "place:Handmade Town"
    fetched = len(stand_in)
    assert fetched >= 2
    assert cli.main(["load", "--place", "Handmade Town"]) == 0
    assert len(stand_in) == fetched, "the second load should come from osmnx's cache"
