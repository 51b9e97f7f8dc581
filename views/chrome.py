"""What every page shares around its content: the page links (an accessible sidebar) and the
styles for focus, contrast and small screens.

Streamlit's own sidebar navigation puts `div`s straight inside a `ul` (axe's `list` and
`listitem` rules, WCAG 1.3.1), so app.py hides it and the sidebar lists the pages with
`st.page_link`, which renders plain links.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

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
@media (max-width: 480px) {
  /* Phones: the map first (after the page's title), then the results, then the controls. */
  .block-container { padding-left: 0.75rem; padding-right: 0.75rem; padding-top: 3rem; }
  .st-key-op-title { order: -2; }
  .st-key-op-map-and-results { order: -1; }
  /* Tables become cards: one row a card, each cell with its column's name (set per table). */
  .op-cards table, .op-cards thead, .op-cards tbody, .op-cards tr, .op-cards th, .op-cards td {
    display: block; width: 100% !important; }
  .op-cards thead tr { position: absolute; left: -10000px; }
  .op-cards tbody th { display: none; }
  .op-cards tbody tr { border: 1px solid #b1b4b6; border-radius: 6px; margin-bottom: 8px; padding: 4px 0; }
  .op-cards td { border: none !important; padding: 2px 8px !important; overflow-wrap: anywhere; }
  .op-cards td::before { font-weight: bold; }
}
</style>
"""


def styles() -> None:
    st.html(STYLES)


def sidebar(pages: Mapping[str, Sequence[Any]]) -> None:
    """The page links, grouped under their section names."""
    with st.sidebar:
        for section, entries in pages.items():
            st.markdown(f"**{section}**")
            for page in entries:
                st.page_link(page)
