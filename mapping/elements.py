"""Our folium elements: one layer per category, the drawn base map, highlights, shared helpers.

Never one folium Marker per asset: each category is one element that carries its rows as a
compact JSON array, and the browser makes the markers (clustered) from it.
"""

from __future__ import annotations

import html

from folium.elements import JSCSSMixin
from folium.map import Layer
from jinja2 import Template

from mapping import vendor
from mapping.render_once import RenderOnce

HELPERS_JS = """
performance.mark('ourpatch:map-script');
window.ourPatch = window.ourPatch || (function () {
  var CLUSTER_UNTIL = 16;  // the last zoom with clusters: from 17 on every place is a marker of its own
  var css = document.createElement('style');
  css.textContent = [
    // 24 px markers (WCAG 2.2 target size): a 20 px disc with a 2 px white edge.
    '.op-marker{display:block;box-sizing:border-box;width:24px;height:24px;border-radius:50%;border:2px solid #fff;',
    'box-shadow:0 0 0 1px #0b0c0c;color:#fff;font:bold 12px/20px Arial,sans-serif;text-align:center;}',
    '.op-cluster{border-radius:50%;border:3px solid #fff;box-shadow:0 0 0 2px #0b0c0c;',
    'background:#505a5f;color:#fff;font:bold 13px Arial,sans-serif;display:flex;',
    'align-items:center;justify-content:center;}',
    '.leaflet-container{background:#f2efe9}',
    // Leaflet's attribution links are told apart by colour alone (2.5:1 against its text): underlined
    '.leaflet-control-attribution a{color:#1d5f8a;text-decoration:underline}',
    // A visible focus ring on everything in the map that takes focus (3 px near-black, 19:1 on
    // white and 16:1 on the map background, with a yellow halo).
    '.leaflet-container :focus-visible,.leaflet-container a:focus,.leaflet-container button:focus{',
    'outline:3px solid #0b0c0c !important;outline-offset:2px;box-shadow:0 0 0 2px #ffdd00;}',
    '.op-popup{font:14px/1.4 Arial,sans-serif;max-width:260px}',
    '.op-popup strong{display:block;font-size:16px}',
    '.op-popup .op-cat{color:#505a5f;margin-bottom:4px}',
    '.op-popup .op-credit{color:#505a5f;font-size:12px;margin-top:4px}',
    '.op-key{display:inline-block;width:18px;height:18px;border-radius:50%;color:#fff;',
    'font:bold 11px/18px Arial,sans-serif;text-align:center;margin-right:4px;border:1px solid #0b0c0c}',
    '.op-legend{max-height:70vh;overflow:auto;font:13px/1.5 Arial,sans-serif}',
    '.op-toggle{display:block;min-height:30px;min-width:30px;padding:4px 10px;border:0;background:#fff;',
    'color:#0b0c0c;font:bold 13px Arial,sans-serif;cursor:pointer;text-align:left}',
    '.op-places-panel{max-height:45vh;max-width:280px;overflow:auto;background:#fff;padding:4px 8px;',
    'font:13px/1.4 Arial,sans-serif}',
    '.op-places-panel ul{list-style:none;margin:0;padding:0}',
    '.op-places-panel li button{display:block;width:100%;min-height:28px;margin:2px 0;padding:2px 4px;',
    'text-align:left;background:#f3f2f1;border:1px solid #b1b4b6;color:#0b0c0c;font:13px Arial,sans-serif}'
  ].join('');
  document.head.appendChild(css);
  function line(parent, label, value) {
    var d = document.createElement('div');
    d.textContent = label + ': ' + value;
    parent.appendChild(d);
  }
  function safeLink(parent, url) {
    var d = document.createElement('div');
    if (/^https?:\\/\\//i.test(url)) {
      var a = document.createElement('a');
      a.href = url; a.textContent = url; a.target = '_blank'; a.rel = 'noopener noreferrer';
      d.appendChild(a);
    } else {
      d.textContent = 'Website: ' + url;
    }
    parent.appendChild(d);
  }
  return {
    // row: [lat, lon, name, id ("n123" node, "w" way, "r" relation, "c" community),
    //       address, website, phone, opening_hours, note]
    popup: function (cat, row) {
      var div = document.createElement('div');
      div.className = 'op-popup';
      var h = document.createElement('strong');
      h.textContent = row[2] || ('Unnamed ' + cat.item);
      div.appendChild(h);
      var c = document.createElement('div');
      c.className = 'op-cat'; c.textContent = cat.label;
      div.appendChild(c);
      if (row[4]) line(div, 'Address', row[4]);
      if (row[5]) safeLink(div, row[5]);
      if (row[6]) line(div, 'Phone', row[6]);
      if (row[7]) line(div, 'Opening hours', row[7]);
      if (row[8]) line(div, 'Note', row[8]);
      var credit = document.createElement('div');
      credit.className = 'op-credit';
      var kinds = {n: 'node', w: 'way', r: 'relation'};
      var ref = String(row[3]);
      credit.textContent = kinds[ref[0]] ?
        'Source: © OpenStreetMap contributors (' + kinds[ref[0]] + ' ' + ref.slice(1) + ')' : 'Source: community';
      div.appendChild(credit);
      return div;
    },
    label: function (cat, row) {
      var s = document.createElement('span');
      s.textContent = row[2] || cat.label;
      return s;
    },
    icon: function (cat) {
      if (!cat._icon) {
        cat._icon = L.divIcon({className: 'op-icon op-' + cat.id, iconSize: [24, 24],
          html: '<span class="op-marker" aria-hidden="true" style="background:' + cat.colour + '">' +
                cat.symbol + '</span>'});
      }
      return cat._icon;
    },
    // A place's marker, made the first time it is shown. Markers take no keyboard focus (Tab
    // would walk through every one): the "Places on the map" list is the keyboard's way to each.
    markerFor: function (place) {
      if (!place.marker) {
        var title = place.row[2] || place.cat.label;
        place.marker = L.marker([place.lat, place.lon], {icon: this.icon(place.cat), title: title, alt: title,
                                                         keyboard: false});
        place.marker._op = {cat: place.cat, row: place.row};
      }
      return place.marker;
    },
    // A marker's popup is made the first time it opens: binding one to each of 10,000 markers
    // up front (a Popup and four handlers each) was a third of the map's start-up time.
    withPopup: function (marker) {
      if (!marker.getPopup()) { marker.bindPopup(this.popup.bind(this, marker._op.cat, marker._op.row)); }
      return marker;
    },
    // One click handler per group (the shared cluster, or a category's plain group), not one per marker.
    markerClick: function (map, e) {
      var m = e.layer;
      if (!m || !m._op) { return; }  // a cluster, or a shape
      if (!m.getPopup()) { this.withPopup(m).openPopup(); }  // later clicks: the marker's own popup handler
      if (map._opPickStart) { map.fire('click', {latlng: e.latlng}); }
    },
    openPlace: function (map, place) {
      var marker = this.withPopup(this.markerFor(place));
      if (map.hasLayer(marker) || !map._opClusters) {
        marker.openPopup();
      } else {
        map._opClusters.show(place, function () { marker.openPopup(); });
      }
    },
    // A button in the map that opens a list of the places in view: the keyboard's and screen
    // reader's way to every marker (each opens its popup), one Tab stop however many there are.
    placesControl: function (map) {
      var self = this;
      var ctl = L.control({position: 'topright'});  // topleft would push the draw tools' actions over the map
      ctl.onAdd = function () {
        var div = L.DomUtil.create('div', 'leaflet-bar op-places');
        var btn = L.DomUtil.create('button', 'op-toggle', div);
        btn.type = 'button';
        btn.textContent = 'Places on the map';
        btn.setAttribute('aria-expanded', 'false');
        var panel = L.DomUtil.create('div', 'op-places-panel', div);
        panel.id = 'op-places-panel';
        panel.hidden = true;
        btn.setAttribute('aria-controls', panel.id);
        function fill() {
          panel.textContent = '';
          var bounds = map.getBounds();
          var items = (map._opPlaces || []).filter(function (p) {
            return p.layer.on && bounds.contains([p.lat, p.lon]);
          });
          items.sort(function (a, b) { return a.name.localeCompare(b.name); });
          var shown = items.slice(0, 200);
          var note = L.DomUtil.create('p', '', panel);
          note.textContent = items.length + (items.length === 1 ? ' place' : ' places') + ' in this view' +
            (items.length > shown.length ? '; the first ' + shown.length + ' by name (zoom in for the others)' : '') +
            '. Choose one to open its details; Escape closes them.';
          var ul = L.DomUtil.create('ul', '', panel);
          shown.forEach(function (p) {
            var b = L.DomUtil.create('button', '', L.DomUtil.create('li', '', ul));
            b.type = 'button';
            b.textContent = p.name + ' (' + p.cat.label + ')';
            L.DomEvent.on(b, 'click', function () { self.openPlace(map, p); });
          });
        }
        map._opPlacesToggle = function (open) {
          panel.hidden = !open;
          btn.setAttribute('aria-expanded', String(open));
          if (open) { fill(); } else { btn.focus(); }
        };
        L.DomEvent.on(btn, 'click', function () { map._opPlacesToggle(panel.hidden); });
        L.DomEvent.disableClickPropagation(div);
        L.DomEvent.disableScrollPropagation(div);
        return div;
      };
      return ctl;
    },
    // Keyboard: Escape closes an open popup (and gives focus back to what opened it), else the
    // places list; a popup opened from the list takes focus so its text is read out.
    a11y: function (map) {
      var opener = null;
      map.on('popupopen', function (e) {
        var active = document.activeElement;
        opener = (active && active !== document.body && map.getContainer().contains(active)) ? active : null;
        var content = e.popup.getElement() && e.popup.getElement().querySelector('.leaflet-popup-content');
        if (opener && content) { content.setAttribute('tabindex', '-1'); content.focus(); }
      });
      document.addEventListener('keydown', function (e) {
        if (e.key !== 'Escape') { return; }
        if (map._popup && map.hasLayer(map._popup)) {
          map.closePopup();
          if (opener && document.contains(opener)) { opener.focus(); }
        } else if (map._opPlacesToggle && document.querySelector('.op-places-panel:not([hidden])')) {
          map._opPlacesToggle(false);
        }
      });
      this.placesControl(map).addTo(map);
    },
    // Every category's markers in one set of clusters (so clusters of different layers never
    // pile up), made by Supercluster: a k-d tree per zoom level built in one pass (~50 ms for
    // 10,000 places), and Leaflet markers made only for what is in view, not for every place.
    clusters: function (map) {
      var self = this;
      if (map._opClusters) { return map._opClusters; }
      var shown = L.featureGroup().addTo(map);
      var api = map._opClusters = {sources: [], index: null, onMap: {}, queued: false};
      function clusterMarker(item) {
        var n = item.properties.point_count;
        var size = n < 100 ? 34 : (n < 1000 ? 40 : 46);
        var m = L.marker([item.geometry.coordinates[1], item.geometry.coordinates[0]], {
          // Out of the Tab order like the markers (and so not a touch target that may sit close to
          // another): the zoom buttons and "Places on the map" do the same from the keyboard.
          title: n + ' places here: zoom in to see them', keyboard: false,
          icon: L.divIcon({className: 'op-cluster', iconSize: [size, size],
                           html: '<span aria-hidden="true">' + n + '</span>'})});
        m._opClusterId = item.properties.cluster_id;
        return m;
      }
      function render() {
        if (!api.index) { return; }
        var b = map.getBounds().pad(0.5);  // a margin: a small pan shows markers already made
        var items = api.index.getClusters([b.getWest(), b.getSouth(), b.getEast(), b.getNorth()],
                                          Math.round(map.getZoom()));
        var next = {};
        for (var i = 0; i < items.length; i++) {
          var item = items[i];
          if (item.properties.cluster) {
            var key = 'c' + item.properties.cluster_id;
            next[key] = api.onMap[key] || clusterMarker(item);
          } else {
            var place = item.properties.place;
            next['p' + place.key] = self.markerFor(place);
          }
        }
        // Only what changed: a marker kept on the map keeps its open popup.
        Object.keys(api.onMap).forEach(function (k) { if (!next[k]) { shown.removeLayer(api.onMap[k]); } });
        Object.keys(next).forEach(function (k) { if (!api.onMap[k]) { shown.addLayer(next[k]); } });
        api.onMap = next;
      }
      function rebuild() {
        api.queued = false;
        var features = [];
        api.sources.forEach(function (src) {
          if (!src.state.on) { return; }
          src.places.forEach(function (p) {
            features.push({type: 'Feature', properties: {place: p},
                           geometry: {type: 'Point', coordinates: [p.lon, p.lat]}});
          });
        });
        api.index = new Supercluster({radius: 80, extent: 256, minZoom: map.getMinZoom(),
                                      maxZoom: CLUSTER_UNTIL}).load(features);
        performance.mark('ourpatch:clustered');  // benchmarks/browser_bench.py reads the marks
        Object.keys(api.onMap).forEach(function (k) { shown.removeLayer(api.onMap[k]); });
        api.onMap = {};
        render();
        performance.mark('ourpatch:drawn');
        if (!api.painted) {  // the first frame painted with them (a task after the next animation frame)
          api.painted = true;
          requestAnimationFrame(function () { setTimeout(function () { performance.mark('ourpatch:painted'); }, 0); });
        }
      }
      // Layers switched on or off while the map's script runs (or in one click) rebuild once.
      api.changed = function () {
        if (api.queued) { return; }
        api.queued = true;
        Promise.resolve().then(rebuild);
      };
      api.add = function (places, state) { api.sources.push({places: places, state: state}); };
      // Zoom in until the place is a marker of its own, bring it into view, then call `done`.
      api.show = function (place, done) {
        if (api.queued) { rebuild(); }
        var at = L.latLng(place.lat, place.lon);
        var zoom = Math.round(map.getZoom());
        var eps = 1e-9;
        while (api.index && zoom <= CLUSTER_UNTIL) {
          var here = api.index.getClusters([place.lon - eps, place.lat - eps, place.lon + eps, place.lat + eps], zoom);
          if (here.some(function (f) { return f.properties.place === place; })) { break; }
          zoom++;
        }
        if (zoom === Math.round(map.getZoom()) && map.getBounds().contains(at)) { render(); done(); return; }
        map.once('moveend', function () { render(); done(); });
        map.setView(at, zoom, {animate: false});  // at once (and 'moveend' with it), whatever was moving
      };
      map.on('moveend', render);
      shown.on('click', function (e) {
        if (e.layer._opClusterId !== undefined) {
          map.setView(e.layer.getLatLng(), api.index.getClusterExpansionZoom(e.layer._opClusterId));
        } else {
          self.markerClick(map, e);
        }
      });
      return api;
    },
    // One category's layer: its markers (clustered with the others when `clustered`) and its
    // polygons. Adding or removing it in the layer control adds or removes both.
    layer: function (map, cat, rows, shapes, clustered) {
      var self = this;
      // When the resident is picking a walk's start, a click on a symbol or a park picks there
      // too (a popup would otherwise swallow the map's click).
      function forwardClick(e) { if (map._opPickStart) { map.fire('click', {latlng: e.latlng}); } }
      var state = {on: false};
      var places = new Array(rows.length);
      map._opPlaces = map._opPlaces || [];
      for (var i = 0; i < rows.length; i++) {
        var row = rows[i];
        places[i] = {key: map._opPlaces.length, lat: row[0], lon: row[1], cat: cat, row: row,
                     name: row[2] || ('Unnamed ' + cat.item), layer: state, marker: null};
        map._opPlaces.push(places[i]);
      }
      var polygons = L.geoJSON(shapes, {
        style: {color: cat.colour, weight: 2, fillColor: cat.colour, fillOpacity: 0.25},
        onEachFeature: function (f, lyr) {
          lyr.bindPopup(self.popup.bind(self, cat, rows[f.properties.i]));
          lyr.on('click', forwardClick);
        }
      });
      var plain = null;
      if (clustered) {
        this.clusters(map).add(places, state);
      } else {
        plain = L.featureGroup(places.map(function (p) { return self.markerFor(p); }));
        plain.on('click', function (e) { self.markerClick(map, e); });
      }
      var Layer = L.Layer.extend({
        onAdd: function (m) {
          state.on = true;
          polygons.addTo(m);
          if (clustered) { self.clusters(m).changed(); } else { plain.addTo(m); }
        },
        onRemove: function (m) {
          state.on = false;
          m.removeLayer(polygons);
          if (clustered) { self.clusters(m).changed(); } else { m.removeLayer(plain); }
        }
      });
      return new Layer();
    }
  };
})();
"""


