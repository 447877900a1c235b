"""The exported model folder: written and read back through ``ganzoo.load_model`` with identical outputs, and
clear errors for folders it cannot read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

import ganzoo
from ganzoo.cli import main
from ganzoo.errors import CheckpointError, GanzooError
from ganzoo.method import StepContext
from ganzoo.pretrained import MODEL_DIR, ModelConfig, method_from_spec, save_model
from ganzoo.recipe import load_recipe
from ganzoo.translate import translate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY = {"stargan_v1": FIXTURES / "tiny_stargan_v1.yaml", "stargan_v2": FIXTURES / "tiny.yaml"}


def export(run: Path, family: str = "stargan_v2"):
    """A freshly initialised model of ``family``'s tiny recipe, exported to RUN/model/. Returns the method."""
    recipe = load_recipe(TINY[family])
    torch.manual_seed(0)
    method = method_from_spec(recipe.method, img_size=recipe.data.img_size, num_domains=recipe.data.num_domains)
    domains = [f"domain{i}" for i in range(recipe.data.num_domains)]
    save_model(run / MODEL_DIR, {name: method.networks[name] for name in method.exported_networks},
               ModelConfig.for_recipe(recipe, domains))
    return method


@pytest.mark.parametrize("family", sorted(TINY))
def test_round_trip_through_load_model_gives_identical_outputs(tmp_path, family):
    method = export(tmp_path / "run", family)
    torch.manual_seed(1)  # a loaded model does not depend on the global RNG
    model = ganzoo.load_model(tmp_path / "run", device="cpu")
    assert model.path == tmp_path / "run" / MODEL_DIR and model.device == torch.device("cpu")
    assert model.img_size == 16 and model.domains == [f"domain{i}" for i in range(len(model.domains))]
    assert type(model.method) is type(method) and set(model.networks) == set(method.exported_networks)
    assert not any(net.training for net in model.method.networks.values())
    batch = method.random_batch(2, torch.device("cpu"), torch.Generator().manual_seed(0))
    ctx = StepContext(iteration=0, seed=0, device=torch.device("cpu"), local_batch=2)
    expected = method.sample_grids({name: method.networks[name] for name in model.networks}, batch, ctx)
    got = model.method.sample_grids(model.networks, batch, ctx)
    assert expected.keys() == got.keys()
    for name in expected:
        assert torch.equal(expected[name], got[name]), name


def test_model_folder_itself_loads_and_has_a_versioned_config(tmp_path):
    export(tmp_path / "run")
    folder = tmp_path / "run" / MODEL_DIR
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json", "generator.safetensors", "mapping_network.safetensors", "style_encoder.safetensors"]
    config = json.loads((folder / "config.json").read_text())
    assert config["format_version"] == 2 and config["family"] == config["method"]["name"] == "stargan_v2"
    assert config["num_domains"] == 2 and config["img_size"] == 16 and config["domains"] == ["domain0", "domain1"]
    assert config["normalization"] == {"mean": [0.5] * 3, "std": [0.5] * 3} and config["license"] is None
    assert config["method"]["generator"]["max_conv_dim"] == 16 and config["method"]["style_dim"] == 8
    assert ganzoo.load_model(folder, device="cpu").path == folder
    assert not any(p.name.startswith(".tmp") for p in (tmp_path / "run").iterdir())


def edit_config(folder: Path, **changes) -> None:
    path = folder / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


@pytest.mark.parametrize("version, message", [
    (3, r"format_version 3: it was written by a newer ganzoo, and this one reads model folders up to version 2\. "
        r"Upgrade ganzoo"),
    ("one", r"format_version 'one', which no ganzoo writes \(this one reads versions 1, 2\)"),
    (0, r"format_version 0, which no ganzoo writes"),
])
def test_unknown_or_newer_format_version_is_refused(tmp_path, version, message):
    export(tmp_path / "run")
    edit_config(tmp_path / "run" / MODEL_DIR, format_version=version)
    with pytest.raises(CheckpointError, match=message):
        ganzoo.load_model(tmp_path / "run")


def test_missing_config_is_reported(tmp_path):
    with pytest.raises(CheckpointError, match=r"has no exported model \(neither .*config\.json nor "
                                              r".*model/config\.json exists\)\. Pass a run folder whose training "
                                              r"finished"):
        ganzoo.load_model(tmp_path)


