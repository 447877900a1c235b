"""ganzoo writes only inside the run folder (``output_dir``), and the generated synthetic data inside ``data.root``:
no name that a recipe, a dataset or a method chooses can send a write elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from PIL import Image

from ganzoo.errors import GanzooError
from ganzoo.images import file_name_part, sample_path
from ganzoo.plugins.stargan_v2.method import StarGANv2
from ganzoo.recipe import load_recipe
from ganzoo.trainer import train

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "tiny.yaml"


@pytest.mark.parametrize("name", ["../escaped", "a/b", "/etc/passwd", "..", ".", "", "a\\b", "..\\escaped",
                                  "nul\0byte"])
def test_a_name_that_would_leave_its_folder_is_refused(name):
    with pytest.raises(GanzooError, match="cannot be part of a file name"):
        sample_path("samples", 7, name)


@pytest.mark.parametrize("name", ["latent", "x..", "...", "-rf", "naïve grid", "iter_0000001_latent.png"])
def test_a_plain_name_stays_in_its_folder(name):
    assert file_name_part(name, "name") == name
    path = sample_path(Path("run") / "samples", 7, name)
    assert path.parent == Path("run") / "samples" and path.name == f"iter_0000007_{name}.png"


def _snapshot(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def _tiny(tmp_path: Path, **data) -> Path:
    """tiny.yaml with its run folder in tmp_path/out/run and the given data settings."""
    raw = yaml.safe_load(TINY.read_text())
    raw["output_dir"] = str(tmp_path / "out" / "run")
    raw["data"].update(data)
    raw["train"].update(total_iters=2, sample_every=1, save_every=1)
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(raw))
    return tmp_path / "r.yaml"


def test_a_run_on_odd_domain_names_writes_only_in_its_run_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    domains = ["-rf", "a\\b", "iter_0000001_latent.png"]  # a leading dash, a backslash, a sample grid's file name
    for label, domain in enumerate(domains):
        folder = tmp_path / "data" / "train" / domain
        folder.mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (16, 16), (80 * label, 60 * i, 100)).save(folder / f"{i}.png")
    recipe = load_recipe(_tiny(tmp_path, root=str(tmp_path / "data"), num_domains=3, dataset={"name": "image_folder"}))
    before = _snapshot(tmp_path)
    summary = train(recipe)
    assert summary.end_iteration == 2
    written = _snapshot(tmp_path) - before
    assert written and all(path.is_relative_to(tmp_path / "out" / "run") for path in written), written
    assert (tmp_path / "out" / "run" / "samples" / "iter_0000002_latent.png").is_file()


def test_generated_synthetic_data_is_written_only_under_data_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recipe = load_recipe(_tiny(tmp_path, root=str(tmp_path / "synthetic" / "shapes")))
    before = _snapshot(tmp_path)
    train(recipe)
    written = _snapshot(tmp_path) - before
    places = (tmp_path / "out" / "run", tmp_path / "synthetic" / "shapes")
    assert all(any(path.is_relative_to(place) for place in places) for path in written), written
    assert list((tmp_path / "synthetic").iterdir()) == [tmp_path / "synthetic" / "shapes"]  # no partial copy left


def test_a_sample_grid_named_to_escape_is_refused_and_nothing_escapes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(StarGANv2, "sample_grids", lambda self, networks, batch, ctx: {
        "x/../../../../escaped": torch.zeros(3, 4, 4)})  # samples/iter_0000001_x/../../../../ is tmp_path
    recipe = load_recipe(_tiny(tmp_path, root=str(tmp_path / "synthetic")))
    before = _snapshot(tmp_path)
    with pytest.raises(GanzooError, match="Sample grid name 'x/../../../../escaped' cannot be part of"):
        train(recipe)
    written = _snapshot(tmp_path) - before
    places = (tmp_path / "out" / "run", tmp_path / "synthetic")
    assert all(any(path.is_relative_to(place) for place in places) for path in written), written
    assert not list(tmp_path.rglob("*escaped*"))
