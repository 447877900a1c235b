"""Property: whatever a user writes, loading a recipe gives a valid Recipe or one clean RecipeError.

Any recipe text (bytes included), any ``key=value`` overrides and any ``base:`` chain (cycles, missing files,
folders, non-strings) are tried against the real loader: ``load_recipe`` either returns a
:class:`~ganzoo.recipe.Recipe` or raises :class:`~ganzoo.errors.RecipeError`, never another exception.
Overrides are also applied to the shipped recipes, so that values reach every plugin's own options and the
networks' ``data.img_size`` checks.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ganzoo.errors import RecipeError
from ganzoo.recipe import Recipe, load_recipe
from ganzoo.schema import to_dict

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "recipes").glob("*.yaml"))

#: the words recipes are made of, so that generated recipes get past the first unknown key
WORDS = ["output_dir", "data", "root", "img_size", "num_domains", "dataset", "num_workers", "name", "method",
         "generator", "discriminator", "style_encoder", "mapping_network", "adversarial_loss", "regularizer",
         "train", "batch_size", "total_iters", "seed", "mixed_precision", "ema_beta", "base", "stargan_v1",
         "stargan_v2", "stargan_v2_mapping", "stargan_v2_encoder", "image_folder", "synthetic", "label_folder",
         "celeba", "joint", "max_conv_dim", "base_channels", "w_hpf", "repeat_num", "conv_dim", "attrs",
         "style_dim", "latent_dim", "lambda_ds", "lr", "images_per_domain", "gen_size", "crop_size", "rafd"]

#: YAML that PyYAML or Python trip over: an impossible date, integers Python will not read or print,
#: nesting deeper than the stack, tags, anchors
NASTY = [".nan", ".inf", "-.inf", "1e-4", "1e400", "no", "~", "2020-13-45", "2020-01-01", "!!int abc",
         "!!binary ===", "!!python/object/apply:os.system [echo]", "1" * 5000, "0x" + "f" * 5000, str(2 ** 64),
         "[" * 5000, "{a: " * 3000, "&a [*a]", "*nope", "!!set {a, b}", "{<<: 1}", "\x00", "\ud800"]
scalars = (st.none() | st.booleans() | st.integers() | st.integers(-2, 600) | st.floats(allow_nan=True)
           | st.text(max_size=12) | st.sampled_from(WORDS) | st.sampled_from(NASTY))
keys = st.sampled_from(WORDS) | st.text(max_size=8) | st.integers(-3, 3) | st.booleans() | st.none()
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
                      max_leaves=20)
#: recipe text: YAML of generated data, YAML-looking fragments, or anything at all
texts = (values.map(lambda v: yaml.safe_dump(v, allow_unicode=True))
         | st.lists(st.sampled_from([*WORDS, *NASTY, ":", " ", "\n", "  ", "- ", "{", "}", "[", "]", ",", "&a", "*a",
                                     "? ", "%YAML 1.2\n", "---\n", "\t", "'", '"', "#"]), max_size=30).map("".join)
         | st.text(max_size=60))
dotted = st.lists(st.sampled_from(WORDS) | st.text(max_size=5), min_size=1, max_size=4).map(".".join)
overrides = st.lists((st.tuples(dotted, scalars.map(str) | st.text(max_size=10)).map("=".join)) | st.text(max_size=20),
                     max_size=4)

SETTINGS = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def _load(path: Path, items: list[str]) -> None:
    """The property: a Recipe (which survives its own round trip) or a RecipeError, nothing else."""
    try:
        recipe = load_recipe(path, items)
    except RecipeError as exc:
        assert str(exc).strip(), "a RecipeError says what is wrong"
        return
    assert isinstance(recipe, Recipe)
    yaml.safe_dump(to_dict(recipe))  # what the trainer writes as recipe.resolved.yaml


@SETTINGS
@given(text=texts, items=overrides)
def test_any_text_and_overrides_give_a_recipe_or_a_recipe_error(text, items):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        _load(path, items)


@SETTINGS
@given(data=st.binary(max_size=80))
def test_any_bytes_give_a_recipe_or_a_recipe_error(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.yaml"
        path.write_bytes(data)
        _load(path, [])


@SETTINGS
@given(recipe=st.sampled_from(SHIPPED), items=overrides)
def test_overrides_of_every_shipped_recipe_give_a_recipe_or_a_recipe_error(recipe, items):
    _load(recipe, items)


#: what a ``base:`` key can hold: another recipe of the chain (cycles included), a missing file, a folder,
#: a shipped recipe, or any value
bases = (st.integers(0, 3).map(lambda i: f"r{i}.yaml") | st.just("missing.yaml") | st.just(".") | st.just("")
         | st.sampled_from([str(p) for p in SHIPPED]) | st.just("\0") | values)


@SETTINGS
@given(chain=st.lists(st.tuples(bases, values | st.just({})), min_size=1, max_size=4), items=overrides)
def test_any_base_chain_gives_a_recipe_or_a_recipe_error(chain, items):
    with tempfile.TemporaryDirectory() as tmp:
        for i, (base, body) in enumerate(chain):
            data = {"base": base, **body} if isinstance(body, dict) else {"base": base, "data": body}
            Path(tmp, f"r{i}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8",
                                                errors="surrogatepass")
        _load(Path(tmp) / "r0.yaml", items)


# --- what the properties found, kept as examples with their messages ----------------------------------------------

VALID = "method: stargan_v2\ndata: {root: d}\n"  # a key given again below replaces it, as in any YAML loader


@pytest.mark.parametrize(("text", "message"), [
    (b"\x80" + VALID.encode(), "malformed YAML: .*invalid start byte"),
    (VALID + "base: \"\\0\"\n", "`base:` must be the path of another recipe"),
    (VALID + "output_dir: 2020-13-45\n", "malformed YAML: ValueError: month must be in 1..12"),
    (VALID + "train: {seed: " + "1" * 5000 + "}\n", "malformed YAML: ValueError: Exceeds the limit"),
    (VALID + "train: {seed: 0x" + "f" * 5000 + "}\n", r"train.seed must be an integer between -2\*\*63 and 2\*\*64"),
    (VALID + "x: " + "[" * 5000 + "]" * 5000 + "\n", "malformed YAML: RecursionError"),
    (VALID + "train: {ema_beta: .nan}\n", "train.ema_beta must be a finite number, got number nan"),
    (VALID + "method: {name: stargan_v2, lr: -.inf}\n", "method.lr must be a finite number, got number -inf"),
    (VALID + "method: {name: stargan_v2, lr: " + "1" * 400 + "}\n", "method.lr must be a finite number, got integer"),
    (VALID + "data: !!set {root}\n", "'data' must be a mapping of keys to values, got set"),
    (VALID + "train: {mixed_precision: 0x" + "f" * 5000 + "}\n", "got \\(too long to print\\)"),
    (VALID + "output_dir: [0x" + "f" * 5000 + "]\n", "output_dir must be a string, got list \\(too long to print\\)"),
    ("method: stargan_v2\ndata:\n  root: d\n  ? 0x" + "f" * 5000 + "\n  : 1\n",
     "Unknown key 'data.\\(too long to print\\)'"),
    (VALID + "base: 0x" + "f" * 5000 + "\n", "`base:` must be the path of another recipe, got integer \\(too long"),
    (VALID + "train: {seed: " + "x" * 300 + "}\n", "got string 'x{37}\\.\\.\\.x{38}'\\.$"),  # abridged
])
def test_inputs_the_properties_found(tmp_path, text, message):
    path = tmp_path / "r.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(RecipeError, match=message):
        load_recipe(path)
