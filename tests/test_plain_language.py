"""Plain language (GOV.UK style): dates as people write them, no raw field names on a page."""

from __future__ import annotations

from views.common import FIELD_WORDS, field_words, human_date


def test_dates_read_as_people_write_them() -> None:
    assert human_date("2026-11-26") == "26 November 2026"
    assert human_date("2026-03-01T09:05:00+00:00") == "1 March 2026 at 9:05am UTC"
    assert human_date("2026-03-01T14:30:00") == "1 March 2026 at 2:30pm"
    assert human_date("2026-03-01T00:10:00") == "1 March 2026 at 12:10am"
    assert human_date(None) == ""
    assert human_date("not a date") == "not a date"  # shown as it is rather than lost


def test_field_names_become_words() -> None:
    assert field_words("last_verified") == "Last checked"
    assert field_words("online_url") == "Online link"
    assert field_words("some_new_field") == "Some new field"
    assert all("_" not in words for words in FIELD_WORDS.values())
