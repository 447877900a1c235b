"""Recipes: inheritance, overrides, round trips and every validation error."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganzoo.errors import RecipeError
from ganzoo.recipe import Recipe, dump_recipe, load_recipe
from ganzoo.schema import parse

REPO = Path(__file__).resolve().parents[2]
AFHQ = REPO / "recipes" / "stargan_v2_afhq.yaml"


#: the keys every recipe must give: a method and a data folder (defaults name no plugin and no dataset)
MINIMAL = "method: stargan_v2\ndata: {root: data/x}\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "missing"), [("data: {root: d}\n", "'method'"), ("method: stargan_v2\n", "'data'"),
                                               ("method: stargan_v2\ndata: {img_size: 32}\n", "'data.root'")])
def test_recipe_defaults_name_no_plugin_and_no_data_folder(tmp_path, text, missing):
    with pytest.raises(RecipeError, match=f"Missing required key {missing}"):
        load_recipe(write(tmp_path / "r.yaml", text))


def test_shipped_afhq_recipe_has_the_paper_setup():
    r = load_recipe(AFHQ)
    assert (r.data.img_size, r.data.num_domains, r.train.batch_size, r.train.total_iters) == (256, 3, 8, 100000)
    assert r.method.name == "stargan_v2"
    assert r.method.options.lambda_ds == 2.0
    assert r.method.options.generator.options.w_hpf == 0.0


def test_base_inheritance_merges_nested_sections(tmp_path):
    child = write(tmp_path / "child.yaml", f"base: {AFHQ}\ntrain:\n  batch_size: 2\nmethod:\n  lambda_ds: 1.0\n")
    r = load_recipe(child)
    assert r.train.batch_size == 2 and r.train.total_iters == 100000  # sibling keys inherited
    assert r.method.options.lambda_ds == 1.0 and r.method.options.lambda_cyc == 1.0
    assert r.data.root == "data/afhq"


def test_base_path_is_relative_to_the_recipe_that_names_it(tmp_path):
    (tmp_path / "sub").mkdir()
    write(tmp_path / "root.yaml", MINIMAL + "train:\n  seed: 5\n")
    child = write(tmp_path / "sub" / "child.yaml", "base: ../root.yaml\ntrain:\n  batch_size: 3\n")
    r = load_recipe(child)
    assert (r.train.seed, r.train.batch_size) == (5, 3)


def test_inheritance_cycle_is_reported(tmp_path):
    write(tmp_path / "a.yaml", "base: b.yaml\n")
    write(tmp_path / "b.yaml", "base: a.yaml\n")
    with pytest.raises(RecipeError, match="inheritance loops"):
        load_recipe(tmp_path / "a.yaml")


def test_changing_a_components_name_drops_the_old_options(tmp_path):
    base = write(tmp_path / "base.yaml", "data: {root: d}\nmethod:\n  name: stargan_v2\n"
                                         "  adversarial_loss: {name: nonsaturating}\n")
    child = write(tmp_path / "child.yaml", "base: base.yaml\nmethod:\n  adversarial_loss: hinge\n")
    assert load_recipe(child).method.options.adversarial_loss.name == "hinge"
    assert load_recipe(base).method.options.adversarial_loss.name == "nonsaturating"


def test_overrides_parse_values_as_yaml():
    r = load_recipe(AFHQ, ["train.batch_size=4", "data.img_size=128", "method.lambda_ds=0.5",
                           "train.mixed_precision=bf16", "method.generator.max_conv_dim=64",
                           "output_dir=runs/x"])
    assert (r.train.batch_size, r.data.img_size, r.method.options.lambda_ds) == (4, 128, 0.5)
    assert r.train.mixed_precision == "bf16" and r.output_dir == "runs/x"
    assert r.method.options.generator.options.max_conv_dim == 64


def test_no_yes_on_off_are_strings_and_only_true_false_are_booleans(tmp_path):
    """YAML 1.2 booleans: `mixed_precision: no` is the choice "no", not False (PyYAML's YAML 1.1 default)."""
    path = tmp_path / "r.yaml"
    path.write_text("base: " + str(AFHQ) + "\ntrain: {mixed_precision: no, deterministic: true}\n")
    assert load_recipe(path).train.mixed_precision == "no" and load_recipe(path).train.deterministic is True
    r = load_recipe(AFHQ, ["train.mixed_precision=no", "train.deterministic=false", "output_dir=on"])
    assert r.train.mixed_precision == "no" and r.train.deterministic is False and r.output_dir == "on"
    with pytest.raises(RecipeError, match="train.deterministic"):
        load_recipe(AFHQ, ["train.deterministic=yes"])


def test_override_into_a_component_given_by_name(tmp_path):
    child = write(tmp_path / "r.yaml", f"base: {AFHQ}\nmethod:\n  discriminator: stargan_v2\n")
    r = load_recipe(child, ["method.discriminator.max_conv_dim=32"])
    assert r.method.options.discriminator.options.max_conv_dim == 32


def test_scientific_notation_without_dot_is_a_number(tmp_path):
    r = load_recipe(AFHQ, ["method.lr=1e-3"])
    assert r.method.options.lr == pytest.approx(1e-3)


def test_round_trip_through_the_resolved_recipe(tmp_path):
    r = load_recipe(AFHQ, ["train.batch_size=4"])
    assert parse(Recipe, r.to_dict()) == r
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    dump_recipe(r, run_dir / "recipe.resolved.yaml")
    assert load_recipe(run_dir) == load_recipe(AFHQ, ["train.batch_size=4", f"output_dir={run_dir}"])
    assert load_recipe(run_dir / "recipe.resolved.yaml") == r  # the file itself: exactly the recipe written


@pytest.mark.parametrize("override, message", [
    ("train.batchsize=4", r"Unknown key 'train.batchsize'. Did you mean 'batch_size'\? Allowed keys in 'train': "
                          r"batch_size, total_iters"),
    ("train.batch_size=four", r"train.batch_size must be an integer, got string 'four'"),
    ("train.batch_size=0", r"train.batch_size must be >= 1, got 0"),
    ("train.batch_size=2.5", r"train.batch_size must be an integer, got number 2.5"),
    ("train.mixed_precision=fp8", r"train.mixed_precision must be one of 'no', 'bf16', 'fp16', 'auto', got 'fp8'"),
    ("method.randcrop_prob=1.5", r"method.randcrop_prob must be <= 1"),
    ("method.generator.name=stargan_v3", r"method.generator: Unknown generator 'stargan_v3'. Did you mean "
                                         r"'stargan_v2'"),
    ("method.name=starganv2", r"method: Unknown method 'starganv2'. Did you mean 'stargan_v2'"),
    ("method.generator.bogus=1", r"Unknown key 'method.generator.bogus'"),
    ("train.total_iters.x=1", r"'train.total_iters' is a value, not a section"),
    ("train.seed", r"not of the form dotted.key=value"),
    ("train.deterministic=maybe", r"train.deterministic must be a boolean"),
])
def test_validation_errors_name_the_key_and_the_fix(override, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe(AFHQ, [override])


def test_malformed_yaml_names_the_line(tmp_path):
    bad = write(tmp_path / "bad.yaml", "train:\n  batch_size: 4\n  seed: [1, 2\n")
    with pytest.raises(RecipeError, match=r"malformed YAML at line \d+"):
        load_recipe(bad)


def test_object_tags_are_refused(tmp_path):
    bad = write(tmp_path / "evil.yaml", "train: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(RecipeError, match="line 1: .*tags that build Python objects are not allowed"):
        load_recipe(bad)


def test_recipe_must_be_a_mapping(tmp_path):
    with pytest.raises(RecipeError, match="must be a mapping of sections"):
        load_recipe(write(tmp_path / "list.yaml", "- 1\n- 2\n"))


def test_missing_recipe_file(tmp_path):
    with pytest.raises(RecipeError, match="Recipe not found"):
        load_recipe(tmp_path / "nope.yaml")


def test_section_of_wrong_type(tmp_path):
    with pytest.raises(RecipeError, match="'train' must be a mapping"):
        load_recipe(write(tmp_path / "r.yaml", MINIMAL + "train: 5\n"))


def test_a_run_folder_is_rerun_where_it_is_now(tmp_path):
    """`ganzoo run RUN` resumes RUN itself, even when the run was moved or copied, or RUN is named from another
    directory (its recipe.resolved.yaml holds the output_dir of the run that wrote it, maybe relative)."""
    run = tmp_path / "copies" / "run2"
    run.mkdir(parents=True)
    dump_recipe(load_recipe(AFHQ, ["output_dir=runs/original"]), run / "recipe.resolved.yaml")
    assert load_recipe(run).output_dir == str(run)
    assert load_recipe(run, ["output_dir=elsewhere"]).output_dir == "elsewhere"  # an explicit override wins


def test_an_empty_output_dir_is_refused(tmp_path):
    with pytest.raises(RecipeError, match="output_dir is empty"):
        load_recipe(AFHQ, ["output_dir="])
