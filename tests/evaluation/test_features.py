"""Feature extractors (random weights), weights files, the official FID input, and the real-feature cache."""

from __future__ import annotations

import os

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file
from tiny import TinyFeatures, make_dataset

from ganzoo.build import create
from ganzoo.data import find_images
from ganzoo.errors import CheckpointError
from ganzoo.evaluation.features import real_features
from ganzoo.interfaces import FeatureExtractor
from ganzoo.plugins.features.inception import stargan_v2_fid_input


def test_the_fid_input_matches_the_official_loader(parity_dir):
    fixture = load_file(str(parity_dir / "eval" / "eval.safetensors"))["fid_input"]
    paths = sorted((parity_dir / "eval" / "images").glob("img*.png"))
    ours = torch.stack([stargan_v2_fid_input(Image.open(p), 64) for p in paths])
    assert ours.shape == fixture.shape == (4, 3, 299, 299)
    assert (ours - fixture).abs().max() <= 1e-5


def extractor(spec: dict, img_size: int = 16) -> FeatureExtractor:
    return create(spec, FeatureExtractor, img_size=img_size)


def features_of(net: FeatureExtractor, colours: list[tuple[int, int, int]]) -> torch.Tensor:
    return net(torch.stack([net.preprocess(Image.new("RGB", (20, 12), c)) for c in colours]))


def test_timm_features_with_random_or_file_weights(tmp_path):
    spec = {"name": "timm", "model": "resnet10t", "weights": "random", "input_size": 32}
    random_net = extractor(spec)
    features = features_of(random_net, [(200, 0, 0), (0, 0, 200)])
    assert features.shape == (2, random_net.num_features) and features.dtype == torch.float32
    assert not torch.equal(features[0], features[1])
    assert torch.equal(features, features_of(extractor(spec), [(200, 0, 0), (0, 0, 200)]))  # fixed random weights
    import timm
    state = timm.create_model("resnet10t").state_dict()
    save_file(state, str(tmp_path / "w.safetensors"))
    loaded = extractor({**spec, "weights": str(tmp_path / "w.safetensors")})
    assert torch.equal(loaded.net.conv1[0].weight, state["conv1.0.weight"])
    assert str(tmp_path / "w.safetensors") in loaded.identity()


def test_tf_inception_with_random_weights_gives_2048_features():
    net = extractor({"name": "inception_tf", "weights": "random"})
    image = net.preprocess(Image.new("RGB", (40, 30), (10, 200, 10)))
    assert image.shape == (3, 16, 16) and image.dtype == torch.uint8
    assert net(image[None]).shape == (1, 2048)


def test_torchvision_inception_with_random_weights_gives_2048_features():
    net = extractor({"name": "inception", "weights": "random"})
    assert features_of(net, [(1, 2, 3)]).shape == (1, 2048)


@pytest.mark.parametrize("name, needed", [("inception", "inception_v3_google-0cc3c7bd.pth"),
                                          ("inception_tf", "weights-inception-2015-12-05-6726825d.pth")])
def test_a_missing_weights_file_names_the_file_needed(tmp_path, name, needed):
    for weights in ("", str(tmp_path / "absent.pth")):
        with pytest.raises(CheckpointError, match=needed):
            extractor({"name": name, "weights": weights})


def test_an_unreachable_hub_path_says_so(monkeypatch):
    import huggingface_hub

    def offline(*args, **kwargs):
        raise OSError("offline")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    with pytest.raises(CheckpointError, match="Hugging Face Hub.*inception_v3_google-0cc3c7bd.pth"):
        extractor({"name": "inception", "weights": "hf-hub:someone/inception/weights.pth"})


def test_real_features_are_cached_until_a_file_changes(tmp_path):
    root = make_dataset(tmp_path / "data", {"a": (5, 1)})
    paths = find_images(root / "train" / "a", recursive=False)
    net, cache = TinyFeatures(), tmp_path / "cache"
    first = real_features(net, paths, what="a", device=torch.device("cpu"), directory=cache)
    assert net.images_seen == 5 and len(list(cache.glob("*.safetensors"))) == 1
    again = real_features(net, paths, what="a", device=torch.device("cpu"), directory=cache)
    assert net.images_seen == 5 and torch.equal(first, again)  # read back, not recomputed
    Image.new("RGB", (16, 16), (1, 2, 3)).save(paths[0])
    stat = paths[0].stat()
    os.utime(paths[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    changed = real_features(net, paths, what="a", device=torch.device("cpu"), directory=cache)
    assert net.images_seen == 10 and not torch.equal(first[0], changed[0]) and torch.equal(first[1:], changed[1:])
    fewer = real_features(net, paths[1:], what="a", device=torch.device("cpu"), directory=cache)
    assert net.images_seen == 14 and torch.equal(fewer, changed[1:])