def test_missing_or_foreign_weights_are_reported(tmp_path):
    export(tmp_path / "run")
    folder = tmp_path / "run" / MODEL_DIR
    (folder / "style_encoder.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"style_encoder\.safetensors is missing: the stargan_v2 model in .* "
                                              r"needs one weights file per network it loads"):
        ganzoo.load_model(folder)
    export(tmp_path / "run")
    edit_config(folder, method={**json.loads((folder / "config.json").read_text())["method"], "style_dim": 16})
    with pytest.raises(CheckpointError, match=r"generator\.safetensors does not fit the stargan_v2 model that "
                                              r".*config\.json describes \(.*of another shape"):
        ganzoo.load_model(folder)


def test_invalid_config_is_reported(tmp_path):
    export(tmp_path / "run")
    edit_config(tmp_path / "run" / MODEL_DIR, img_size="big")
    with pytest.raises(CheckpointError, match=r"config\.json is not a valid model config: img_size must be an integer"):
        ganzoo.load_model(tmp_path / "run")


def test_translate_needs_the_capability_and_names_the_methods_that_have_it(tmp_path):
    export(tmp_path / "run", "stargan_v2")
    Image.new("RGB", (20, 16)).save(tmp_path / "face.png")
    with pytest.raises(GanzooError, match=r"This stargan_v2 model cannot edit labelled attributes \(--attrs\)\. "
                                          r"Methods that can: stargan_v1;"):
        translate(tmp_path / "run", tmp_path / "face.png", tmp_path / "out.png", attrs="domain0=1")
    export(tmp_path / "v1", "stargan_v1")
    with pytest.raises(GanzooError, match=r"This stargan_v1 model cannot translate with a style \(--grid, --target, "
                                          r"--reference\)\. Methods that can: stargan_v2;"):
        translate(tmp_path / "v1", tmp_path / "face.png", tmp_path / "out.png", target="domain0")
    with pytest.raises(GanzooError, match=r"cannot translate with a style \(target=, reference=\)"):
        ganzoo.load_model(tmp_path / "v1").translate(Image.new("RGB", (8, 8)), target="domain0")


def test_version_1_folder_still_loads_and_export_rewrites_it_in_the_current_format(tmp_path):
    method = export(tmp_path / "run")
    folder = tmp_path / "run" / MODEL_DIR
    config = json.loads((folder / "config.json").read_text())
    v1 = {"format_version": 1, **{k: config[k] for k in ("method", "img_size", "num_domains", "domains")}}
    (folder / "config.json").write_text(json.dumps(v1))
    old = ganzoo.load_model(tmp_path / "run", device="cpu")
    assert old.config.source == "trained with ganzoo" and old.config.family == "stargan_v2"
    main(["export", str(tmp_path / "run"), str(tmp_path / "exported")])
    written = json.loads((tmp_path / "exported" / "config.json").read_text())
    assert written == {**config, "format_version": 2}
    assert "library_name: ganzoo" in (tmp_path / "exported" / "README.md").read_text()
    new = ganzoo.from_pretrained(tmp_path / "exported", device="cpu")
    image = torch.rand(1, 3, 16, 16) * 2 - 1
    assert torch.equal(new.translate(image, target="domain1", seed=3), old.translate(image, target="domain1", seed=3))
    for name, net in new.networks.items():
        assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(),
                                                     method.networks[name].state_dict().values())), name


def test_save_pretrained_round_trip_and_training_networks(tmp_path):
    export(tmp_path / "run")
    model = ganzoo.from_pretrained(tmp_path / "run", device="cpu")
    model.save_pretrained(tmp_path / "copy")
    assert ganzoo.from_pretrained(tmp_path / "copy").config == model.config
    with pytest.raises(CheckpointError, match=r"training/generator\.safetensors is missing: .* Copy the complete "
                                              r"model folder \(with its training networks\)"):
        ganzoo.load_model(tmp_path / "copy", training=True)
    torch.manual_seed(5)
    trained = method_from_spec(model.config.method, img_size=16, num_domains=2)
    save_model(tmp_path / "ft", model.networks, model.config, training_networks=dict(trained.networks))
    finetune = ganzoo.load_model(tmp_path / "ft", training=True)
    for name, net in trained.networks.items():
        assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(),
                                                     finetune.method.networks[name].state_dict().values())), name
    assert not torch.equal(finetune.networks["generator"].from_rgb.weight, model.networks["generator"].from_rgb.weight)


