"""mkdocs hooks of the documentation site (docs/writing-docs.md says what they do).

- ``<!-- ganzoo: registry -->`` in a page becomes the table of registered plugins, their descriptions as
  plain text (what ``ganzoo list`` prints).
- Every rendered page is checked for reStructuredText markup left raw outside code (````x````,
  ``:func:`x```): each is a warning, which ``mkdocs build --strict`` turns into a failure.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from ganzoo import registry

REGISTRY_MARKER = "<!-- ganzoo: registry -->"
_CODE = re.compile(r"<(pre|code)\b.*?</\1>", re.S)
_RAW_RST = re.compile(r"``|:(?:[a-z]+:)?(?:func|class|meth|mod|attr|data|exc|obj):`")
log = logging.getLogger("mkdocs.plugins.ganzoo")


def registry_table() -> str:
    """The registered plugins as a Markdown table: kind, name, where it comes from, description."""
    rows = [f"| {e.kind} | `{e.name}` | `{e.source}` | {e.summary.replace('|', '&#124;')} |"
            for e in registry.entries()]
    return "| kind | name | from | description |\n|---|---|---|---|\n" + "\n".join(rows)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    return markdown.replace(REGISTRY_MARKER, registry_table())


def on_page_content(html: str, page: Any, **kwargs: Any) -> str:
    text = _CODE.sub("", html)
    for match in _RAW_RST.finditer(text):
        context = re.sub(r"<[^>]+>", "", text[max(0, match.start() - 60):match.end() + 40]).replace("\n", " ")
        log.warning(f"{page.file.src_path}: raw reStructuredText markup {match.group(0)!r} in the page: ...{context}...")
    return html
