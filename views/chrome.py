"""What every page shares around its content: the page links (an accessible sidebar) and the
styles for focus, contrast and small screens.

Streamlit's own sidebar navigation puts `div`s straight inside a `ul` (axe's `list` and
`listitem` rules, WCAG 1.3.1), so app.py hides it and the sidebar lists the pages with
`st.page_link`, which renders plain links.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

# Focus: a 3 px near-black ring with a yellow halo (GOV.UK's focus colours; 19:1 and 1.4:1 on
# white, so the ring itself carries the 3:1). Captions: Streamlit's faded grey is 3.9:1 on white,
# GOV.UK's secondary text colour is 7:1.
STYLES = """
<style>
:focus-visible { outline: 3px solid #0b0c0c !important; outline-offset: 2px !important;
                 box-shadow: 0 0 0 2px #ffdd00 !important; }
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p { color: #505a5f !important; opacity: 1 !important; }
.op-skip { position: absolute; left: -10000px; top: auto; width: 1px; height: 1px; overflow: hidden; }
.op-skip:focus, .op-skip:focus-visible { position: static; width: auto; height: auto; display: inline-block;
  padding: 4px 8px; background: #ffdd00; color: #0b0c0c !important; text-decoration: underline; }
.op-sr-only { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
  clip: rect(0, 0, 0, 0); white-space: nowrap; border: 0; }
.block-container { padding-top: 2.5rem; }
@media (max-width: 480px) {
  /* Phones: the map first (after the page's title), then the results, then the controls. */
  h1 { font-size: 2rem !important; }
  .block-container { padding-left: 0.75rem; padding-right: 0.75rem; padding-top: 3.5rem; }
  :has(> .st-key-op-title) { order: -2; }
  :has(> .st-key-op-local) { order: -1; }
}
/* Figures beside the map have a narrow column: let their words wrap rather than be cut off. */
.st-key-op-map-and-results [data-testid="stMetricValue"] { font-size: 1.75rem; }
.st-key-op-map-and-results [data-testid="stMetricValue"] *,
.st-key-op-map-and-results [data-testid="stMetricLabel"] * { white-space: normal !important; overflow: visible !important; }
/* Wide screens: the results beside the map; narrower ones: the results under it. */
@media (max-width: 1100px) {
  .st-key-op-map-and-results [data-testid="stHorizontalBlock"] { flex-wrap: wrap; }
  .st-key-op-map-and-results [data-testid="stHorizontalBlock"] > [data-testid="stColumn"] {
    flex: 1 1 100% !important; min-width: 100% !important; }
}
</style>
"""

# A table that becomes cards where it has little room (a phone, or a narrow column): one row a
# card, each cell led by its column's name, so nothing scrolls sideways. A plain HTML table in one
# `st.html` element: Streamlit's `st.table` fetches ~1 MB of Arrow and formatting scripts the first
# time one shows (after a drawing, say) and builds each cell in React; this shows at once.
CARDS = """
<style>
.st-key-{key} {{ container-type: inline-size; }}
.st-key-{key} table {{ border-collapse: collapse; width: 100%; font-size: 0.95rem; }}
.st-key-{key} th, .st-key-{key} td {{ text-align: left; vertical-align: top; padding: 6px 8px;
  border-bottom: 1px solid #b1b4b6; }}
.st-key-{key} th {{ font-weight: 600; color: #0b0c0c; }}
@container (max-width: 560px) {{
  .st-key-{key} table, .st-key-{key} thead, .st-key-{key} tbody, .st-key-{key} tr,
  .st-key-{key} th, .st-key-{key} td {{ display: block; width: 100% !important; box-sizing: border-box; }}
  .st-key-{key} thead tr {{ position: absolute; left: -10000px; }}
  .st-key-{key} tbody tr {{ border: 1px solid #b1b4b6; border-radius: 6px; margin-bottom: 8px; padding: 4px 0; }}
  .st-key-{key} td {{ border: none !important; padding: 2px 8px !important; overflow-wrap: anywhere; }}
  .st-key-{key} td:empty {{ display: none; }}
  .st-key-{key} td::before {{ font-weight: bold; }}
  {labels}
}}
</style>
"""


def card_table(table: pd.DataFrame, key: str) -> None:
    """A table (one `<th>` per column, a row per record) that turns into cards on a small screen.
    Headings and cells are HTML-escaped here, so callers pass the plain text."""
    labels = "\n  ".join(
        f".st-key-{key} td:nth-of-type({i}):not(:empty)::before {{ content: {_css_string(str(col) + ': ')}; }}"
        for i, col in enumerate(table.columns, start=1)
    )
    body = table.to_html(index=False, escape=True, border=0, na_rep="", header=True, notebook=False)
    body = body.replace(' style="text-align: right;"', "")  # pandas' own header alignment
    with st.container(key=key):
        st.html(CARDS.format(key=key, labels=labels) + body)


def _css_string(text: str) -> str:
    return '"' + "".join(ch if ch.isalnum() or ch in " :-,.()" else f"\\{ord(ch):x} " for ch in text) + '"'


def styles() -> None:
    st.html(STYLES)


def sidebar(pages: Mapping[str, Sequence[Any]]) -> None:
    """The page links, grouped under their section names."""
    with st.sidebar:
        for section, entries in pages.items():
            st.markdown(f"**{section}**")
            for page in entries:
                st.page_link(page)
