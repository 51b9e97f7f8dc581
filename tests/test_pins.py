"""The group's pin: where a click or a dropped pin landed, read from streamlit-folium's output."""

from __future__ import annotations

import math

from shapely.geometry import box

from mapping import pins


def test_clicked_point_reads_a_click_or_a_dropped_pin() -> None:
    assert pins.clicked_point({"last_clicked": {"lat": 60.1752, "lng": 24.944}}) == (24.944, 60.1752)
    assert pins.clicked_point({"last_clicked": {"lat": "60.1", "lng": "24.9"}}) == (24.9, 60.1)


def test_clicked_point_ignores_what_is_not_a_place() -> None:
    for output in (
        None,
        {},
        {"last_clicked": None},
        {"last_clicked": {"lat": 91, "lng": 0}},
        {"last_clicked": {"lat": 0, "lng": 181}},
        {"last_clicked": {"lat": math.nan, "lng": 1}},
        {"last_clicked": {"lat": "north", "lng": 1}},
        {"last_clicked": {"lng": 1}},
        {"last_clicked": [60, 24]},
        "60,24",
    ):
        assert pins.clicked_point(output) is None  # type: ignore[arg-type]


def test_pin_text_cannot_break_out_of_the_script() -> None:
    group = pins.pin_group((24.944, 60.1752), title="</script><script>window.__xss=1</script>")
    pin = next(iter(group._children.values()))
    html = pin._template.module.script(pin, {})
    assert "</script>" not in html and "\\u003c/script\\u003e" in html
    assert '"draggable":true' in html
    area = pins.pin_group(area=box(24.94, 60.17, 24.95, 60.18), draggable=False)
    assert '"Polygon"' in next(iter(area._children.values())).area_json
