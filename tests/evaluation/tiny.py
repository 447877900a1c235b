"""Test helpers: a tiny feature extractor that counts its constructions and images, a stub style translator, and
a tiny domain dataset on disk."""

from __future__ import annotations

import random
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from ganzoo.data import to_tensor
from ganzoo.interfaces import FeatureExtractor, NoOptions


class TinyFeatures(FeatureExtractor):
    """12 features: the 2x2 average colours of the image at 8x8. Counts constructions and images seen."""

    built = 0
    num_features = 12

    def __init__(self, config: NoOptions | None = None, *, img_size: int = 16) -> None:
        super().__init__()
        self.config, self.img_size, self.images_seen = NoOptions(), img_size, 0
        TinyFeatures.built += 1

    def preprocess(self, image: Image.Image) -> Tensor:
        return to_tensor(image.resize((8, 8)))

    def forward(self, x: Tensor) -> Tensor:
        self.images_seen += len(x)
        return F.adaptive_avg_pool2d(x, 2).flatten(1)


class StubTranslator:
    """A StyleTranslator whose styles are scalars: translate(x, s) = x + s. Records the references it is given."""

    def __init__(self) -> None:
        self.references: list[Tensor] = []

    def latent_styles(self, domains: Tensor, generator: torch.Generator) -> Tensor:
        return torch.randn(len(domains), 3, generator=generator).to(domains.device).mean(1) + domains

    def reference_styles(self, references: Tensor, domains: Tensor) -> Tensor:
        self.references.append(references)
        return references.mean((1, 2, 3))

    def translate_with_styles(self, x: Tensor, style: Tensor) -> Tensor:
        return x + style.view(-1, 1, 1, 1)


def make_dataset(root: Path, counts: dict[str, tuple[int, int]], size: int = 16, seed: int = 0) -> Path:
    """ROOT/train/<domain>/ and ROOT/val/<domain>/ with (train, val) random-colour PNGs per domain."""
    rng = random.Random(seed)
    for domain, (train, val) in counts.items():
        for split, n in (("train", train), ("val", val)):
            folder = root / split / domain
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                colour = tuple(rng.randrange(256) for _ in range(3))
                image = Image.new("RGB", (size, size), colour)
                image.putpixel((rng.randrange(size), rng.randrange(size)), (255, 255, 255))
                image.save(folder / f"img{i}.png")
    return root


def images_of(folder: Path, size: int) -> Tensor:
    from ganzoo.data import eval_transform, find_images

    return torch.stack([eval_transform(Image.open(p).convert("RGB"), size) for p in find_images(folder, recursive=False)])
