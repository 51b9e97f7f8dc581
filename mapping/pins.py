"""The pin a group places for its asset: shown on the map, dragged to move it; and the area an
asset covers, outlined. Reading where the pin ended up is a plain function (unit tests call it;
AppTest cannot click inside the map's iframe).

streamlit-folium reports map clicks but not marker drags, so a dropped pin tells the map it was
clicked where it landed: the page then reads one thing, `last_clicked`, for both.
"""

from __future__ import annotations

import math
from typing import Any

import folium
import shapely
from jinja2 import Template
from shapely.geometry.base import BaseGeometry

from mapping.render_once import RenderOnce
from mapping.safe_json import script_json

PIN_JS = """
(function (parent) {
  var map = window.map || parent._map;
  var pin = {{ this.pin_json }};
  var area = {{ this.area_json }};
  if (area) {
    L.geoJSON(area, {interactive: false,
      style: {color: '#d4351c', weight: 3, fillColor: '#d4351c', fillOpacity: 0.12}}).addTo(parent);
  }
  if (!pin) { return; }
  var icon = L.divIcon({className: 'op-pin', iconSize: [32, 42], iconAnchor: [16, 42],
    html: '<svg width="32" height="42" viewBox="0 0 32 42" aria-hidden="true">' +
          '<path d="M16 1C8 1 1.5 7.3 1.5 15.2 1.5 26 16 41 16 41s14.5-15 14.5-25.8C30.5 7.3 24 1 16 1z" ' +
          'fill="#d4351c" stroke="#0b0c0c" stroke-width="2"/><circle cx="16" cy="15" r="5.5" fill="#fff"/></svg>'});
  var marker = L.marker(pin.at, {icon: icon, draggable: pin.draggable, keyboard: true, autoPan: true,
                                 title: pin.title, alt: pin.title, zIndexOffset: 1000});
  marker.addTo(parent);
  if (pin.draggable) {
    // A dropped pin counts as a click where it landed (streamlit-folium reports clicks only).
    marker.on('dragend', function () {
      var at = marker.getLatLng();
      (window.map || map).fire('click', {latlng: at});
    });
  }
})({{ this._parent.get_name() }});
"""


class Pin(RenderOnce):
    """A large (32×42 px) pin at a point, draggable when the asset can be moved; and/or an area."""

    _template = Template("{% macro script(this, kwargs) %}" + PIN_JS + "{% endmacro %}")

    def __init__(self, *, pin_json: str, area_json: str = "null") -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca's MacroElement.__init__ is unannotated
        self._name = "OurPatchPin"
        self.pin_json = pin_json
        self.area_json = area_json


def pin_group(
    point: tuple[float, float] | None = None,
    *,
    area: BaseGeometry | None = None,
    draggable: bool = True,
    title: str = "Where your asset is (drag to move)",
) -> folium.FeatureGroup:
    """A feature group with the pin at (lon, lat) and/or the area outlined; streamlit-folium adds
    it to the map without reloading the map (the resident's zoom stays)."""
    group = folium.FeatureGroup(name="Your asset", control=False)
    pin = {"at": [round(point[1], 6), round(point[0], 6)], "draggable": draggable, "title": title} if point else None
    area_geo = shapely.geometry.mapping(area) if area is not None and not area.is_empty else None
    Pin(pin_json=script_json(pin), area_json=script_json(area_geo)).add_to(group)
    return group


def clicked_point(map_output: dict[str, Any] | None) -> tuple[float, float] | None:
    """Where the map was last clicked or the pin last dropped, as (lon, lat); None when nothing
    usable was reported (no click yet, or values that are not coordinates)."""
    if not isinstance(map_output, dict):
        return None
    clicked = map_output.get("last_clicked")
    if not isinstance(clicked, dict):
        return None
    try:
        lon, lat = float(clicked["lng"]), float(clicked["lat"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        return None
    return lon, lat