class MapHelpers(JSCSSMixin, RenderOnce):
    """Shared JS (popups built with textContent, marker icons, styles). Add before the layers."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        + HELPERS_JS
        + "window.ourPatch.a11y({{ this._parent.get_name() }});{% endmacro %}"
    )
    default_js = [vendor.BUNDLE_JS]

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca's MacroElement.__init__ is unannotated
        self._name = "OurPatchHelpers"


class CategoryLayer(Layer, RenderOnce):
    """One category: clustered markers from a JSON array, and its polygons (e.g. parks). Its
    scripts are MapHelpers' (always added first): declaring them again on each of ten layers
    made folium compile thirty more <script>/<link> templates on every rerun."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = window.ourPatch.layer(
            {{ this._parent.get_name() }}, {{ this.category_json }},
            {{ this.rows_json }}, {{ this.shapes_json }}, {{ this.clustered|tojson }});
        {% endmacro %}
        """
    )

    def __init__(
        self,
        *,
        label_html: str,
        category_json: str,
        rows_json: str,
        shapes_json: str,
        clustered: bool,
        show: bool = True,
    ) -> None:
        super().__init__(name=label_html, overlay=True, control=True, show=show)
        self._name = "CategoryLayer"
        self.category_json = category_json
        self.rows_json = rows_json
        self.shapes_json = shapes_json
        self.clustered = clustered


class BasemapLayer(Layer, RenderOnce):
    """Streets, water and green space drawn from the extract, beneath the tiles.

    Tiles sit above it, so when tiles load they cover it; when they cannot be fetched (no
    internet, tiles switched off) this is the map a resident sees.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function (map) {
          if (!map.getPane('op-base')) {
            map.createPane('op-base');
            map.getPane('op-base').style.zIndex = 150;
            map.getPane('op-base').style.pointerEvents = 'none';
          }
          var styles = {{ this.styles_json }};
          return L.geoJSON({{ this.data_json }}, {
            pane: 'op-base', interactive: false,
            renderer: L.canvas({pane: 'op-base'}),
            attribution: {{ this.attribution_json }},
            style: function (f) { return styles[f.properties.k]; }
          });
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, *, data_json: str, styles_json: str, attribution_json: str) -> None:
        super().__init__(name="Base map drawn from OpenStreetMap", overlay=True, control=False, show=True)
        self._name = "BasemapLayer"
        self.data_json = data_json
        self.styles_json = styles_json
        self.attribution_json = attribution_json


