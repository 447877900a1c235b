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
    save_model(run, {name: method.networks[name] for name in method.exported_networks},
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
    assert config["format_version"] == 1 and config["method"]["name"] == "stargan_v2" and config["num_domains"] == 2
    assert ganzoo.load_model(folder, device="cpu").path == folder
    assert not any(p.name.startswith(".tmp") for p in (tmp_path / "run").iterdir())


def edit_config(folder: Path, **changes) -> None:
    path = folder / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


@pytest.mark.parametrize("version, message", [
    (2, r"format_version 2: it was written by a newer ganzoo, and this one reads model folders up to version 1\. "
        r"Upgrade ganzoo"),
    ("one", r"format_version 'one', which no ganzoo writes \(this one reads version 1\)"),
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
                                              r"needs one weights file per exported network"):
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


def test_translate_needs_an_attribute_editor_and_names_the_methods_that_are(tmp_path):
    export(tmp_path / "run", "stargan_v2")
    with pytest.raises(GanzooError, match=r"\(stargan_v2\) does not edit labelled attributes, which `ganzoo "
                                          r"translate` does\. Methods that do: stargan_v1;"):
        translate(tmp_path / "run", tmp_path, tmp_path / "out.png", grid=True)


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
