"""Which OSM tags make which category: the table lives in data/categories.toml."""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from layers.errors import UnknownCategoryError
from layers.settings import CATEGORIES_FILE

ANY_VALUE = "*"


@dataclass(frozen=True)
class Category:
    id: str
    label: str
    symbol: str
    colour: str
    item: str
    source: str = "osm"
    match: dict[str, tuple[str, ...]] = field(default_factory=dict)


@functools.cache
def load_categories(path: Path = CATEGORIES_FILE) -> tuple[Category, ...]:
    with open(path, "rb") as fh:
        table = tomllib.load(fh)
    cats = []
    for raw in table["category"]:
        match = {key: tuple(values) for key, values in raw.get("match", {}).items()}
        cats.append(
            Category(
                id=raw["id"],
                label=raw["label"],
                symbol=raw["symbol"],
                colour=raw["colour"],
                item=raw["item"],
                source=raw.get("source", "osm"),
                match=match,
            )
        )
    for cat in cats:
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", cat.colour) or len(cat.symbol) != 1:
            raise ValueError(f"{path}: category {cat.id} needs a #rrggbb colour and a one-letter symbol")
    ids = [c.id for c in cats]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path} repeats a category id")
    return tuple(cats)


def table_fingerprint(path: Path = CATEGORIES_FILE) -> str:
    """Changes when the category table changes, so layers classified with an old one are redone."""
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def category_ids() -> list[str]:
    return [c.id for c in load_categories()]


def by_id() -> dict[str, Category]:
    return {c.id: c for c in load_categories()}


def check_category_ids(ids: list[str] | None) -> list[str] | None:
    """Return the ids unchanged, or raise one clear error naming the first unknown one."""
    if not ids:
        return None
    known = by_id()
    for cid in ids:
        if cid not in known:
            raise UnknownCategoryError(f"Unknown category '{cid}'; choose from: {', '.join(known)}.")
    return list(ids)


def osm_tag_keys() -> list[str]:
    """Every OSM key that any category looks at."""
    keys: dict[str, None] = {}
    for cat in load_categories():
        for key in cat.match:
            keys[key] = None
    return list(keys)


def osm_tag_filter() -> dict[str, bool | str | list[str]]:
    """The tags to keep when reading an extract: {key: [values]} or {key: True} for any value."""
    any_value: set[str] = set()
    values_by_key: dict[str, set[str]] = {}
    for cat in load_categories():
        for key, values in cat.match.items():
            if ANY_VALUE in values:
                any_value.add(key)
            values_by_key.setdefault(key, set()).update(v for v in values if v != ANY_VALUE)
    return {k: (True if k in any_value else sorted(v)) for k, v in values_by_key.items()}


def classify(tags: pd.DataFrame) -> pd.Series:
    """Category id for each row of a frame of OSM tag columns (None where nothing matches)."""
    result = pd.Series(np.full(len(tags), None, dtype=object), index=tags.index)
    unassigned = np.ones(len(tags), dtype=bool)
    for cat in load_categories():
        if cat.source != "osm":
            continue
        hit = np.zeros(len(tags), dtype=bool)
        for key, values in cat.match.items():
            if key not in tags.columns:
                continue
            col = tags[key]
            if ANY_VALUE in values:
                hit |= col.notna().to_numpy() & (col.astype("string").str.strip() != "").fillna(False).to_numpy()
            else:
                hit |= col.isin(values).to_numpy()
        take = hit & unassigned
        result[take] = cat.id
        unassigned &= ~take
    return result