class HighlightLayer(RenderOnce):
    """The current local drawn over the map: its outline, rings around the assets found, its
    start, and dotted lines to the nearest of what is missing. None of it is clickable."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (parent) {
          var pts = {{ this.points_json }};
          for (var i = 0; i < pts.length; i++) {
            L.circleMarker(pts[i], {radius: 15, color: '#0b0c0c', weight: 3, dashArray: '4 3',
              fill: false, interactive: false}).addTo(parent);
          }
          L.geoJSON({{ this.shapes_json }}, {interactive: false,
            style: {color: '#0b0c0c', weight: 3, dashArray: '6 4', fill: false}}).addTo(parent);
          var area = {{ this.area_json }};
          if (area) {
            L.geoJSON(area, {interactive: false,
              style: {color: '#1d70b8', weight: 3, fillColor: '#1d70b8', fillOpacity: 0.08}}).addTo(parent);
          }
          var origin = {{ this.origin_json }};
          if (origin) {
            var targets = {{ this.targets_json }};
            for (var j = 0; j < targets.length; j++) {
              L.polyline([origin, targets[j]], {color: '#d4351c', weight: 3, dashArray: '2 6',
                                                interactive: false}).addTo(parent);
            }
            L.circleMarker(origin, {radius: 8, color: '#0b0c0c', weight: 3, fillColor: '#ffdd00',
                                    fillOpacity: 1, interactive: false}).addTo(parent);
          }
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(
        self,
        *,
        points_json: str,
        shapes_json: str,
        area_json: str = "null",
        origin_json: str = "null",
        targets_json: str = "[]",
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca's MacroElement.__init__ is unannotated
        self._name = "HighlightLayer"
        self.points_json = points_json
        self.shapes_json = shapes_json
        self.area_json = area_json
        self.origin_json = origin_json
        self.targets_json = targets_json


def legend_label(symbol: str, colour: str, label: str, count: int) -> str:
    """Layer-control text: the marker's letter on its colour, then the words (trusted table)."""
    return (
        f'<span class="op-key" style="background:{html.escape(colour)}" aria-hidden="true">'
        f"{html.escape(symbol)}</span>{html.escape(label)} ({count})"
    )


