"""``ganzoo translate`` with a style translator (StarGAN v2): seeds, references, the all-domains grid and the
interpolation animation, on a tiny exported model (16 px: grid cells are 18 px with make_grid's padding)."""

from __future__ import annotations

import sys

import pytest
from PIL import Image

from ganzoo.cli import main
from ganzoo.errors import GanzooError, OutputError
from ganzoo.images import from_signed, to_pil
from ganzoo.pretrained import load_model
from ganzoo.translate import read_images, translate

from test_pretrained import export

CELL = 18


@pytest.fixture
def run(tmp_path):
    export(tmp_path / "run")
    for name, colour, size in (("a", "red", (40, 30)), ("b", "blue", (16, 16))):
        (tmp_path / "src").mkdir(exist_ok=True)
        Image.new("RGB", size, colour).save(tmp_path / "src" / f"{name}.png")
    (tmp_path / "ref").mkdir()
    for name, colour in (("r1", "green"), ("r2", "white"), ("r3", "yellow")):
        Image.new("RGB", (16, 16), colour).save(tmp_path / "ref" / f"{name}.png")
    return tmp_path


def test_target_seeds_grid_and_single_image(run):
    out = translate(run / "run", run / "src", run / "seeds.png", target="domain1", seed=4, num=3)
    with Image.open(out) as grid:
        assert grid.size == (2 + 4 * CELL, 2 + 3 * CELL)  # header row + 2 sources; source column + 3 seeds
    single = translate(run / "run", run / "src" / "a.png", run / "one.png", target="domain1", seed=4)
    model = load_model(run / "run", device="cpu")
    expected = to_pil(from_signed(model.translate(read_images(run / "src" / "a.png", 16), target="domain1", seed=4)[0]))
    with Image.open(single) as image:
        assert image.size == (16, 16) and image.tobytes() == expected.tobytes()


def test_all_domains_grid_and_reference_grid(run):
    with Image.open(translate(run / "run", run / "src", run / "grid.png", grid=True)) as grid:
        assert grid.size == (2 + 3 * CELL, 2 + 3 * CELL)  # source column + 2 domains; header + 2 sources
        header = grid.crop((2 + CELL, 2, 2 + CELL + 16, 2 + 16)).convert("L")
        assert header.getextrema()[0] < 128 < header.getextrema()[1]  # the domain name, dark on white
    with Image.open(translate(run / "run", run / "src", run / "ref.png", reference=run / "ref",
                              target="domain0")) as grid:
        assert grid.size == (2 + 4 * CELL, 2 + 3 * CELL)
        assert grid.getpixel((2 + CELL + 8, 2 + 8)) == (0, 128, 0)  # the first reference heads its column


def test_interpolation_as_gif_and_mp4(run, capsys):
    main(["translate", str(run / "run"), "--source", str(run / "src"), "--target", "domain1", "--num", "3",
          "--interpolate", "--out", str(run / "anim.gif")])
    with Image.open(run / "anim.gif") as gif:
        durations = []
        for index in range(gif.n_frames):  # Pillow merges equal frames (the held ones), adding their durations
            gif.seek(index)
            durations.append(gif.info["duration"])
        assert sum(durations) == 2 * (1 + 20 + 10) * 70  # two style changes, official video_ref easing, ~15 fps
        assert gif.size == (2 + 2 * CELL, 2 + 2 * CELL)  # the sources beside their translations
    main(["translate", str(run / "run"), "--source", str(run / "src" / "a.png"), "--reference", str(run / "ref"),
          "--target", "domain0", "--interpolate", "--out", str(run / "anim.mp4")])
    assert (run / "anim.mp4").read_bytes()[4:8] == b"ftyp"  # an MP4 container


def test_mp4_without_imageio_ffmpeg_says_what_to_install(run, monkeypatch):
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # as if not installed
    with pytest.raises(OutputError, match=r"anim\.mp4 needs imageio-ffmpeg: pip install imageio-ffmpeg"):
        translate(run / "run", run / "src", run / "anim.mp4", target="domain0", interpolate=True)
    assert not (run / "anim.mp4").exists()


def test_translate_errors(run):
    cases = [
        (dict(target="horse"), r"--target: 'horse' is not a domain of this model; its domains are: domain0, domain1"),
        (dict(reference=run / "ref"), "--target: no domain is not a domain"),
        (dict(target="domain0", grid=True), "Pass one of --attrs"),
        (dict(grid=True, interpolate=True), "--interpolate needs --target"),
        (dict(target="domain0", interpolate=True), r"x\.png: an animation is written as \.gif or \.mp4"),
        (dict(target="domain0", reference=run / "nowhere"), r"--reference .*nowhere does not exist"),
    ]
    for kwargs, message in cases:
        with pytest.raises(GanzooError, match=message):
            translate(run / "run", run / "src", run / "x.png", **kwargs)
    with pytest.raises(GanzooError, match="needs at least two styles"):
        translate(run / "run", run / "src", run / "x.gif", target="domain0", reference=run / "ref" / "r1.png",
                  interpolate=True)
