"""StarGAN v1 label vectors: one or more label groups, joined by the paper's mask vector.

A *group* is one dataset's labels: independent binary attributes (CelebA, ``multi_label``) or exclusive
classes (RaFD, one-hot). With one group the generator's condition is that group's vector. With several
(joint training) it is ``[c_1 | c_2 | ... | mask]``: every group's block, zeros for the groups a
sample has no labels for, and a one-hot mask naming the group that is known. The discriminator
classifies every group's labels, ``sum(sizes)`` logits, without the mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class LabelGroup:
    """One dataset's labels: how many, and whether they are independent attributes or exclusive classes."""

    size: int
    multi_label: bool


@dataclass(frozen=True)
class LabelLayout:
    """The groups, in order, and where each lives in the condition vector and in the classifier's logits."""

    groups: tuple[LabelGroup, ...]

    @property
    def num_classes(self) -> int:
        """Logits of the discriminator's classification head."""
        return sum(group.size for group in self.groups)

    @property
    def mask_dim(self) -> int:
        """Mask-vector size: one bit per group when there are several, none otherwise."""
        return len(self.groups) if len(self.groups) > 1 else 0

    @property
    def condition_dim(self) -> int:
        """Size of the generator's condition vector (labels + mask)."""
        return self.num_classes + self.mask_dim

    def block(self, group: int) -> slice:
        """Where ``group``'s labels sit, in the condition vector and in the classifier's logits alike."""
        start = sum(g.size for g in self.groups[:group])
        return slice(start, start + self.groups[group].size)

    def group_of_label(self, index: int) -> int:
        """The group holding label ``index`` (a position in the classifier's logits)."""
        return next(g for g in range(len(self.groups)) if index < self.block(g).stop)

    def encode(self, group: int, labels: Tensor) -> Tensor:
        """Condition vectors (B, condition_dim) for samples labelled ``labels`` (B, size) in ``group``."""
        out = labels.new_zeros(labels.size(0), self.condition_dim)
        out[:, self.block(group)] = labels
        if self.mask_dim:
            out[:, self.num_classes + group] = 1
        return out

    def group_of(self, condition: Tensor) -> Tensor:
        """The (B,) group index of each condition vector, read from its mask."""
        if not self.mask_dim:
            return torch.zeros(condition.size(0), dtype=torch.long, device=condition.device)
        return condition[:, self.num_classes:].argmax(1)

    def one_hot(self, group: int, classes: Tensor) -> Tensor:
        """Group-local one-hot labels (B, size) of class indices (B,)."""
        return F.one_hot(classes, self.groups[group].size).float()

    def classification_loss(self, logits: Tensor, condition: Tensor) -> Tensor:
        """Mean over samples of each sample's loss on its own group's labels.

        Attributes: BCE summed over the group's attributes (the official ``sum / N``); classes: cross-entropy.
        """
        sample_group = self.group_of(condition) if self.mask_dim else None
        total = logits.new_zeros(logits.size(0))
        for index, group in enumerate(self.groups):
            part, target = logits[:, self.block(index)], condition[:, self.block(index)]
            if group.multi_label:
                loss = F.binary_cross_entropy_with_logits(part, target, reduction="none").sum(1)
            else:
                loss = F.cross_entropy(part, target.argmax(1), reduction="none")
            total = total + (loss if sample_group is None else torch.where(sample_group == index, loss, 0.0))
        return total.mean()

    def predict(self, logits: Tensor, group: int) -> Tensor:
        """Group-local labels (B, size) the classifier's ``logits`` say: attributes with a positive logit,
        or the most likely class."""
        part = logits[:, self.block(group)]
        if self.groups[group].multi_label:
            return (part > 0).float()
        return self.one_hot(group, part.argmax(1))
