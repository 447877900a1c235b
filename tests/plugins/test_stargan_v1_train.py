"""StarGAN v1 end to end: short runs through ``ganzoo.trainer.train`` on synthetic, CelebA-like and joint data,
exact resume, the shipped recipes, and ``ganzoo translate`` on a trained run (exit codes, outputs)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image
from stargan_v1_data import write_celeba, write_rafd

from ganzoo.errors import GanzooError
from ganzoo.recipe import load_recipe
from ganzoo.trainer import train
from ganzoo.pretrained import load_model
from ganzoo.translate import translate

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "tests" / "fixtures" / "tiny_stargan_v1.yaml"


def tiny(tmp_path: Path, *overrides: str):
    return load_recipe(TINY, [f"output_dir={tmp_path / 'run'}", f"data.root={tmp_path / 'data'}", *overrides])


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A finished tiny run (synthetic shapes, 3 classes) whose model/ the translate tests use."""
    root = tmp_path_factory.mktemp("v1")
    summary = train(tiny(root), record_losses=True)
    (root / "losses.json").write_text(json.dumps(summary.losses))
    return root


def test_run_folder_schedule_and_exported_model(trained):
    run = trained / "run"
    assert sorted(p.name for p in (run / "model").iterdir()) == [
        "config.json", "discriminator.safetensors", "generator.safetensors"]
    assert (run / "samples" / "iter_0000004_translations.png").is_file()
    with Image.open(run / "samples" / "iter_0000004_translations.png") as grid:  # 8 rows: source + 3 classes
        assert grid.size == (2 + 4 * 18, 2 + 8 * 18)
    losses = json.loads((trained / "losses.json").read_text())
    assert [any(k.startswith("g/") for k in step) for step in losses] == [False, True, False, True]  # n_critic 2
    assert set(losses[1]) == {"d/total", "d/real", "d/fake", "d/cls", "d/gp", "g/total", "g/fake", "g/cls", "g/rec"}
    state = json.loads((run / "checkpoints" / "iter_0000004" / "state.json").read_text())
    assert state["method"] == {"lr_scale": 0.0}  # decayed to 0 at the end (start 2, over 2 iterations)
    assert "g/rec=" in (run / "train.log").read_text().splitlines()[0]


def test_resume_continues_exactly(tmp_path):
    straight = train(tiny(tmp_path / "a", "train.total_iters=5"), record_losses=True)
    first = train(tiny(tmp_path / "b", "train.total_iters=3"), record_losses=True)
    resumed = train(tiny(tmp_path / "b", "train.total_iters=5"), record_losses=True)
    assert resumed.start_iteration == 3 and first.losses + resumed.losses == straight.losses
    for (name, a), b in zip(straight.method.networks.state_dict().items(), resumed.method.networks.state_dict().values()):
        assert torch.equal(a, b), name


def test_celeba_and_joint_runs(tmp_path):
    write_celeba(tmp_path / "data" / "celeba", count=10)
    write_rafd(tmp_path / "data" / "rafd", per_class=2)
    attrs = "[Black_Hair,Blond_Hair,Brown_Hair,Male,Young]"
    celeba = train(tiny(tmp_path / "c", f"data.root={tmp_path / 'data' / 'celeba'}", "data.num_domains=5",
                        f"data.dataset={{name: celeba, attrs: {attrs}, crop_size: 16, test_images: 2}}",
                        "method.multi_label=true", "train.total_iters=2"), record_losses=True)
    assert celeba.end_iteration == 2 and celeba.losses[1]["d/cls"] > 0
    joint = train(tiny(tmp_path / "j", f"data.root={tmp_path / 'data'}", "data.num_domains=8",
                       f"data.dataset={{name: joint, rafd_root: rafd, celeba: {{attrs: {attrs}, test_images: 2}}}}",
                       "method.multi_label=true", "method.c2_dim=3", "train.total_iters=4"), record_losses=True)
    assert [any(k.startswith("g/") for k in step) for step in joint.losses] == [False, False, True, True]
    with Image.open(tmp_path / "j" / "run" / "samples" / "iter_0000004_translations.png") as grid:
        assert grid.size == (2 + 9 * 18, 2 + 8 * 18)  # source + 5 attribute changes + 3 classes


