"""StyleGAN end to end: short runs of each recipe at tiny sizes, exact resume, sample grids, the exported model,
``ganzoo sample`` (same seed, same images after a reload; its errors), ``ganzoo bench`` of the FFHQ recipe."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import pytest
import torch
from PIL import Image

from ganzoo.cli import main
from ganzoo.recipe import load_recipe
from ganzoo.run_state import build_method
from ganzoo.trainer import train

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "tests" / "fixtures" / "tiny_stylegan.yaml"
#: overrides that shrink either StyleGAN recipe to seconds
SHRINK = ["data.img_size=8", "method.generator.w_dim=8", "method.generator.fmap_base=16", "method.generator.fmap_max=8",
          "method.generator.mapping.num_layers=2", "method.discriminator.fmap_base=16",
          "method.discriminator.fmap_max=8", "method.latent_dim=4", "train.batch_size=2", "train.total_iters=2",
          "train.sample_every=2", "train.save_every=2", "data.num_workers=0"]


def tiny(tmp_path: Path, *overrides: str):
    return load_recipe(TINY, [f"output_dir={tmp_path / 'run'}", f"data.root={tmp_path / 'data'}", *overrides])


class Result(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def ganzoo(capsys, monkeypatch, tmp_path):
    """``ganzoo(*args)``: the CLI's entry point run in this process (in ``tmp_path``), as ``python -m ganzoo`` runs
    it, without a new interpreter's start-up: its exit code and captured output."""
    monkeypatch.chdir(tmp_path)

    def invoke(*args: object) -> Result:
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return invoke


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A finished tiny StyleGAN run folder."""
    root = tmp_path_factory.mktemp("stylegan")
    train(tiny(root))
    return root / "run"


def test_run_writes_grids_checkpoints_and_the_generator(run):
    assert {p.name for p in (run / "samples").iterdir()} == {
        f"iter_{i:07d}_{grid}.png" for i in (2, 4) for grid in ("psi_1", "psi_0.7")}
    assert Image.open(run / "samples" / "iter_0000004_psi_1.png").size == (2 + 8 * 10, 2 + 2 * 10)
    assert sorted(p.name for p in (run / "model").iterdir()) == ["config.json", "generator.safetensors"]
    assert json.loads((run / "model" / "config.json").read_text())["method"]["name"] == "stylegan"
    assert "d/reg=" in (run / "train.log").read_text()


def test_resume_continues_exactly(tmp_path):
    straight = train(tiny(tmp_path / "a", "train.total_iters=6"), record_losses=True)
    first = train(tiny(tmp_path / "b", "train.total_iters=3"), record_losses=True)
    resumed = train(tiny(tmp_path / "b", "train.total_iters=6"), record_losses=True)
    assert resumed.start_iteration == 3
    assert first.losses + resumed.losses == straight.losses
    for a, b in zip(straight.method.networks.state_dict().values(), resumed.method.networks.state_dict().values()):
        assert torch.equal(a, b)
    ema_a = load_file_tensors(tmp_path / "a" / "run" / "model" / "generator.safetensors")
    ema_b = load_file_tensors(tmp_path / "b" / "run" / "model" / "generator.safetensors")
    assert ema_a.keys() == ema_b.keys() and all(torch.equal(ema_a[k], ema_b[k]) for k in ema_a)
    # the EMA copy carries the generator's buffers: its w_avg is the trained generator's
    assert torch.equal(ema_a["mapping.w_avg"], straight.method.networks["generator"].mapping.w_avg)
    assert ema_a["mapping.w_avg"].abs().sum() > 0


def load_file_tensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file
    return load_file(str(path))


def test_quickstart_recipe_trains_at_tiny_size(tmp_path):
    recipe = load_recipe(REPO / "recipes" / "stylegan_quickstart.yaml",
                         [f"output_dir={tmp_path / 'run'}", f"data.root={tmp_path / 'data'}",
                          "data.dataset.images_per_domain=4", "data.dataset.val_per_domain=1",
                          "data.dataset.gen_size=16", *SHRINK])
    assert recipe.data.dataset.name == "synthetic" and recipe.data.num_domains == 3
    assert train(recipe).end_iteration == 2
    assert (tmp_path / "run" / "samples" / "iter_0000002_psi_0.7.png").is_file()


def test_ffhq_recipe_trains_at_tiny_size_on_an_image_root(tmp_path):
    for index, folder in enumerate(["a", "a/b", "c"]):
        (tmp_path / "faces" / folder).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (20, 20), (40 * index, 90, 200)).save(tmp_path / "faces" / folder / f"{index}.png")
    recipe = load_recipe(REPO / "recipes" / "stylegan_ffhq.yaml",
                         [f"output_dir={tmp_path / 'run'}", f"data.root={tmp_path / 'faces'}", *SHRINK])
    assert recipe.data.dataset.name == "image_root" and recipe.data.num_domains == 1
    assert train(recipe).end_iteration == 2
    assert (tmp_path / "run" / "model" / "generator.safetensors").is_file()


def test_sample_gives_the_same_images_for_the_same_seed_after_a_reload(run, tmp_path, ganzoo):
    for out in ("a.png", "b.png"):
        result = ganzoo("sample", run, "--num", 5, "--seed", 3, "--psi", 0.7, "--out", tmp_path / out)
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert Image.open(tmp_path / "a.png").size == (2 + 3 * 10, 2 + 2 * 10)  # 5 images: 3 per row
    result = ganzoo("sample", run / "model", "--num", 5, "--seed", 4, "--psi", 0.7, "--out", tmp_path / "c.png")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "a.png").read_bytes() != (tmp_path / "c.png").read_bytes()


def test_sample_writes_one_png_per_image_and_the_mixing_grid(run, tmp_path, ganzoo):
    assert ganzoo("sample", run, "--num", 3, "--out", f"{tmp_path / 'each'}/").returncode == 0
    assert sorted(p.name for p in (tmp_path / "each").iterdir()) == ["0000.png", "0001.png", "0002.png"]
    assert Image.open(tmp_path / "each" / "0000.png").size == (8, 8)
    assert ganzoo("sample", run, "--num", 2, "--mixing", "--out", tmp_path / "mix.png").returncode == 0
    # 8 px: columns A, B and "coarse from B" (the 4-8 px layers; no middle or fine layers at this size)
    assert Image.open(tmp_path / "mix.png").size == (2 + 3 * 10, 2 + 2 * 10)


def test_style_mixing_columns(run):
    from ganzoo.pretrained import load_model
    method = load_model(run, "cpu").method
    columns = method.style_mixing(2, torch.Generator().manual_seed(0), torch.Generator().manual_seed(1))
    assert list(columns) == ["A", "B", "coarse from B"]
    assert torch.equal(columns["A"], method.sample(2, torch.Generator().manual_seed(0)))
    assert torch.allclose(columns["coarse from B"], columns["B"])  # at 8 px every layer is coarse


@pytest.mark.parametrize("args, message", [
    (["{tmp}/nowhere", "--out", "x.png"], "has no exported model"),
    (["{run}", "--out", "x.jpg"], "is neither a .png file nor a folder"),
    (["{run}", "--mixing", "--out", "dir/"], "--mixing writes one grid"),
])
def test_sample_user_errors_exit_2(run, tmp_path, ganzoo, args, message):
    result = ganzoo("sample", *[a.format(tmp=tmp_path, run=run) for a in args])
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_sample_refuses_a_model_that_does_not_sample_from_noise(tmp_path, ganzoo):
    train(load_recipe(REPO / "tests" / "fixtures" / "tiny.yaml",
                      [f"output_dir={tmp_path / 'run'}", f"data.root={tmp_path / 'data'}", "train.total_iters=1"]))
    result = ganzoo("sample", tmp_path / "run", "--out", "x.png")
    assert result.returncode == 2 and "does not make images from noise" in result.stderr and "stylegan" in result.stderr


def test_bench_of_the_ffhq_recipe_at_64_px(tmp_path, ganzoo):
    """The command of docs/performance.md, with narrower networks so that it takes seconds here."""
    narrow = ["method.generator.fmap_max=16", "method.discriminator.fmap_max=16", "method.generator.w_dim=16",
              "method.latent_dim=16", "train.batch_size=2"]
    result = ganzoo("bench", REPO / "recipes" / "stylegan_ffhq.yaml", "data.img_size=64", *narrow, "--iters", 1,
                    "--warmup", 0)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["method"] == "stylegan" and figures["img_size"] == 64 and figures["s_per_iter"] > 0
    with torch.device("meta"):  # the parameter counts of the full-width networks, without their weights
        full = build_method(load_recipe(REPO / "recipes" / "stylegan_ffhq.yaml", ["data.img_size=64"]))
    assert {name: sum(p.numel() for p in net.parameters()) for name, net in full.networks.items()} == {
        "generator": 25_131_267, "discriminator": 26_488_833}