def test_inference_api_takes_and_returns_tensors_or_pil_images(tmp_path):
    export(tmp_path / "run")
    model = ganzoo.from_pretrained(tmp_path / "run", device="cpu")
    faces = [Image.new("RGB", (40, 30), "red"), Image.new("RGB", (16, 16), "blue")]
    out = model.translate(faces, target="domain1", seed=1)
    assert isinstance(out, list) and [im.size for im in out] == [(16, 16)] * 2
    single = model.translate(faces[0], target="domain1", seed=1)
    assert isinstance(single, Image.Image) and single.tobytes() == out[0].tobytes()
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    same, other = model.translate(x, target="domain1", seed=1), model.translate(x, target="domain1", seed=2)
    assert same.shape == (2, 3, 16, 16) and not torch.equal(same, other)
    assert torch.allclose(model.translate(x[0], target="domain1", seed=1), same[0], atol=1e-5)  # batch of 1 vs 2
    by_ref = model.translate(x, target="domain0", reference=x[1])
    style = model.method.reference_styles(x[1:], torch.tensor([0]))
    assert torch.allclose(by_ref, model.method.translate_with_styles(x, style.expand(2, -1)))
    frames = model.interpolate(x, "domain0", steps=4, seed=0, styles=3)
    assert len(frames) == 2 * (1 + 4 + 10)
    assert torch.equal(frames[0], model.translate(x, target="domain0", seed=0))
    assert torch.allclose(frames[-1], model.translate(x, target="domain0", seed=2), atol=1e-6)
    with pytest.raises(GanzooError, match=r"target: 'horse' is not a domain of this model; its domains are: domain0, "
                                          r"domain1\."):
        model.translate(x, target="horse")
    with pytest.raises(GanzooError, match=r"must be a \(B, 3, 16, 16\) or \(3, 16, 16\) tensor .* got shape "
                                          r"\(2, 3, 8, 8\)"):
        model.translate(x[:, :, :8, :8], target="domain0")


def test_import_ganzoo_is_light_and_bench_and_translate_do_not_import_the_trainer(tmp_path):
    """``import ganzoo`` needs no torch; timing a model and editing images never load the training loop."""
    export(tmp_path / "run", "stargan_v1")
    Image.new("RGB", (20, 16)).save(tmp_path / "face.png")
    script = f"""
import sys
import ganzoo
assert "torch" not in sys.modules, "import ganzoo imported torch"
from ganzoo.bench import bench
from ganzoo.recipe import load_recipe
from ganzoo.translate import translate
bench(load_recipe({str(TINY["stargan_v2"])!r}), iters=1, warmup=0)
translate({str(tmp_path / "run")!r}, {str(tmp_path / "face.png")!r}, {str(tmp_path / "grid.png")!r}, grid=True)
ganzoo.load_model({str(tmp_path / "run")!r})
assert "ganzoo.trainer" not in sys.modules, "ganzoo.trainer was imported"
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "grid.png").is_file()


def test_the_readme_snippet_runs(tmp_path, monkeypatch):
    """The README's two lines, on a tiny model exported where the quickstart's would be, with its domain names."""
    recipe = load_recipe(TINY["stargan_v2"])
    method = method_from_spec(recipe.method, img_size=16, num_domains=2)
    save_model(tmp_path / "runs" / "quickstart" / MODEL_DIR, {n: method.networks[n] for n in method.exported_networks},
               ModelConfig.for_recipe(recipe, ["0_red_circle", "1_green_square"]))
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    snippet = readme.split("```python\n")[1].split("```")[0]
    assert "ganzoo.from_pretrained(" in snippet and ".translate(" in snippet
    monkeypatch.chdir(tmp_path)
    scope = {"images": [Image.new("RGB", (30, 20), "red")]}
    exec(snippet, scope)
    assert scope["images"][0].size == (16, 16) and scope["model"].path == Path("runs/quickstart/model")
