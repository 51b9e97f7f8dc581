"""Plain language (GOV.UK style): dates as people write them, no raw field names on a page."""

from __future__ import annotations

from views.common import FIELD_WORDS, field_words, when


def test_dates_read_as_people_write_them() -> None:
    assert when("2026-11-26") == "26 Nov 2026"
    assert when("2026-11-26T05:49:12+00:00") == "26 Nov 2026, 05:49"
    assert when("2026-03-01T14:30:00") == "1 Mar 2026, 14:30"
    assert when(None) == ""
    assert when("not a date") == "not a date"  # shown as it is rather than lost


def test_field_names_become_words() -> None:
    assert field_words("last_verified") == "Last checked"
    assert field_words("online_url") == "Online link"
    assert field_words("some_new_field") == "Some new field"
    assert all("_" not in words for words in FIELD_WORDS.values())
