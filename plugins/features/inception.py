"""The two Inception-v3 feature extractors FID is computed with; their numbers differ, so every result names one.

- ``inception``: the StarGAN v2 protocol's network (``../shared/reference/stargan_v2.md`` §7,
  ``metrics/fid.py``): torchvision ``inception_v3`` with ImageNet weights, cut after the average pool (2048-d),
  blocks called directly so ``transform_input`` is not applied; input resized to the model's size and then to
  299x299 (PIL bilinear, twice), scaled to [0, 1] and ImageNet-normalised.
- ``inception_tf``: the TF-FID Inception (2015-12-05 graph) of pytorch-fid, clean-fid, TTUR and the StyleGAN
  papers, as torch-fidelity implements it (its resize to 299 and input scaling included); input is the 8-bit
  image at the model's size.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from ganzoo.interfaces import FeatureExtractor
from ganzoo.registry import register
from ganzoo.schema import option
from ganzoo.weights import RANDOM_WEIGHTS, fixed_random_init, read_weights

INCEPTION_SIZE = 299
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TORCHVISION_FILE = ("torchvision's ImageNet Inception-v3 weights, inception_v3_google-0cc3c7bd.pth from "
                    "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth")
TF_FILE = ("the TF-FID Inception weights converted to PyTorch, weights-inception-2015-12-05-6726825d.pth from "
           "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth "
           "(pytorch-fid's pt_inception-2015-12-05-6726825d.pth is the same network)")


def pixels(image: Image.Image) -> Tensor:
    """8-bit RGB PIL image -> uint8 tensor (3, H, W)."""
    return torch.from_numpy(np.array(image.convert("RGB"), dtype=np.uint8)).permute(2, 0, 1)


def stargan_v2_fid_input(image: Image.Image, img_size: int) -> Tensor:
    """The official StarGAN v2 FID loader (``metrics/fid.py``, ``core/data_loader.py``): resize to
    (img_size, img_size) then (299, 299), PIL bilinear both times, to [0, 1], ImageNet mean/std. Returns float32
    (3, 299, 299)."""
    image = image.convert("RGB").resize((img_size, img_size), Image.Resampling.BILINEAR)
    image = image.resize((INCEPTION_SIZE, INCEPTION_SIZE), Image.Resampling.BILINEAR)
    mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (pixels(image).float().div(255) - mean) / std


@register("feature_extractor", "inception")
class InceptionTorchvision(FeatureExtractor):
    """torchvision Inception-v3 cut after the average pool (2048-d): the StarGAN v2 protocol's FID network."""

    @dataclass
    class Config:
        weights: str = option("", "Weights: a .pth/.safetensors file, hf-hub:OWNER/REPO/FILE, or 'random' (tests). "
                                  "Needed: inception_v3_google-0cc3c7bd.pth.")

    num_features = 2048
    #: random weights (the network is Inception-v3 at 299 px whatever the options; ~3 s on one CPU core)
    small_options = {"weights": RANDOM_WEIGHTS}

    def __init__(self, config: Config, *, img_size: int) -> None:
        super().__init__()
        from torchvision.models import inception_v3

        self.config, self.img_size = config, img_size
        state = None if config.weights == RANDOM_WEIGHTS else read_weights(
            config.weights, what="The 'inception' feature extractor", needed=TORCHVISION_FILE)
        with fixed_random_init():
            net = inception_v3(weights=None, aux_logits=True, transform_input=False, init_weights=state is None)
        if state is not None:
            net.load_state_dict(state)
        net.fc = nn.Identity()  # features are the average pool's output (dropout is the identity in eval mode)
        self.net = net.eval().requires_grad_(False)

    def preprocess(self, image: Image.Image) -> Tensor:
        """:func:`stargan_v2_fid_input`."""
        return stargan_v2_fid_input(image, self.img_size)

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, 299, 299) normalised images -> (B, 2048) float32 average-pool features."""
        return self.net(x).float()

    def identity(self) -> str:
        return f"inception(torchvision, weights={_weights_identity(self.config.weights)}, img_size={self.img_size})"


@register("feature_extractor", "inception_tf")
class InceptionTF(FeatureExtractor):
    """The TF-FID Inception (pytorch-fid, clean-fid, StyleGAN papers) through torch-fidelity, 2048-d pool features."""

    @dataclass
    class Config:
        weights: str = option("", "Weights: a .pth/.safetensors file, hf-hub:OWNER/REPO/FILE, or 'random' (tests). "
                                  "Needed: weights-inception-2015-12-05-6726825d.pth.")

    num_features = 2048
    #: random weights (the network is Inception-v3 at 299 px whatever the options; ~3 s on one CPU core)
    small_options = {"weights": RANDOM_WEIGHTS}

    def __init__(self, config: Config, *, img_size: int) -> None:
        super().__init__()
        self.config, self.img_size = config, img_size
        state = None if config.weights == RANDOM_WEIGHTS else read_weights(
            config.weights, what="The 'inception_tf' feature extractor", needed=TF_FILE)
        with fixed_random_init():
            self.net = _fidelity_inception(state)

    def preprocess(self, image: Image.Image) -> Tensor:
        """The image at the model's size (PIL bilinear when it differs) as uint8 (3, img_size, img_size);
        torch-fidelity resizes it to 299 inside, as the TF graph did."""
        image = image.convert("RGB")
        if image.size != (self.img_size, self.img_size):
            image = image.resize((self.img_size, self.img_size), Image.Resampling.BILINEAR)
        return pixels(image)

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) uint8 images -> (B, 2048) float32 pool features."""
        return self.net(x)[0].float()

    def identity(self) -> str:
        return f"inception_tf(torch-fidelity, weights={_weights_identity(self.config.weights)}, img_size={self.img_size})"


def _fidelity_inception(state: dict[str, Tensor] | None) -> nn.Module:
    """torch-fidelity's TF Inception holding ``state`` (None: its random initialisation).

    Its constructor insists on unpickling a weights file with ``weights_only=False``; we hand it an empty dict we
    wrote ourselves and load the tensors, read safely by :func:`ganzoo.weights.read_weights`, afterwards."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class Loaded(FeatureExtractorInceptionV3):
        def load_state_dict(self, state_dict, strict=True, assign=False):  # the constructor's call: ours follows
            return None

    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty.pth"
        torch.save({}, empty)
        net = Loaded("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(empty))
    if state is not None:
        nn.Module.load_state_dict(net, state)
    return net.eval().requires_grad_(False)


def _weights_identity(spec: str) -> str:
    """The weights spec plus the file's size and mtime when it is a local file (a replaced file is a new extractor)."""
    path = Path(spec).expanduser()
    if path.is_file():
        stat = path.stat()
        return f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    return spec
