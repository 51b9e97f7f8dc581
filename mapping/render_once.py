"""Map elements whose rendered text goes into the page as it is.

branca's `MacroElement.render` puts each macro's output (header, html, script) into the page as
`Element(text)`, and `Element` compiles that text as a new Jinja template, rendered again when
the page is. The second pass costs a template compile per element (most of a map's build time
when its data is inside it: ~0.5 MB of JSON read by Jinja's lexer), and it would run any template
syntax that reached the text from data. `RenderOnce` renders each macro once and adds the result
verbatim; every element we put on a map uses it.
"""

from __future__ import annotations

from typing import Any

from branca.element import Element, Figure, MacroElement


class Verbatim(Element):
    """Text a template has already made: rendered as it is, never read as a template again."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._template_str = text  # what branca keeps of an Element's text (vendor.OfflineMap reads it)
        self._name = "Verbatim"

    def render(self, **kwargs: Any) -> str:
        return self._template_str or ""


class RenderOnce(MacroElement):
    """A MacroElement whose header, html and script macros are rendered once (see the module)."""

    def render(self, **kwargs: Any) -> str:
        figure = self.get_root()
        if not isinstance(figure, Figure):
            raise TypeError("Render a map element inside a Figure (folium.Map gives it one).")
        macros = self._template.module.__dict__
        for part in ("header", "html", "script"):
            macro = macros.get(part)
            if macro is not None:
                getattr(figure, part).add_child(Verbatim(macro(self, kwargs)), name=self.get_name())
        for element in self._children.values():
            element.render(**kwargs)
        return ""  # what it made is in the figure (branca's own returns nothing)
