"""Reading the shapes a resident drew (streamlit-folium's return value) into one area.

A plain function so unit tests can call it: AppTest cannot click inside the map's iframe.
"""

from __future__ import annotations

from typing import Any

from layers import areas
from layers.areas import AreaGeometry


def drawn_features(map_output: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The features currently drawn: all of them when the map reports them, else the last one."""
    if not map_output:
        return []
    all_drawings = map_output.get("all_drawings")
    if isinstance(all_drawings, list) and all_drawings:
        return [f for f in all_drawings if isinstance(f, dict)]
    if isinstance(all_drawings, list) and not all_drawings and map_output.get("last_active_drawing"):
        # An empty list after a drawing means the resident deleted their shapes.
        return []
    last = map_output.get("last_active_drawing")
    return [last] if isinstance(last, dict) else []


def area_from_map_output(map_output: dict[str, Any] | None) -> AreaGeometry | None:
    """The union of the drawn shapes, checked; None when nothing is drawn."""
    features = drawn_features(map_output)
    if not features:
        return None
    return areas.parse_area({"type": "FeatureCollection", "features": features}, origin="The drawn area")
