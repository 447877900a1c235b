"""A griffe extension for mkdocstrings: our docstrings' reStructuredText inline markup (````x````,
``:func:`x```) becomes Markdown code spans before the site renders them (ganzoo.rst.to_markdown)."""

from __future__ import annotations

from typing import Any

import griffe

from ganzoo.rst import to_markdown


class RstInlineMarkup(griffe.Extension):
    """Rewrite every loaded object's docstring with :func:`ganzoo.rst.to_markdown`."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
