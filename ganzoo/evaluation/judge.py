"""The judge of attribute editing: an image classifier trained on a dataset's real labelled images, separately
from the model it grades (a model's own auxiliary classifier would be grading itself).

The judge is a timm model (default ``resnet10t``) with one logit per label, trained from a fixed random
initialisation at the model's image size: binary cross-entropy per label for independent attributes,
cross-entropy for exclusive classes; Adam, shuffled batches drawn from the judge's seed. Trained judges are
cached as ``<key>.safetensors`` (the state dict) and ``<key>.json`` (what it is and how well it does) in the
folder given (the run's ``eval/judges/``), keyed by :func:`ganzoo.evaluation.features.files_key` of the training
file list and the judge's settings and labels, so a judge is trained once per dataset and settings. A weights
file given instead is loaded as it is (a state dict of the same timm model with ``len(names)`` outputs).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from ..errors import CheckpointError, RecipeError
from ..seeding import register_stream
from ..weights import read_weights
from .features import files_key

JUDGE_STREAM = register_stream("eval.judge", 0x4A554447)  # "JUDG"


@dataclass
class JudgeSettings:
    """What the user chooses for the judge."""

    model: str = "resnet10t"
    #: a state dict of the trained judge; empty: train one (or read it from the cache)
    weights: str = ""
    epochs: int = 10
    lr: float = 1e-3
    batch_size: int = 32
    seed: int = 0


class Judge(nn.Module):
    """A timm classifier of ``len(names)`` labels: independent attributes (``multi_label``) or exclusive classes.
    ``identity`` says what it is (model, labels, where its weights come from) for the results JSON."""

    def __init__(self, settings: JudgeSettings, names: Sequence[str], multi_label: bool) -> None:
        super().__init__()
        import timm

        if not timm.is_model(settings.model):
            raise RecipeError(f"timm has no model {settings.model!r} for the judge classifier; pick one of "
                              f"timm.list_models() (e.g. resnet10t, resnet18).")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(settings.seed)
            self.net = timm.create_model(settings.model, pretrained=False, num_classes=len(names))
        self.settings, self.names, self.multi_label = settings, list(names), multi_label
        self.identity: dict[str, object] = {"model": settings.model, "labels": self.names,
                                            "multi_label": multi_label}

    def forward(self, images: Tensor) -> Tensor:
        """Logits (B, len(names)) float32 of images (B, 3, S, S) in [-1, 1]."""
        return self.net(images).float()

    def loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Mean BCE over labels and images (attributes) or cross-entropy (classes) of ``labels`` (B, L) 0/1."""
        if self.multi_label:
            return F.binary_cross_entropy_with_logits(logits, labels)
        return F.cross_entropy(logits, labels.argmax(1))

    @torch.no_grad()
    def predict(self, images: Tensor, batch_size: int = 64) -> Tensor:
        """Labels (B, L) float 0/1 on the CPU: attributes with a positive logit, or the most likely class."""
        self.eval()
        device = next(self.parameters()).device
        logits = torch.cat([self(images[i:i + batch_size].to(device)).cpu()
                            for i in range(0, len(images), batch_size)])
        if self.multi_label:
            return (logits > 0).float()
        return F.one_hot(logits.argmax(1), len(self.names)).float()


def accuracy(predicted: Tensor, labels: Tensor, multi_label: bool) -> float:
    """Share of correct labels: over every (image, attribute) for attributes, over images (top-1) for classes."""
    if multi_label:
        return float((predicted == labels).float().mean())
    return float((predicted.argmax(1) == labels.argmax(1)).float().mean())


def train_judge(judge: Judge, images: Tensor, labels: Tensor) -> None:
    """Train ``judge`` on ``images`` (N, 3, S, S) in [-1, 1] with ``labels`` (N, L) 0/1, in place."""
    s = judge.settings
    device = next(judge.parameters()).device
    optimizer = torch.optim.Adam(judge.parameters(), lr=s.lr)
    generator = JUDGE_STREAM.generator(s.seed)
    judge.train()
    for _ in range(s.epochs):
        for batch in torch.randperm(len(images), generator=generator).split(s.batch_size):
            if len(batch) < 2 and len(images) >= 2:  # batch norm cannot train on one image
                continue
            optimizer.zero_grad()
            judge.loss(judge(images[batch].to(device)), labels[batch].to(device)).backward()
            optimizer.step()
    judge.eval()


def load_or_train_judge(settings: JudgeSettings, names: Sequence[str], multi_label: bool, *, paths: Sequence[Path],
                        images: Tensor, labels: Tensor, cache: Path, device: torch.device) -> tuple[Judge, bool]:
    """The judge of ``names``: loaded from ``settings.weights``, else from ``cache``, else trained on the training
    images (``paths``, read as ``images`` (N, 3, S, S) in [-1, 1] with ``labels`` (N, L)) and cached. Returns the
    judge (eval mode, on ``device``) and whether it was trained now. CheckpointError for a weights file that is
    not such a judge's."""
    judge = Judge(settings, names, multi_label)
    if settings.weights:
        state = read_weights(settings.weights, what=f"The judge classifier ({settings.model})",
                             needed=f"a state dict of timm's {settings.model} with {len(names)} outputs")
        _load(judge, state, settings.weights)
        judge.identity["weights"] = str(settings.weights)
        return judge.to(device).eval(), False
    recipe = {**asdict(settings), "weights": "", "names": list(names), "multi_label": multi_label,
              "labels": hashlib.sha256(labels.numpy().tobytes()).hexdigest()[:16], "img_size": images.shape[-1]}
    key = files_key(recipe, paths)
    weights, card = cache / f"{key}.safetensors", cache / f"{key}.json"
    judge.identity["weights"] = str(weights)
    judge.to(device)
    if weights.is_file():
        _load(judge, load_file(str(weights)), str(weights))
        return judge.eval(), False
    train_judge(judge, images, labels)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = weights.with_name(f".tmp-{weights.name}")
    save_file({k: v.detach().cpu().contiguous() for k, v in judge.net.state_dict().items()}, str(tmp))
    os.replace(tmp, weights)
    card.write_text(json.dumps({**recipe, "num_train_images": len(images),
                                "train_accuracy": accuracy(judge.predict(images), labels, multi_label)}, indent=1))
    return judge, True


def _load(judge: Judge, state: dict[str, Tensor], source: str) -> None:
    try:
        judge.net.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{source} is not a state dict of timm's {judge.settings.model} with "
                              f"{len(judge.names)} outputs ({str(exc).splitlines()[0]}). Pass the judge's own "
                              f"weights file, or none to train one.") from None
