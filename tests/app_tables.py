"""The card tables a page shows (views/chrome.card_table: an HTML table in `st.html`), read back
from AppTest as DataFrames of the text a person sees; Streamlit's own `st.table`s are `at.table`."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pandas as pd


class _Tables(HTMLParser):
    """Every <table>'s rows as lists of cell text (character references decoded, as a browser shows them)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self._row = []
            self.tables[-1].append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def card_tables(at: Any) -> list[pd.DataFrame]:
    """Each card table on the page, in page order: its header row as the columns."""
    found = []
    for element in at.html:
        parser = _Tables()
        parser.feed(element.value)
        found += [pd.DataFrame(rows[1:], columns=rows[0]) for rows in parser.tables if rows]
    return found
