"""Hand-made test data. Everything here is invented for tests and says so in its name."""

from __future__ import annotations

from datetime import UTC, datetime

from shapely.geometry.base import BaseGeometry

from layers import store

HOSTILE_NAME = '<img src=x onerror="window.__xss=1;alert(1)"></script><script>window.__xss=2</script>'


def add_published_handmade_asset(name: str, geometry: BaseGeometry, *, category: str = "community_groups",
                                 website: str | None = None) -> int:
    """Insert a published community asset straight into the store (test set-up only)."""
    now = datetime.now(UTC).isoformat()
    with store.connect() as db:
        table = db.table("community_assets")
        table.insert({"name": name, "category": category, "geometry_wkt": geometry.wkt, "kind": "place",
                      "status": "published", "website": website, "created_at": now, "updated_at": now,
                      "version": 1, "last_verified": now[:10]})
        return int(table.last_pk)  # type: ignore[arg-type]