class Legend(RenderOnce):
    """The map's key: each category's symbol and name, and how many are on the map. Which
    categories show is chosen outside the map (so it can be saved and shared)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
          var legend = L.control({position: 'topright'});
          legend.onAdd = function () {
            // Folded into a "Map key" button; open at first on a wide map, folded on a phone.
            var div = L.DomUtil.create('div', 'leaflet-control-layers leaflet-control-layers-expanded op-legend');
            var btn = L.DomUtil.create('button', 'op-toggle', div);
            btn.type = 'button';
            btn.textContent = 'Map key';
            var list = L.DomUtil.create('div', '', div);
            list.id = 'op-legend-list';
            list.setAttribute('role', 'list');
            list.setAttribute('aria-label', 'Map key');
            list.innerHTML = {{ this.rows_html_json }};
            btn.setAttribute('aria-controls', list.id);
            function show(open) { list.hidden = !open; btn.setAttribute('aria-expanded', String(open)); }
            show(window.innerWidth >= 600);
            L.DomEvent.on(btn, 'click', function () { show(list.hidden); });
            L.DomEvent.disableClickPropagation(div);
            L.DomEvent.disableScrollPropagation(div);
            return div;
          };
          legend.addTo(map);
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, rows_html: list[str]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca's MacroElement.__init__ is unannotated
        self._name = "Legend"
        from mapping.safe_json import script_json

        self.rows_html_json = script_json("".join(f'<div role="listitem">{row}</div>' for row in rows_html))


class PickStart(RenderOnce):
    """Marks the map as picking a walk's start: clicks on features count as map clicks."""

    _template = Template(
        "{% macro script(this, kwargs) %}{{ this._parent.get_name() }}._opPickStart = true;{% endmacro %}"
    )

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca's MacroElement.__init__ is unannotated
