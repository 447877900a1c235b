"""``data.img_size`` is checked at recipe validation by every network in the recipe, through the interface
(:meth:`ganzoo.interfaces.Network.check_img_size`), so a family added later is checked the same way."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from torch import Tensor

from ganzoo import registry
from ganzoo.errors import RecipeError
from ganzoo.interfaces import ImageToImageGenerator, require_img_size
from ganzoo.recipe import load_recipe

REPO = Path(__file__).resolve().parents[2]
V2, V1 = REPO / "recipes" / "quickstart.yaml", REPO / "recipes" / "stargan_v1_quickstart.yaml"


class MultipleOfGenerator(ImageToImageGenerator):
    """A generator of a family added after the core: it takes multiples of its ``step`` option."""

    @dataclass
    class Config:
        step: int = 24

    @classmethod
    def check_img_size(cls, img_size: int, config: Config) -> None:
        require_img_size(img_size, lambda n: n % config.step == 0, network="the later family's generator",
                         rule=f"a multiple of {config.step}")

    def forward(self, x: Tensor, condition: Tensor, **kwargs) -> Tensor:
        return x


@pytest.fixture
def later_family(monkeypatch) -> str:
    registry.load_plugins()
    entry = registry.Entry("generator", "later_family", MultipleOfGenerator, "tests")
    monkeypatch.setitem(registry._entries["generator"], "later_family", entry)
    return "later_family"


def test_a_family_added_later_is_checked_through_the_interface(later_family):
    with pytest.raises(RecipeError, match=r"^data.img_size=32 is not supported by the later family's generator: use "
                                          r"a multiple of 24 \(nearest: 24 or 48\).$"):
        load_recipe(V2, [f"method.generator={later_family}"])
    with pytest.raises(RecipeError, match=r"use a multiple of 10 \(nearest: 30 or 40\)"):  # its options reach it
        load_recipe(V2, [f"method.generator={{name: {later_family}, step: 10}}"])
    assert load_recipe(V2, [f"method.generator={{name: {later_family}, step: 16}}"]).data.img_size == 32


@pytest.mark.parametrize(("overrides", "message"), [
    (["data.img_size=96"], "StarGAN v2's generator: use a power of two >= 16 (nearest: 64 or 128)."),
    (["data.img_size=8"], "StarGAN v2's generator: use a power of two >= 16 (nearest: 16)."),
    (["data.img_size=12", "method.generator={name: later_family, step: 4}"],  # the generator takes 12, not the rest
     "StarGAN v2's style encoder: use a power of two >= 8 (nearest: 8 or 16)."),
])
def test_stargan_v2_sizes(later_family, overrides, message):
    with pytest.raises(RecipeError) as error:
        load_recipe(V2, overrides)
    assert str(error.value) == f"data.img_size={overrides[0].split('=')[1]} is not supported by {message}"


def test_stargan_v2_takes_every_power_of_two_from_16():
    for size in (16, 32, 64, 128, 256, 512, 1024):
        assert load_recipe(V2, [f"data.img_size={size}"]).data.img_size == size


@pytest.mark.parametrize(("overrides", "message"), [
    (["data.img_size=40"], "StarGAN v1's discriminator with method.discriminator.repeat_num=4: use a multiple of "
                           "2**4 = 16 (nearest: 32 or 48)."),
    (["data.img_size=18", "method.discriminator.repeat_num=1"],
     "StarGAN v1's generator (two stride-2 downsamplings): use a multiple of 2**2 = 4 (nearest: 16 or 20)."),
])
def test_stargan_v1_sizes_follow_its_options(overrides, message):
    with pytest.raises(RecipeError) as error:
        load_recipe(V1, overrides)
    assert str(error.value) == f"data.img_size={overrides[0].split('=')[1]} is not supported by {message}"
    assert load_recipe(V1, ["data.img_size=40", "method.discriminator.repeat_num=3"]).data.img_size == 40
