"""The attribute-editing protocol (StarGAN v1) of `ganzoo eval`: the grid's changes, the judge and its cache, the
accuracy and FID wiring with stubs, and the command end to end on a tiny generated labelled dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tiny import TinyFeatures

from ganzoo.cli import main
from ganzoo.errors import CheckpointError
from ganzoo.evaluation.attributes import LabelledSplit, run_attribute_protocol
from ganzoo.evaluation.judge import JudgeSettings, load_or_train_judge
from ganzoo.plugins.stargan_v1.edit import grid_changes
from ganzoo.plugins.stargan_v1.labels import LabelGroup, LabelLayout
from ganzoo.pretrained import ModelConfig, method_from_spec, save_model
from ganzoo.recipe import RESOLVED_NAME, dump_recipe, load_recipe

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
COLOURS = torch.tensor([[1.0, -1, -1], [-1, 1, -1], [-1, -1, 1]])  # class k: a plain image of colour k


def test_grid_changes_follow_the_test_grid():
    names = ["Black_Hair", "Blond_Hair", "Male", "angry", "happy"]
    layout = LabelLayout((LabelGroup(3, True), LabelGroup(2, False)))
    assert grid_changes(layout, names) == [{"Black_Hair": 1.0}, {"Blond_Hair": 1.0}, {"Male": 0.0}, {"Male": 1.0},
                                           {"angry": 1.0}, {"happy": 1.0}]


class ColourEditor:
    """Edits perfectly (paints the target class's colour); its own classifier always says class 0."""

    def grid_changes(self, names):
        return [{name: 1.0} for name in names]

    def edit(self, images, changes, names):
        (name, _), = changes.items()
        return [COLOURS[names.index(name)].view(1, 3, 1, 1).expand(len(images), 3, 8, 8).clone()]

    def classify(self, images):
        return torch.nn.functional.one_hot(torch.zeros(len(images), dtype=torch.long), 3).float()


class ColourJudge:
    """Classifies a plain image by its colour."""

    multi_label = False

    def predict(self, images):
        return torch.nn.functional.one_hot(images.mean((2, 3)).argmax(1), 3).float()


def labelled(tmp_path: Path, split: str, classes: list[int]) -> tuple[LabelledSplit, torch.Tensor]:
    from PIL import Image

    paths = []
    for i, k in enumerate(classes):
        path = tmp_path / split / f"{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        colour = tuple(int(255 * c) for c in COLOURS[k].add(1).div(2).tolist())
        Image.new("RGB", (8, 8), tuple(min(255, c + 3 * i) for c in colour)).save(path)
        paths.append(path)
    split_ = LabelledSplit(paths, torch.nn.functional.one_hot(torch.tensor(classes), 3).float(), split)
    return split_, split_.images(8)


def test_accuracy_counts_the_judges_verdict_on_the_target_and_fid_uses_the_target_class(tmp_path):
    train, _ = labelled(tmp_path, "train", [0, 0, 1, 1, 1, 2, 2])
    held_out, images = labelled(tmp_path, "val", [0, 1, 2, 2])
    names = ["r", "g", "b"]
    results = run_attribute_protocol(ColourEditor(), names, train=train, held_out=held_out, held_out_images=images,
                                     judge=ColourJudge(), extractor=TinyFeatures(img_size=8), img_size=8,
                                     device=torch.device("cpu"), batch_size=2, cache_dir=tmp_path / "cache")
    assert results["judge_accuracy"] == 1.0
    assert [results[f"accuracy/{n}=1"] for n in names] == [1.0, 1.0, 1.0]
    assert [results[f"accuracy_aux/{n}=1"] for n in names] == [1.0, 0.0, 0.0]  # the aux classifier says r always
    assert results["accuracy_aux/mean"] == pytest.approx(1 / 3)
    assert [results[f"num_fake/{n}=1"] for n in names] == [3, 3, 2]  # held-out images not of the target class
    assert [results[f"num_real/{n}=1"] for n in names] == [2, 3, 2]  # training images of the target class
    assert results["FID/r=1"] < 1.0 and results["skipped"] == []  # plain red vs nearly plain red images


def test_judge_is_trained_once_per_file_list_and_a_wrong_weights_file_is_refused(tmp_path):
    train, images = labelled(tmp_path, "train", [0, 1, 2, 0, 1, 2])
    settings = JudgeSettings(epochs=1, batch_size=3)
    kwargs = dict(paths=train.paths, images=images, labels=train.labels, cache=tmp_path / "judges",
                  device=torch.device("cpu"))
    first, trained = load_or_train_judge(settings, ["r", "g", "b"], False, **kwargs)
    again, trained_again = load_or_train_judge(settings, ["r", "g", "b"], False, **kwargs)
    assert (trained, trained_again) == (True, False)
    assert torch.equal(first(images), again(images))
    assert len(list((tmp_path / "judges").glob("*.safetensors"))) == 1
    assert json.loads(next((tmp_path / "judges").glob("*.json")).read_text())["num_train_images"] == 6
    train.paths[0].touch()  # a changed file list trains a new judge
    assert load_or_train_judge(settings, ["r", "g", "b"], False, **kwargs)[1]
    weights = next((tmp_path / "judges").glob("*.safetensors"))
    with pytest.raises(CheckpointError, match="not a state dict of timm's resnet10t with 2 outputs"):
        load_or_train_judge(JudgeSettings(weights=str(weights)), ["r", "g"], False, **kwargs)


def test_ganzoo_eval_of_a_stargan_v1_run(tmp_path, monkeypatch):
    monkeypatch.setenv("GANZOO_CACHE_DIR", str(tmp_path / "cache"))
    run = tmp_path / "run"
    recipe = load_recipe(FIXTURES / "tiny_stargan_v1.yaml", [f"output_dir={run}", f"data.root={tmp_path / 'data'}"])
    torch.manual_seed(0)
    method = method_from_spec(recipe.method, img_size=recipe.data.img_size, num_domains=recipe.data.num_domains)
    from ganzoo.run_state import build_dataset

    domains = build_dataset(recipe, "train", augment=False).domains  # generates the synthetic data
    save_model(run / "model", {name: method.networks[name] for name in method.exported_networks},
               ModelConfig.for_recipe(recipe, domains))
    dump_recipe(recipe, run / RESOLVED_NAME)
    args = ["eval", str(run), "--extractor", "timm:resnet10t", "--feature-weights", "random", "--judge-epochs", "2"]
    main([*args, "--out", str(tmp_path / "a.json")])
    main([*args, "--out", str(tmp_path / "b.json")])
    first, second = (json.loads((tmp_path / f"{n}.json").read_text()) for n in "ab")
    tasks = [f"{d}=1" for d in domains]
    assert sorted(k for k in first if k.startswith("FID/")) == sorted([*(f"FID/{t}" for t in tasks), "FID/mean"])
    assert first["protocol"] == "attribute_editing" and first["held_out_split"] == "val"
    assert [first[f"num_fake/{t}"] for t in tasks] == [4, 4, 4]  # 2 held-out images of each other class
    assert [first[f"num_real/{t}"] for t in tasks] == [6, 6, 6] and first["num_generated"] == 12
    for key in ("accuracy/mean", "accuracy_aux/mean", "judge_accuracy"):
        assert 0.0 <= first[key] <= 1.0
    assert first["judge"]["trained_now"] and not second["judge"]["trained_now"]  # trained once, then cached
    assert first["judge_accuracy"] == second["judge_accuracy"] and first["FID/mean"] == second["FID/mean"]
    assert first["judge"]["model"] == "resnet10t" and first["extractor"].startswith("timm(resnet10t")
