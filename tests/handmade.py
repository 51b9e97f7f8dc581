"""Hand-made test data. Everything here is invented for tests and says so in its name."""

from __future__ import annotations

from shapely.geometry.base import BaseGeometry

from layers import store

HOSTILE_NAME = '<img src=x onerror="window.__xss=1;alert(1)"></script><script>window.__xss=2</script>'


def add_published_handmade_asset(
    name: str,
    geometry: BaseGeometry,
    *,
    category: str = "community_groups",
    website: str | None = None,
    status: str = "published",
) -> int:
    """Put a community asset straight into the store, unchecked (test set-up only), through the
    store contract so it works on every backend."""
    group = store.group_id("Handmade Test Group", create=True)
    assert group is not None
    draft = store.AssetDraft(name=name, category=category, kind="place", geometry=geometry, website=website)
    return store.insert_assets([draft], group=group, user=None, status=status)[0]