def test_dataset_that_does_not_fit_the_method_stops_before_training(tmp_path):
    with pytest.raises(GanzooError, match="do not fit method stargan_v1 .* Set method.multi_label"):
        train(tiny(tmp_path, "method.multi_label=true"))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("recipe", ["stargan_v1_celeba", "stargan_v1_rafd", "stargan_v1_celeba_rafd",
                                    "stargan_v1_quickstart"])
def test_shipped_recipes_build(recipe):
    from ganzoo.run_state import build_method

    method = build_method(load_recipe(REPO / "recipes" / f"{recipe}.yaml"))
    assert set(method.networks) == {"generator", "discriminator"}


def test_quickstart_recipe_trains(tmp_path):
    summary = train(load_recipe(REPO / "recipes" / "stargan_v1_quickstart.yaml", [
        f"output_dir={tmp_path / 'run'}", f"data.root={tmp_path / 'data'}", "train.total_iters=5",
        "data.dataset.images_per_domain=4", "data.dataset.val_per_domain=1", "train.batch_size=4"]))
    assert summary.end_iteration == 5 and (tmp_path / "run" / "model" / "generator.safetensors").is_file()


# --- ganzoo translate ---------------------------------------------------------------------------------------------

def ganzoo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ganzoo", *args], capture_output=True, text=True, timeout=120)


def test_translate_cli_writes_rows_and_reports_errors(trained, tmp_path):
    run, source = trained / "run", trained / "data" / "val" / "0_red_circle"
    ok = ganzoo("translate", str(run), "--source", str(source), "--attrs", "2_blue_triangle=1",
                "--out", str(tmp_path / "out.png"))
    assert ok.returncode == 0, ok.stderr
    with Image.open(tmp_path / "out.png") as image:
        assert image.size == (2 + 2 * 18, 2 + 2 * 18)  # 2 source images: each, then its edit
    unknown = ganzoo("translate", str(run), "--source", str(source), "--attrs", "Blond_Hair=1", "--out",
                     str(tmp_path / "x.png"))
    assert unknown.returncode == 2
    assert "Unknown attribute 'Blond_Hair'. This model's labels are: 0_red_circle, 1_green_square" in unknown.stderr


def test_translate_grid_and_errors(trained, tmp_path):
    run, image = trained / "run", trained / "data" / "val" / "1_green_square" / "00000.png"
    translate(run, image, tmp_path / "grid.png", grid=True)
    with Image.open(tmp_path / "grid.png") as grid:
        assert grid.size == (2 + 4 * 18, 2 + 18)  # the source, then every class
    (tmp_path / "broken.png").write_bytes(b"not an image")
    (tmp_path / "empty").mkdir()
    cases = [
        (dict(source=image, attrs="0_red_circle=2"), "exclusive classes: name exactly one, with the value 1"),
        (dict(source=image, attrs="0_red_circle"), "is not NAME=VALUE"),
        (dict(source=tmp_path / "broken.png", grid=True), "No readable image in --source .*broken.png"),
        (dict(source=tmp_path / "empty", grid=True), "No images in"),
        (dict(source=tmp_path / "nowhere.png", grid=True), "does not exist"),
        (dict(source=image), "Pass one of --attrs"),
        (dict(source=image, attrs="0_red_circle=1", grid=True), "Pass one of --attrs"),
    ]
    for kwargs, message in cases:
        with pytest.raises(GanzooError, match=message):
            translate(run, out=tmp_path / "x.png", **kwargs)
    with pytest.raises(GanzooError, match="has no exported model"):
        translate(tmp_path, image, tmp_path / "x.png", grid=True)
    model = load_model(run)
    assert model.domains == ["0_red_circle", "1_green_square", "2_blue_triangle"]
    assert not model.method.networks["generator"].training
