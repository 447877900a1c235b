"""Registry: registration, look-up, did-you-mean errors, entry-point discovery, `ganzoo list`."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from ganzoo import registry
from ganzoo.cli import cli
from ganzoo.errors import GanzooError
from ganzoo.interfaces import Loss


class _TestLoss(Loss):
    """A loss registered for this module's tests only (not left in the registry, where the contract test of every
    registered plugin would find a loss that computes nothing)."""


@pytest.fixture(autouse=True)
def test_only_loss(monkeypatch: pytest.MonkeyPatch) -> None:
    """``_TestLoss`` registered as loss ``test_only_loss`` through the public decorator, for one test."""
    registry.entries()  # discover the installed plugins first, so the copy holds them
    monkeypatch.setattr(registry, "_entries", {kind: dict(by_name) for kind, by_name in registry._entries.items()})
    registry.register("loss", "test_only_loss")(_TestLoss)


def test_lookup_returns_registered_class():
    assert registry.get("loss", "test_only_loss") is _TestLoss


def test_unknown_name_suggests_closest():
    with pytest.raises(GanzooError, match=r"Unknown loss 'test_only_los'.*Did you mean 'test_only_loss'"):
        registry.get("loss", "test_only_los")


def test_unknown_kind_lists_kinds():
    with pytest.raises(GanzooError, match=r"Unknown registry kind 'generatr'.*Did you mean 'generator'"):
        registry.get("generatr", "x")


def test_double_registration_of_another_object_fails():
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("loss", "test_only_loss")(type("Other", (Loss,), {}))


def test_a_class_must_derive_from_its_kinds_interface():
    with pytest.raises(TypeError, match="loss 'not_a_loss'.*must be a subclass of Loss"):
        registry.register("loss", "not_a_loss")(type("NotALoss", (), {}))
    with pytest.raises(TypeError, match="generator 'a_loss'.*must be a subclass of Generator"):
        registry.register("generator", "a_loss")(_TestLoss)


def test_builtin_plugins_arrive_through_entry_points():
    names = {(e.kind, e.name) for e in registry.entries()}
    assert ("method", "stargan_v2") in names
    assert ("generator", "stargan_v2") in names
    assert ("style_source", "stargan_v2_mapping") in names
    assert ("style_source", "stargan_v2_encoder") in names
    assert ("discriminator", "stargan_v2") in names
    assert ("loss", "r1") in names
    assert ("dataset", "image_folder") in names and ("dataset", "synthetic") in names


def test_entries_of_one_kind_are_sorted():
    entries = registry.entries("loss")
    assert entries and all(e.kind == "loss" for e in entries)
    assert [e.name for e in entries] == sorted(e.name for e in entries)


def test_broken_third_party_plugin_is_reported_not_fatal(monkeypatch):
    class BrokenEntryPoint:
        name, value = "broken", "ganzoo_missing_plugin_module"

    monkeypatch.setattr(registry, "_plugins_loaded", False)
    monkeypatch.setattr(registry, "_plugin_errors", [])
    monkeypatch.setattr(registry, "entry_points", lambda group: [BrokenEntryPoint()])
    registry.load_plugins()
    with pytest.raises(GanzooError, match="plugin 'broken'.*failed to import"):
        registry.get("loss", "does_not_exist")


def test_list_command_prints_table():
    result = CliRunner().invoke(cli, ["list", "method"])
    assert result.exit_code == 0, result.output
    assert "stargan_v2" in result.output and "method" in result.output


def test_a_new_plugin_folder_is_discovered_without_listing_it(tmp_path, monkeypatch):
    """Adding a family is adding a folder: every sub-package of the built-in plugin package is imported."""
    package = tmp_path / "zoo_plugins"
    (package / "newfamily").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "newfamily" / "__init__.py").write_text(
        "from ganzoo.interfaces import Loss\nfrom ganzoo.registry import register\n\n"
        "@register('loss', 'from_a_new_folder')\nclass FromANewFolder(Loss):\n    '''Found by folder.'''\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "BUILTIN_PACKAGE", "zoo_plugins")
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    assert registry.get("loss", "from_a_new_folder").__name__ == "FromANewFolder"
