"""JSON that is safe inside an HTML <script> element.

json.dumps leaves "<", ">" and "&" as they are, so a name like "</script><script>…" would end
the script block. Escaping them (and the JS line separators) as \\uXXXX keeps the value intact
for JavaScript while the HTML parser never sees markup. All user text enters the map through
here; popups then put it into the page with textContent, never innerHTML.
"""

from __future__ import annotations

import json
from typing import Any

_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def script_json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for raw, escaped in _ESCAPES.items():
        text = text.replace(raw, escaped)
    return text
