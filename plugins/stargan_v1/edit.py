"""Target labels for attribute editing: the official test grid and user edits like ``Blond_Hair=1,Male=0``.

Both start from *source labels*, one group-local tensor (B, size) per label group: the dataset's labels
for training sample grids, the discriminator's predictions at inference (``ganzoo translate``).
Hair colours (``Black_Hair``, ``Blond_Hair``, ``Brown_Hair``, ``Gray_Hair``) stay exclusive: setting one
clears the others, as the official ``create_labels`` does.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from torch import Tensor

from ganzoo.errors import GanzooError

from .labels import LabelLayout

HAIR_COLOURS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")


def _set_attribute(labels: Tensor, index: int, value: float, names: Sequence[str]) -> None:
    """Set attribute ``index`` of group-local ``labels`` in place; turning a hair colour on turns the others off."""
    if value == 1 and names[index] in HAIR_COLOURS:
        labels[:, [i for i, name in enumerate(names) if name in HAIR_COLOURS]] = 0
    labels[:, index] = value


def grid_conditions(layout: LabelLayout, sources: Sequence[Tensor], names: Sequence[str] | None) -> list[Tensor]:
    """The official test targets, one condition batch per label of every group, in label order.

    Attributes: a hair colour is set (the other hair colours cleared), any other attribute is flipped.
    Classes: every class in turn. ``names`` (all label names, None if unknown) identify hair colours.
    """
    conditions = []
    for group, labels in enumerate(sources):
        local_names = list(names[layout.block(group)]) if names is not None else [""] * labels.size(1)
        for i in range(labels.size(1)):
            if not layout.groups[group].multi_label:
                target = layout.one_hot(group, labels.new_full((labels.size(0),), i).long())
            elif local_names[i] in HAIR_COLOURS:
                target = labels.clone()
                _set_attribute(target, i, 1.0, local_names)
            else:
                target = labels.clone()
                target[:, i] = 1 - target[:, i]
            conditions.append(layout.encode(group, target))
    return conditions


def grid_changes(layout: LabelLayout, names: Sequence[str]) -> list[dict[str, float]]:
    """The changes of :func:`grid_conditions` as ``edit`` takes them, one label and one target value each, in
    label order: a hair colour set to 1, any other attribute set to 0 and to 1 (the grid's flip, either way), a
    class chosen with 1."""
    changes: list[dict[str, float]] = []
    for group in range(len(layout.groups)):
        for name in names[layout.block(group)]:
            multi = layout.groups[group].multi_label and name not in HAIR_COLOURS
            changes.extend({name: value} for value in ((0.0, 1.0) if multi else (1.0,)))
    return changes


def edited_condition(layout: LabelLayout, sources: Sequence[Tensor], changes: Mapping[str, float],
                     names: Sequence[str]) -> Tensor:
    """The condition batch that applies ``changes`` (label name -> value) to the source labels.

    All named labels must belong to one group (one dataset, in joint training); attributes take 0 or 1
    and unnamed ones keep their source value; a class is chosen by naming it with 1.
    """
    if not changes:
        raise GanzooError("No attribute to change: pass --attrs NAME=VALUE[,NAME=VALUE...].")
    unknown = [name for name in changes if name not in names]
    if unknown:
        raise GanzooError(f"Unknown attribute {unknown[0]!r}. This model's labels are: {', '.join(names)}.")
    groups = {layout.group_of_label(list(names).index(name)) for name in changes}
    if len(groups) > 1:
        raise GanzooError("The named labels belong to different datasets of a jointly trained model; edit one "
                          "dataset's labels at a time.")
    group = groups.pop()
    local_names = list(names[layout.block(group)])
    target = sources[group].clone()
    if not layout.groups[group].multi_label:
        chosen = [name for name, value in changes.items() if value == 1]
        if len(changes) != 1 or len(chosen) != 1:
            raise GanzooError(f"{', '.join(local_names)} are exclusive classes: name exactly one, with the value 1 "
                              f"(e.g. {local_names[0]}=1).")
        classes = target.new_full((target.size(0),), local_names.index(chosen[0])).long()
        return layout.encode(group, layout.one_hot(group, classes))
    for name, value in changes.items():
        if value not in (0, 1):
            raise GanzooError(f"Attribute values are 0 or 1; got {name}={value:g}.")
    if sum(1 for name, value in changes.items() if value == 1 and name in HAIR_COLOURS) > 1:
        raise GanzooError(f"Hair colours are exclusive: set at most one of {', '.join(HAIR_COLOURS)} to 1.")
    for name, value in sorted(changes.items(), key=lambda item: item[1]):  # the 1s last, so they win
        _set_attribute(target, local_names.index(name), float(value), local_names)
    return layout.encode(group, target)
