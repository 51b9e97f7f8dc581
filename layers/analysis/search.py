"""Finding things offline: assets by name and category, and addresses, streets and place names
from the extract's own tags (the gazetteer saved with it)."""

from __future__ import annotations

import unicodedata

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers import schema

GAZETTEER_COLUMNS = ["label", "kind", "lon", "lat", "key"]
MAX_QUERY = 200


def normalise(text: str) -> str:
    """Case- and accent-insensitive form: "Pyhän Kolminaisuuden" -> "pyhan kolminaisuuden"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).split())


def _clean_query(text: str) -> str:
    return normalise(str(text)[:MAX_QUERY])


def search_assets(
    assets: gpd.GeoDataFrame, text: str, category_ids: list[str] | None = None, limit: int = 50
) -> gpd.GeoDataFrame:
    """Assets whose name (or address) holds every word of the query, best matches first."""
    words = _clean_query(text).split()
    frame = assets if not category_ids else assets[assets["category"].isin(category_ids)]
    if not words:
        return frame.iloc[0:0] if not category_ids else frame.head(limit)
    haystack = (frame["name"].fillna("").astype(str) + " " + frame["address"].fillna("").astype(str)).map(normalise)
    hit = np.ones(len(frame), dtype=bool)
    for word in words:
        hit &= haystack.str.contains(word, regex=False).to_numpy()
    found = frame[hit]
    starts = haystack[hit].str.startswith(words[0]).to_numpy()
    order = np.lexsort((found["name"].fillna("~").astype(str).to_numpy(), ~starts))
    return found.iloc[order].head(limit)


def build_gazetteer(
    addresses: pd.DataFrame | None, places: pd.DataFrame | None, streets: gpd.GeoDataFrame | None
) -> pd.DataFrame:
    """One table of findable places: "Street 12, 00100 City" addresses, place names, street names."""
    parts = []
    if addresses is not None and len(addresses):
        street = addresses.get("addr:street", pd.Series("", index=addresses.index)).fillna("").astype(str)
        number = addresses.get("addr:housenumber", pd.Series("", index=addresses.index)).fillna("").astype(str)
        postcode = addresses.get("addr:postcode", pd.Series("", index=addresses.index)).fillna("").astype(str)
        city = addresses.get("addr:city", pd.Series("", index=addresses.index)).fillna("").astype(str)
        label = (street + " " + number).str.strip()
        town = (postcode + " " + city).str.strip()
        label = label.where(town == "", label + ", " + town)
        pts = shapely.point_on_surface(np.asarray(addresses.geometry.values))
        parts.append(
            pd.DataFrame({"label": label, "kind": "address", "lon": shapely.get_x(pts), "lat": shapely.get_y(pts)})[
                (street != "") & (number != "")
            ]
        )
    if places is not None and len(places):
        pts = shapely.point_on_surface(np.asarray(places.geometry.values))
        parts.append(
            pd.DataFrame(
                {
                    "label": places["name"].astype(str),
                    "kind": "place",
                    "lon": shapely.get_x(pts),
                    "lat": shapely.get_y(pts),
                }
            )
        )
    if streets is not None and len(streets) and "name" in streets:
        named = streets[streets["name"].notna() & (streets["name"].astype(str) != "")]
        if len(named):
            mids = named.groupby(named["name"].astype(str)).geometry.apply(
                lambda g: (
                    shapely.line_interpolate_point(
                        shapely.line_merge(shapely.union_all(g.to_numpy())), 0.5, normalized=True
                    )
                    if shapely.union_all(g.to_numpy()).geom_type in ("LineString", "MultiLineString")
                    else shapely.point_on_surface(shapely.union_all(g.to_numpy()))
                )
            )
            parts.append(
                pd.DataFrame(
                    {
                        "label": mids.index.astype(str),
                        "kind": "street",
                        "lon": shapely.get_x(mids.to_numpy()),
                        "lat": shapely.get_y(mids.to_numpy()),
                    }
                )
            )
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in GAZETTEER_COLUMNS})
    table = pd.concat(parts, ignore_index=True)
    table = table[table["label"].astype(str).str.strip() != ""].drop_duplicates(subset=["label", "kind"])
    table["key"] = table["label"].map(normalise)
    return table.reset_index(drop=True)[GAZETTEER_COLUMNS]


def search_places(gazetteer: pd.DataFrame, text: str, limit: int = 20) -> pd.DataFrame:
    """Addresses, streets and place names holding every word of the query."""
    words = _clean_query(text).split()
    if not words or len(gazetteer) == 0:
        return gazetteer.iloc[0:0]
    hit = np.ones(len(gazetteer), dtype=bool)
    for word in words:
        hit &= gazetteer["key"].str.contains(word, regex=False).to_numpy()
    found = gazetteer[hit]
    starts = found["key"].str.startswith(words[0]).to_numpy()
    kind_rank = found["kind"].map({"place": 0, "street": 1, "address": 2}).to_numpy()
    order = np.lexsort((found["label"].to_numpy(), kind_rank, ~starts))
    return found.iloc[order].head(limit)


def empty_gazetteer() -> pd.DataFrame:
    return build_gazetteer(None, None, None)


__all__ = ["build_gazetteer", "empty_gazetteer", "normalise", "schema", "search_assets", "search_places"]
