"""Typed slots: every recipe field that holds a plugin names the interface it needs, and validation rejects
every registered plugin that does not implement it, before any work, with one message."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from ganzoo import registry
from ganzoo.build import create
from ganzoo.errors import RecipeError
from ganzoo.interfaces import ImageToImageGenerator, LatentStyleSource
from ganzoo.recipe import DataConfig, EvalConfig, Recipe, apply_override
from ganzoo.schema import fitting, parse


def slots() -> list[tuple[str, str, type]]:
    """(method name or "", dotted recipe key, interface) of every slot: the recipe's own and each registered
    method's, found from the Config dataclasses, so a new method's slots are tested with no list to edit."""
    found = [("", "method", _slot_of(Recipe, "method")), ("", "data.dataset", _slot_of(DataConfig, "dataset")),
             ("", "eval.extractor", _slot_of(EvalConfig, "extractor"))]
    for entry in registry.entries("method"):
        for field in dataclasses.fields(entry.obj.Config):
            if field.metadata.get("slot") is not None:
                found.append((entry.name, f"method.{field.name}", field.metadata["slot"]))
    return found


def _slot_of(cls: type, name: str) -> type:
    return next(f.metadata["slot"] for f in dataclasses.fields(cls) if f.name == name)


def misfits() -> list[tuple[str, str, type, str]]:
    """Every (method, key, interface, plugin) where the registered plugin does not implement the interface."""
    return [(method, key, slot, entry.name) for method, key, slot in slots() for entry in registry.entries()
            if not (entry.kind == registry.kind_of(slot) and issubclass(entry.obj, slot))
            and entry.name not in fitting(slot)]  # a name registered under several kinds may fit through another


def _recipe(method: str, override: str) -> Recipe:
    raw = {"method": {"name": method or "stargan_v2"}, "data": {"root": "unused"}}
    apply_override(raw, override)
    return parse(Recipe, raw)


def test_there_are_slots_of_every_plugin_kind():
    kinds = {registry.kind_of(slot) for _, _, slot in slots()}
    assert kinds == set(registry.KINDS)


@pytest.mark.parametrize(("method", "key", "slot", "plugin"), misfits(),
                         ids=[f"{m or 'recipe'}:{k}={p}" for m, k, _, p in misfits()])
def test_every_plugin_is_rejected_in_every_slot_it_does_not_fit(method, key, slot, plugin):
    with pytest.raises(RecipeError) as caught:
        _recipe(method, f"{key}={plugin}")
    message = str(caught.value)
    assert key in message and repr(plugin) in message and slot.__name__ in message
    fits = fitting(slot)
    assert fits and f"Registered plugins that fit: {', '.join(fits)}." in message


@pytest.mark.parametrize(("method", "key", "slot"), slots(), ids=[f"{m or 'recipe'}:{k}" for m, k, _ in slots()])
def test_every_fitting_plugin_is_accepted_in_its_slot(method, key, slot):
    for plugin in fitting(slot):
        if key == "method":
            continue  # another method replaces the whole section; each method's own slots are tested here
        component = _recipe(method, f"{key}={plugin}")
        for part in key.split(".")[:-1]:
            component = getattr(component, part) if part != "method" else component.method.options
        value = getattr(component, key.split(".")[-1])  # a list slot reads one spec as a list of one
        assert ([c.name for c in value] if isinstance(value, list) else [value.name]) == [plugin]


@pytest.mark.parametrize(("override", "slot", "given"), [
    ("method.regularizer=hinge", "a Regularizer", "loss 'hinge'"),
    ("method.adversarial_loss=r1", "an AdversarialLoss", "loss 'r1'"),
    ("method.mapping_network=stargan_v2_encoder", "a LatentStyleSource", "style_source 'stargan_v2_encoder'"),
    ("method.discriminator=stargan_v1", "a DomainDiscriminator", "discriminator 'stargan_v1'"),
    ("method.generator=r1", "an ImageToImageGenerator", "loss 'r1'"),
])
def test_the_reported_wrong_swaps_stop_at_validation_with_one_message(tmp_path, override, slot, given):
    """The swaps that used to crash with AttributeError/TypeError after validation now exit 2 before any work."""
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "ganzoo", "run", "recipes/quickstart.yaml", override,
                             f"output_dir={out}", f"data.root={tmp_path / 'data'}"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert f"needs {slot}, and {given} is not one" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() and not (tmp_path / "data").exists()


def test_create_builds_from_python_exactly_as_from_a_recipe():
    generator = create({"name": "stargan_v2", "max_conv_dim": 32}, ImageToImageGenerator, img_size=16,
                       condition_dim=8)
    assert generator.config.max_conv_dim == 32 and generator.style_dim == 8
    with pytest.raises(RecipeError, match="max_conv_dim must be >= 1"):
        create({"name": "stargan_v2", "max_conv_dim": 0}, ImageToImageGenerator, img_size=16, condition_dim=8)
    with pytest.raises(RecipeError, match="needs a LatentStyleSource, and style_source 'stargan_v2_encoder'"):
        create("stargan_v2_encoder", LatentStyleSource, latent_dim=4, style_dim=8, num_domains=2)
    with pytest.raises(RecipeError, match="Did you mean 'stargan_v2_mapping'"):
        create("stargan_v2_mappin", LatentStyleSource, latent_dim=4, style_dim=8, num_domains=2)
