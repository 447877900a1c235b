"""The attribute-editing protocol (an :class:`~ganzoo.capabilities.AttributeEditor`: StarGAN v1; the paper's §4.5
measures classification accuracy of translations with a separately trained classifier).

The dataset is the run's labelled dataset plugin (``data.dataset``: ``paths``, ``labels`` (N, L) 0/1, ``domains``
the label names, ``multi_label``), read twice: its training split, and its held-out split (``val`` when the data
root has one, else ``test``: CelebA's official split, RaFD's folders). Then

- a *judge* classifier is trained on the training images (or read from its cache / a weights file,
  :mod:`ganzoo.evaluation.judge`); ``judge_accuracy`` is its accuracy on the held-out real images, which says how
  far its verdicts can be trusted;
- for every single-label change of the model's test grid (:meth:`AttributeEditor.grid_changes`, task name
  ``<label>=<value>``, e.g. ``Male=0``), the held-out images whose label differs from the target are translated
  (:meth:`AttributeEditor.edit`), quantised to 8 bits as saved images are, and
  - ``accuracy/<task>``: the share the judge classifies with the target value;
  - ``accuracy_aux/<task>``: the same by the model's own auxiliary classifier (:meth:`AttributeEditor.classify`),
    a second figure only;
  - ``FID/<task>``: FID of the translations against the *training* images that have the target value (their
    features cached on disk, :mod:`ganzoo.evaluation.features`);
- ``<metric>/mean``: the unweighted mean over tasks. A change no held-out image can undergo (every one already
  has the value) is listed under ``skipped`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import Tensor

from ..capabilities import AttributeEditor
from ..data import eval_transform
from ..errors import DataError
from ..interfaces import FeatureExtractor
from .features import Progress, extract, real_features, to_images
from .judge import Judge, accuracy
from .metrics import frechet_distance
from .protocol import load_images

METRICS = ("accuracy", "accuracy_aux", "FID")


@dataclass
class LabelledSplit:
    """One split of a labelled dataset: image files, their labels (N, L) float 0/1, and what it is in messages."""

    paths: list[Path]
    labels: Tensor
    what: str

    @classmethod
    def of(cls, dataset: Any, names: Sequence[str]) -> LabelledSplit:
        """The split a dataset plugin read; DataError when it has no per-image labels or other label names."""
        if not all(hasattr(dataset, key) for key in ("paths", "labels", "domains", "multi_label")):
            raise DataError(f"The attribute-editing evaluation needs a dataset with one set of per-image labels "
                            f"(celeba, label_folder, synthetic_labels); {type(dataset).__name__} has none. Pass "
                            f"--data with such a dataset's root.")
        if list(dataset.domains) != list(names):
            raise DataError(f"The dataset's labels ({', '.join(dataset.domains)}) differ from the model's "
                            f"({', '.join(names)}). Pass --data with the dataset the model was trained on.")
        return cls(list(dataset.paths), dataset.labels.float(), str(getattr(dataset, "source", "the dataset")))

    def images(self, img_size: int) -> Tensor:
        """The images (N, 3, S, S) in [-1, 1] at ``img_size``; DataError when an image cannot be read (labels and
        images must stay paired)."""
        images = load_images(self.paths, img_size, self.what)
        if len(images) != len(self.paths):
            raise DataError(f"{len(self.paths) - len(images)} images of {self.what} are unreadable (the warnings "
                            f"above name them); remove them so that images and labels stay paired.")
        return images


def task_name(change: dict[str, float]) -> str:
    """``Male=0`` for ``{"Male": 0.0}``."""
    (name, value), = change.items()
    return f"{name}={value:g}"


def sources_of(change: dict[str, float], names: Sequence[str], labels: Tensor) -> Tensor:
    """Mask (N,) bool of the images, labelled ``labels`` (N, L), that ``change`` alters: their label differs."""
    (name, value), = change.items()
    return labels[:, list(names).index(name)] != value


def quantise(images: Tensor, img_size: int) -> Tensor:
    """Translations (B, 3, S, S) as 8-bit images read back in [-1, 1] (as a saved and reloaded image), on the CPU."""
    return torch.stack([eval_transform(image, img_size) for image in to_images(images)])


@torch.no_grad()
def run_attribute_protocol(editor: AttributeEditor, names: Sequence[str], *, train: LabelledSplit,
                           held_out: LabelledSplit, held_out_images: Tensor, judge: Judge,
                           extractor: FeatureExtractor, img_size: int, device: torch.device, batch_size: int,
                           cache_dir: Path | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """The protocol's metrics (module doc) for ``editor`` (networks on ``device``, eval mode), with a trained
    ``judge``; ``held_out_images`` are ``held_out``'s images (N, 3, S, S) in [-1, 1]. Keys: ``accuracy/<task>``,
    ``accuracy_aux/<task>``, ``FID/<task>``, their ``/mean``, ``judge_accuracy``, ``num_real/<task>``,
    ``num_fake/<task>`` and ``skipped`` (tasks without a source image)."""
    results: dict[str, Any] = {"judge_accuracy": accuracy(judge.predict(held_out_images), held_out.labels,
                                                          judge.multi_label)}
    done, skipped = [], []
    for change in editor.grid_changes(names):
        task = task_name(change)
        (name, value), = change.items()
        index = list(names).index(name)
        sources = held_out_images[sources_of(change, names, held_out.labels)]
        if len(sources) == 0:
            skipped.append(task)
            continue
        fakes, aux = [], []
        for start in range(0, len(sources), batch_size):
            translated = editor.edit(sources[start:start + batch_size].to(device), change, names)[0]
            fakes.append(quantise(translated, img_size))
            aux.append(editor.classify(fakes[-1].to(device)).cpu())
        fake = torch.cat(fakes)
        results[f"accuracy/{task}"] = float((judge.predict(fake)[:, index] == value).float().mean())
        results[f"accuracy_aux/{task}"] = float((torch.cat(aux)[:, index] == value).float().mean())
        real_paths = [path for path, label in zip(train.paths, train.labels[:, index]) if label == value]
        real = real_features(extractor, real_paths, what=f"the training images with {task} in {train.what}",
                             device=device, directory=cache_dir, progress=progress)
        fake_features = extract(extractor, to_images(fake), device=device,
                                progress=progress)
        results[f"FID/{task}"] = frechet_distance(real, fake_features)
        results[f"num_real/{task}"], results[f"num_fake/{task}"] = len(real), len(fake)
        done.append(task)
    if not done:
        raise DataError(f"No held-out image of {held_out.what} can undergo any of the model's label changes.")
    for metric in METRICS:
        results[f"{metric}/mean"] = sum(results[f"{metric}/{task}"] for task in done) / len(done)
    results["skipped"] = skipped
    return results
