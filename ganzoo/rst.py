"""Docstrings, which are written in reStructuredText, as plain text (``ganzoo list``) and as Markdown (the
documentation site, through mkdocstrings).

Only the inline markup our docstrings use is converted: literals (````x````) and cross-reference roles
(``:func:`x```, ``:class:`~a.b.C```, ...). A role's target loses its ``~`` and, when it had one, its
module path, as Sphinx shows it.
"""

from __future__ import annotations

import re

# :role:`target` or :domain:role:`target`, e.g. :func:`ganzoo.load_model`, :py:class:`~a.B`
_ROLE = re.compile(r":(?:[a-z]+:)?[a-z]+:`(~?)([^`]+)`")
_LITERAL = re.compile(r"``(.+?)``")


def _role_text(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return target.rsplit(".", 1)[-1] if tilde else target


def to_plain(text: str) -> str:
    """``text`` with its reStructuredText inline markup removed: ````G(x, c)```` becomes ``G(x, c)`` and
    ``:func:`ganzoo.load_model``` becomes ``ganzoo.load_model``."""
    return _LITERAL.sub(r"\1", _ROLE.sub(_role_text, text))


def to_markdown(text: str) -> str:
    """``text`` with its reStructuredText inline markup as Markdown code spans: ````x```` and ``:func:`x```
    both become `` `x` ``."""
    return _LITERAL.sub(r"`\1`", _ROLE.sub(lambda m: f"`{_role_text(m)}`", text))


def summary(doc: str) -> str:
    """The first sentence of the docstring ``doc`` (its first paragraph, joined into one line, up to the first
    full stop that ends a sentence), as plain text; empty for an empty docstring."""
    paragraph = " ".join(line.strip() for line in doc.strip().split("\n\n", 1)[0].splitlines())
    sentence = re.split(r"(?<=[.!?])\s+(?=[A-Z(])", paragraph, maxsplit=1)[0]
    return to_plain(sentence)
