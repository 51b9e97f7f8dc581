"""JSON that is safe inside an HTML <script> element.

json.dumps leaves "<", ">" and "&" as they are, so a name like "</script><script>…" would end
the script block. Escaping them (and the JS line separators) as \\uXXXX keeps the value intact
for JavaScript while the HTML parser never sees markup. All user text enters the map through
here; popups then put it into the page with textContent, never innerHTML.

The text is also safe inside folium's templates. branca renders each element's script, then
wraps the result in a new Jinja template that is rendered again (MacroElement.render), so a
name such as "{{ cycler.__init__.__globals__.os.popen('…') }}" would run on the server. Compact
JSON never has "{{", "{%" or "{#" outside a string (an object's "{" is followed by a key's quote
or "}"), so escaping "{" wherever one of those follows it (as \u007b) leaves the value as it
was and gives Jinja nothing to read.
"""

from __future__ import annotations

import json
import re
from typing import Any

_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_JINJA_OPENER = re.compile(r"\{(?=[{%#])")


def script_json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for raw, escaped in _ESCAPES.items():
        text = text.replace(raw, escaped)
    return _JINJA_OPENER.sub(r"\\u007b", text)
