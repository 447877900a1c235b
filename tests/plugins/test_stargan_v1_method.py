"""StarGAN v1 method pieces: schedules (n_critic, lr decay), label layouts and losses, edits, config errors."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from ganzoo.errors import GanzooError, RecipeError
from ganzoo.method import StepContext, run_phase
from ganzoo.plugins.stargan_v1 import LabelGroup, LabelLayout, StarGANv1
from ganzoo.plugins.stargan_v1.edit import edited_condition, grid_conditions
from ganzoo.schema import parse

NAMES = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")
JOINT = LabelLayout((LabelGroup(5, True), LabelGroup(3, False)))


def method(num_domains: int = 5, img_size: int = 16, **options) -> StarGANv1:
    tiny = {"generator": {"name": "stargan_v1", "conv_dim": 4, "repeat_num": 1},
            "discriminator": {"name": "stargan_v1", "conv_dim": 4, "repeat_num": 2}}
    return StarGANv1(parse(StarGANv1.Config, {**tiny, **options}), img_size=img_size, num_domains=num_domains)


# --- schedules ----------------------------------------------------------------------------------------------------

def test_generator_steps_every_n_critic_per_dataset():
    assert [i for i in range(12) if method().is_generator_step(i)] == [4, 9]
    joint = method(num_domains=8, c2_dim=3, n_critic=2)
    assert [i for i in range(10) if joint.is_generator_step(i)] == [2, 3, 6, 7]  # one per dataset


def test_lr_decay_paper_and_official():
    paper = method(lr_decay_start=100, lr_decay_iters=100, lr_update_step=10)
    assert [paper.lr_after(done) for done in (100, 109, 110, 150, 200, 250)] == [1.0, 1.0, 0.9, 0.5, 0.0, 0.0]
    official = method(lr_decay="official", lr_decay_start=100, lr_decay_iters=100, lr_update_step=10)
    assert official.lr_after(200) == pytest.approx(1 - 10 / 100)  # 10 updates of lr / 100: the official slip
    default = method(lr_decay="official")
    assert default.lr_after(200000) == pytest.approx(0.999)  # official 200k run: 1e-4 -> 9.99e-5


def test_lr_follows_the_schedule_and_the_state(tmp_path):
    m = method(lr_decay_start=0, lr_decay_iters=4, lr_update_step=1, g_lr=1e-3, d_lr=2e-3)
    optimizers = m.make_optimizers()
    m.end_iteration(0)
    assert optimizers["generator"].param_groups[0]["lr"] == pytest.approx(0.75e-3)
    assert optimizers["discriminator"].param_groups[0]["lr"] == pytest.approx(1.5e-3)
    resumed = method(lr_decay_start=0, lr_decay_iters=4, lr_update_step=1, g_lr=1e-3, d_lr=2e-3)
    fresh = resumed.make_optimizers()
    resumed.load_state_dict(m.state_dict())
    assert fresh["generator"].param_groups[0]["lr"] == pytest.approx(0.75e-3)


# --- labels and losses --------------------------------------------------------------------------------------------

def test_layout_sizes_mask_and_classification_loss():
    assert (JOINT.num_classes, JOINT.condition_dim, JOINT.mask_dim) == (8, 10, 2)
    celeba = JOINT.encode(0, torch.tensor([[1.0, 0, 0, 1, 0]]))
    rafd = JOINT.encode(1, JOINT.one_hot(1, torch.tensor([2])))
    assert celeba.tolist() == [[1, 0, 0, 1, 0, 0, 0, 0, 1, 0]] and rafd.tolist() == [[0] * 7 + [1, 0, 1]]
    logits = torch.randn(2, 8)
    condition = torch.cat([celeba, rafd])
    expected = (F.binary_cross_entropy_with_logits(logits[0, :5], celeba[0, :5], reduction="sum")
                + F.cross_entropy(logits[1:, 5:], torch.tensor([2]))) / 2
    assert torch.allclose(JOINT.classification_loss(logits, condition), expected)
    single = LabelLayout((LabelGroup(5, True),))
    labels = torch.randint(2, (4, 5)).float()
    assert torch.allclose(single.classification_loss(logits.repeat(2, 1)[:, :5], labels),
                          F.binary_cross_entropy_with_logits(logits.repeat(2, 1)[:, :5], labels, reduction="sum") / 4)


# --- editing ------------------------------------------------------------------------------------------------------

def test_official_test_targets_keep_hair_colours_exclusive():
    source = torch.tensor([[1.0, 0, 0, 1, 0]])  # black hair, male, not young
    layout = LabelLayout((LabelGroup(5, True),))
    targets = [t[0].tolist() for t in grid_conditions(layout, [source], NAMES)]
    assert targets == [[1, 0, 0, 1, 0], [0, 1, 0, 1, 0], [0, 0, 1, 1, 0], [1, 0, 0, 0, 0], [1, 0, 0, 1, 1]]
    joint = grid_conditions(JOINT, [source, JOINT.one_hot(1, torch.tensor([0]))], NAMES + ("a", "b", "c"))
    assert len(joint) == 8 and joint[5][0].tolist() == [0] * 5 + [1, 0, 0, 0, 1]


def test_edits_change_named_labels_and_keep_the_others():
    layout = LabelLayout((LabelGroup(5, True),))
    source = [torch.tensor([[1.0, 0, 0, 1, 1]])]
    edited = edited_condition(layout, source, {"Blond_Hair": 1, "Male": 0}, NAMES)
    assert edited.tolist() == [[0, 1, 0, 0, 1]]  # black hair cleared, young kept
    assert edited_condition(layout, source, {"Black_Hair": 0}, NAMES).tolist() == [[0, 0, 0, 1, 1]]
    rafd = edited_condition(JOINT, [source[0], torch.zeros(1, 3)], {"b": 1}, NAMES + ("a", "b", "c"))
    assert rafd.tolist() == [[0] * 5 + [0, 1, 0, 0, 1]]


@pytest.mark.parametrize("changes, message", [
    ({"Blond": 1}, "Unknown attribute 'Blond'. This model's labels are: Black_Hair, Blond_Hair"),
    ({"Male": 0.5}, "Attribute values are 0 or 1; got Male=0.5"),
    ({"Black_Hair": 1, "Blond_Hair": 1}, "Hair colours are exclusive"),
    ({"Male": 1, "a": 1}, "different datasets"),
    ({"a": 0}, "a, b, c are exclusive classes: name exactly one, with the value 1"),
    ({"a": 1, "b": 1}, "exclusive classes"),
    ({}, "No attribute to change"),
])
def test_edit_errors(changes, message):
    with pytest.raises(GanzooError, match=message):
        edited_condition(JOINT, [torch.zeros(1, 5), torch.zeros(1, 3)], changes, NAMES + ("a", "b", "c"))


# --- configuration errors and the benchmark path ------------------------------------------------------------------

def test_configuration_errors():
    with pytest.raises(RecipeError, match="data.img_size=20 is not supported by StarGAN v1's discriminator with "
                                          "method.discriminator.repeat_num=3: use a multiple of 2\\*\\*3 = 8 "
                                          "\\(nearest: 16 or 24\\)"):
        method(img_size=20, discriminator={"name": "stargan_v1", "repeat_num": 3})
    with pytest.raises(RecipeError, match="method.c2_dim=5 leaves no label for the first dataset"):
        method(c2_dim=5)
    with pytest.raises(GanzooError, match="dataset's labels \\(3 classes\\) do not fit method stargan_v1 "
                                          "\\(5 attributes\\). Set method.multi_label"):
        method().use_dataset(SimpleNamespace(label_layout=LabelLayout((LabelGroup(3, False),)), domains="abc"))
    with pytest.raises(GanzooError, match="not a StarGAN v1 dataset"):
        method().use_dataset(SimpleNamespace(domains="abcde"))


@pytest.mark.parametrize("options", [{}, {"multi_label": False}, {"c2_dim": 2}])
def test_random_batch_runs_one_d_and_one_g_step(options):
    m = method(**options)
    batch = m.random_batch(3, torch.device("cpu"), torch.Generator().manual_seed(0))
    assert batch["x"].shape == (3, 3, 16, 16) and batch["c_org"].shape == (3, m.layout.condition_dim)
    optimizers = m.make_optimizers()
    ctx = StepContext(iteration=0, seed=0, device=torch.device("cpu"), local_batch=3)
    phases = m.phases()
    assert [(p.name, p.steps) for p in phases] == [("d", ("discriminator",)), ("g", ("generator",))]
    for phase in phases:
        terms = run_phase(phase, m.networks, optimizers, batch, ctx)
        assert all(torch.isfinite(v) for v in terms.values())
