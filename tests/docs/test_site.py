"""Registry descriptions render as text in ``ganzoo list`` and in the site; the site's hooks flag raw
reStructuredText; every page in docs/ is in the site's nav."""

from __future__ import annotations

import importlib.util
import inspect
import logging
from pathlib import Path

import yaml
from click.testing import CliRunner

from ganzoo import registry
from ganzoo.cli import cli
from ganzoo.rst import summary, to_markdown, to_plain

REPO = Path(__file__).resolve().parents[2]


def site_hooks():
    spec = importlib.util.spec_from_file_location("ganzoo_site_hooks", REPO / "docs" / "hooks" / "site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rst_inline_markup_becomes_text_and_markdown():
    text = "Loads :func:`ganzoo.load_model` into :class:`~ganzoo.pretrained.ModelConfig`, ``config.json``."
    assert to_plain(text) == "Loads ganzoo.load_model into ModelConfig, config.json."
    assert to_markdown(text) == "Loads `ganzoo.load_model` into `ModelConfig`, `config.json`."
    assert summary("First ``G(x, c)``: joined\nover lines. Second sentence.\n\nNext paragraph.") == \
        "First G(x, c): joined over lines."


def test_ganzoo_list_shows_descriptions_without_rst_markup():
    result = CliRunner(env={"COLUMNS": "400"}).invoke(cli, ["list"])
    assert result.exit_code == 0
    raw = [e for e in registry.entries() if "``" in (inspect.getdoc(e.obj) or "").split("\n\n")[0]]
    assert raw, "some registered docstrings use ``literals`` (else this test checks nothing)"
    assert "``" not in result.output and ":func:`" not in result.output
    for entry in raw:
        assert entry.summary in result.output


def test_the_sites_registry_table_lists_every_plugin_as_text():
    table = site_hooks().on_page_markdown("# Plugins\n\n<!-- ganzoo: registry -->\n")
    assert "``" not in table and "<!--" not in table
    for entry in registry.entries():
        assert f"| {entry.kind} | `{entry.name}` |" in table


def test_the_site_warns_about_raw_rst_outside_code(caplog):
    hooks = site_hooks()

    class Page:
        class file:
            src_path = "page.md"

    with caplog.at_level(logging.WARNING, logger="mkdocs.plugins.ganzoo"):
        hooks.on_page_content("<p>ok <code>``x``</code></p><pre>:func:`y`</pre>", page=Page)
        assert not caplog.records
        hooks.on_page_content("<p>see :func:`ganzoo.load_model` and ``x``</p>", page=Page)
    assert len(caplog.records) == 3 and "page.md: raw reStructuredText" in caplog.records[0].getMessage()


def nav_pages(items) -> list[str]:
    pages = []
    for item in items:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        pages += nav_pages(value) if isinstance(value, list) else [value]
    return pages


def test_every_docs_page_is_in_the_nav():
    config = yaml.load((REPO / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)
    pages = nav_pages(config["nav"])
    assert sorted(pages) == sorted(p.name for p in (REPO / "docs").glob("*.md"))
