"""The four input cases of issue 10 (../shared/cases/{01,05,07,09}-*), as a user meets them at the command line.

- 01: an image size the networks cannot take stops ``run`` and ``bench`` with one line naming the nearest sizes.
- 05: 16-bit greyscale PNGs are trained on as the grey a viewer shows, not as white.
- 07: ``translate`` skips the hidden macOS files that training skips.
- 09: a domain whose every file is unreadable stops the run with one line, before anything is written, even with
  data-loading workers.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from ganzoo.cli import main
from ganzoo.data import UnreadableImageWarning

V2 = {
    "output_dir": "runs/r",
    "data": {"root": "data", "img_size": 16, "num_domains": 2, "dataset": {"name": "image_folder"}, "num_workers": 0},
    "method": {"name": "stargan_v2", "generator": {"name": "stargan_v2", "max_conv_dim": 16, "base_channels": 8},
               "mapping_network": {"name": "stargan_v2_mapping", "hidden_dim": 16},
               "style_encoder": {"name": "stargan_v2_encoder", "max_conv_dim": 16, "base_channels": 8},
               "discriminator": {"name": "stargan_v2", "max_conv_dim": 16, "base_channels": 8},
               "style_dim": 8, "latent_dim": 4},
    "train": {"batch_size": 2, "total_iters": 1, "sample_every": 1, "save_every": 1},
}
V1 = {**V2, "data": {**V2["data"], "dataset": {"name": "label_folder"}},
      "method": {"name": "stargan_v1", "generator": {"name": "stargan_v1", "conv_dim": 8, "repeat_num": 1},
                 "discriminator": {"name": "stargan_v1", "conv_dim": 8, "repeat_num": 4}, "multi_label": False}}
APPLEDOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(64)


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def ganzoo(capsys, *args: str) -> tuple[int, str]:
    """Run the command line in this process: (exit code, what it printed on stderr)."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().err


def recipe(config: dict, **data) -> str:
    Path("r.yaml").write_text(yaml.safe_dump({**config, "data": {**config["data"], **data}}))
    return "r.yaml"


def colour_folders(*domains: str, count: int = 2) -> None:
    for label, domain in enumerate(domains):
        folder = Path("data/train") / domain
        folder.mkdir(parents=True)
        for i in range(count):
            Image.new("RGB", (40, 40), (70 * i, 100, 200 if label == 0 else 20)).save(folder / f"{i}.png")


def files_under(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*")}


@pytest.mark.parametrize(("size", "nearest"), [(96, "64 or 128"), (100, "64 or 128"), (8, "16")])
@pytest.mark.parametrize("command", [["run"], ["bench", "--iters", "1", "--warmup", "0"]])
def test_01_an_unsupported_image_size_is_one_line_and_exit_2_before_anything_is_written(workdir, capsys, size,
                                                                                      nearest, command):
    colour_folders("a", "b")
    path = recipe(V2)
    before = files_under(workdir)
    code, err = ganzoo(capsys, command[0], path, f"data.img_size={size}", *command[1:])
    assert code == 2
    assert err.strip() == (f"Error: data.img_size={size} is not supported by StarGAN v2's generator: use a power of "
                           f"two >= 16 (nearest: {nearest}).")
    assert files_under(workdir) == before


def test_05_a_16_bit_png_is_trained_on_as_the_grey_a_viewer_shows(workdir, capsys):
    for domain, value in (("a", 30000), ("b", 50000)):  # 30000 / 257 = 116.7 and 50000 / 257 = 194.6
        folder = Path("data/train") / domain
        folder.mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((40, 40), value, np.uint16)).save(folder / f"{i}.png")
    assert Image.open("data/train/a/0.png").mode == "I;16"
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnreadableImageWarning)
        code, err = ganzoo(capsys, "run", recipe(V2))
    assert code == 0, err
    grid = np.asarray(Image.open("runs/r/samples/iter_0000001_latent.png"))
    sources = grid[2:18]  # the top row of the grid: the sources, domains a, b, a, b, ... (16 px, padding 2)
    assert (sources[:, 2:18] == 117).all() and (sources[:, 20:36] == 195).all()


def test_07_translate_skips_the_hidden_macos_files_that_training_skips(workdir, capsys):
    colour_folders("a", "b", count=3)
    photos = Path("photos")
    photos.mkdir()
    for i in range(2):
        Image.new("RGB", (40, 40), (200, 50 * i, 90)).save(photos / f"p{i}.png")
    for folder in (Path("data/train/a"), Path("data/train/b"), photos):
        for image in list(folder.glob("*.png")):
            (folder / f"._{image.name}").write_bytes(APPLEDOUBLE)
        (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(64))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnreadableImageWarning)  # no hidden file is even opened
        code, err = ganzoo(capsys, "run", recipe(V1))
        assert code == 0, err
        code, err = ganzoo(capsys, "translate", "runs/r", "--source", "photos", "--grid", "--out", "grid.png")
    assert code == 0 and err.strip() == "Wrote grid.png"
    grid = np.asarray(Image.open("grid.png"))
    assert grid.shape == (2 + 2 * 18, 2 + 3 * 18, 3)  # two rows (p0, p1): the source, then both classes
    assert (grid[2:18, 2:18] == [200, 0, 90]).all() and (grid[20:36, 2:18] == [200, 50, 90]).all()


def test_09_a_domain_of_unreadable_files_with_workers_is_one_line_before_the_run_folder(workdir, capsys):
    colour_folders("a", "b", count=3)
    for path in Path("data/train/b").glob("*.png"):
        path.write_bytes(os.urandom(100))
    with pytest.warns(UnreadableImageWarning) as found:
        code, err = ganzoo(capsys, "run", recipe(V2, num_workers=2), "train.total_iters=2")
    assert code == 2
    assert err.strip() == ("Error: Every image of domain 'b' in data/train is unreadable (the warnings above say "
                           "why): replace the files, e.g. download or extract them again, or remove them.")
    assert [str(w.message) for w in found] == [  # once each, counted, in the main process
        f"Skipping unreadable image data/train/b/{i}.png ({i + 1} skipped so far): cannot identify image file "
        f"'data/train/b/{i}.png'" for i in range(3)]
    assert not Path("runs").exists()
