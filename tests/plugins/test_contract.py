"""The contract test every registered plugin gets, in the style of timm's ``tests/test_models.py`` (issue 12).

Plugins are found in the registry (built-in folders and ``ganzoo.plugins`` entry points, the example third-party
package in ``tests/example_plugin`` included): adding a plugin adds its tests, with no list to edit. What is checked
comes from the interface each plugin implements (``ganzoo.interfaces``, ``ganzoo.method``, ``TrainDataset``):

- every plugin: its defaults validate and round-trip; ``ganzoo list KIND NAME`` shows each option; a wrong option
  is a RecipeError naming the key;
- networks, built from their recipe section (``small_options``, the plugin's own small instance) at the smallest
  image size they accept: output shapes and value ranges of their interface, a backward pass that reaches every
  trainable parameter, a save/load round trip (safetensors + config JSON) giving identical outputs; a frozen network
  (a landmark detector) has no trainable parameter, so instead: nothing requires grad, ``train()`` leaves it in eval
  mode, a forward pass in train mode changes no buffer (BatchNorm statistics) and gives the eval outputs;
- feature extractors: the features of ``preprocess``-ed images have the declared size, the same image gives the
  same input and features, the extractor is in eval mode with nothing to train;
- adversarial losses and regularizers: finite values and gradients on random logits and images;
- methods: built from their small slots, one iteration of their phases on their ``random_batch``;
- datasets: built on a generated image folder (ROOT/{train,val}/<domain>, or its ``train`` folder of class
  sub-folders, or an empty folder for those that generate their data), their items and sample batch follow
  ``TrainDataset``; otherwise a clear GanzooError.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from safetensors.torch import load_file, save_file

from ganzoo import registry
from ganzoo.build import create
from ganzoo.cli import cli
from ganzoo.errors import GanzooError, RecipeError
from ganzoo.interfaces import (AdversarialLoss, AuxiliaryClassifierDiscriminator, DomainDiscriminator,
                               FeatureExtractor, ImageStyleSource, ImageToImageGenerator, LandmarkDetector,
                               LatentGenerator, LatentStyleSource, Network, Regularizer)
from ganzoo.method import StepContext, TrainingMethod, run_phase
from ganzoo.schema import Component, component, parse, to_dict

#: image sizes tried, smallest first, for "the smallest size a network accepts"
SIZES = (8, 16, 32, 64, 128, 256)
B, DOMAINS, CONDITION, STYLE, LATENT = 2, 3, 5, 6, 4


def _forward(net: Any, inputs: tuple) -> Any:
    return net(*inputs)


@dataclasses.dataclass(frozen=True)
class Contract:
    """An interface's context and calling convention: ``context(img_size)`` for ``create``, ``inputs(net,
    img_size)`` for ``call(net, inputs)`` (default ``net(*inputs)``), and ``check(outputs, img_size)`` asserting the
    documented shapes and ranges. ``frozen``: the interface is never trained (no trainable parameter, eval mode only)."""

    context: Callable[[int], dict[str, Any]]
    inputs: Callable[[Any, int], tuple]
    check: Callable[[Any, int], None]
    call: Callable[[Any, tuple], Any] = _forward
    frozen: bool = False


def _images(size: int) -> torch.Tensor:
    return torch.rand(B, 3, size, size) * 2 - 1


def _domains() -> torch.Tensor:
    return torch.arange(B) % DOMAINS


def _finite(*tensors: torch.Tensor) -> None:
    assert all(torch.isfinite(t).all() for t in tensors)


def _check_images(out: torch.Tensor, size: int) -> None:
    assert out.shape == (B, 3, size, size) and out.dtype == torch.float32
    _finite(out)  # generators may overshoot [-1, 1] (no final tanh in StarGAN v2): finite is the contract


def _check_styles(out: torch.Tensor, size: int) -> None:
    assert out.shape == (B, STYLE)
    _finite(out)


def _check_domain_logits(out: torch.Tensor, size: int) -> None:
    assert out.shape == (B,)
    _finite(out)


def _check_aux(out: tuple[torch.Tensor, torch.Tensor], size: int) -> None:
    src, cls = out
    assert src.dim() == 4 and src.shape[:2] == (B, 1) and cls.shape == (B, DOMAINS)
    _finite(src, cls)


def _landmark_outputs(net: LandmarkDetector, inputs: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    return net.heatmaps(*inputs), net.landmarks(*inputs)


def _check_landmarks(out: tuple[torch.Tensor, torch.Tensor], size: int) -> None:
    heatmaps, points = out
    assert heatmaps.dim() == 4 and heatmaps.shape[:2] == points.shape[:2] and heatmaps.dtype == torch.float32
    assert points.shape[0] == B and points.shape[2] == 2 and points.dtype == torch.float32
    _finite(heatmaps, points)
    assert points.min() >= 0 and points.max() <= size  # (x, y) in pixels of the input


#: the contract of each network interface, most specific first
CONTRACTS: dict[type, Contract] = {
    ImageToImageGenerator: Contract(lambda s: {"img_size": s, "condition_dim": CONDITION},
                                    lambda net, s: (_images(s), torch.randn(B, CONDITION)), _check_images),
    LatentGenerator: Contract(lambda s: {"img_size": s, "latent_dim": LATENT, "num_domains": DOMAINS},
                              lambda net, s: (torch.randn(B, net.latent_dim), _domains()), _check_images),
    DomainDiscriminator: Contract(lambda s: {"img_size": s, "num_domains": DOMAINS},
                                  lambda net, s: (_images(s), _domains()), _check_domain_logits),
    AuxiliaryClassifierDiscriminator: Contract(lambda s: {"img_size": s, "num_classes": DOMAINS},
                                               lambda net, s: (_images(s),), _check_aux),
    LatentStyleSource: Contract(lambda s: {"latent_dim": LATENT, "style_dim": STYLE, "num_domains": DOMAINS},
                                lambda net, s: (torch.randn(B, LATENT), _domains()), _check_styles),
    ImageStyleSource: Contract(lambda s: {"img_size": s, "style_dim": STYLE, "num_domains": DOMAINS},
                               lambda net, s: (_images(s), _domains()), _check_styles),
    LandmarkDetector: Contract(lambda s: {}, lambda net, s: (_images(s),), _check_landmarks,
                               call=_landmark_outputs, frozen=True),
}


def _entries(kind: str | None = None) -> list[registry.Entry]:
    return registry.entries(kind)


def _ids(entries: list[registry.Entry]) -> list[str]:
    return [f"{e.kind}:{e.name}" for e in entries]


def _slot(entry: registry.Entry) -> type:
    """The most specific interface ``entry`` implements, as a recipe slot: a network interface with a contract,
    the loss interface, or else its kind's base."""
    found = [iface for iface in CONTRACTS if issubclass(entry.obj, iface)]
    if found:
        return found[0]
    if entry.kind == "loss":
        assert issubclass(entry.obj, (AdversarialLoss, Regularizer)), f"loss {entry.name!r}: no contract"
        return AdversarialLoss if issubclass(entry.obj, AdversarialLoss) else Regularizer
    return registry.bases()[entry.kind]


def _small(entry: registry.Entry) -> dict[str, Any]:
    return dict(getattr(entry.obj, "small_options", {}))


def _smallest_size(cls: type, config: Any) -> int:
    for size in SIZES:
        try:
            cls.check_img_size(size, config)
            return size
        except RecipeError:
            continue
    pytest.fail(f"{cls.__name__} accepts none of the sizes {SIZES}")


ALL = _entries()
NETWORKS = [e for e in ALL if isinstance(e.obj, type) and issubclass(e.obj, Network)]


# --- every plugin ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("entry", ALL, ids=_ids(ALL))
def test_defaults_and_small_options_validate_and_round_trip(entry: registry.Entry) -> None:
    slot = _slot(entry)
    for options in ({}, _small(entry)):
        spec = component({"name": entry.name, **options}, slot, "section")
        assert parse(entry.obj.Config, to_dict(spec.options), "section") == spec.options
    if issubclass(entry.obj, Network):
        _smallest_size(entry.obj, parse(entry.obj.Config, {}))  # the defaults fit some size


@pytest.mark.parametrize("entry", ALL, ids=_ids(ALL))
def test_ganzoo_list_shows_every_option(entry: registry.Entry) -> None:
    result = CliRunner().invoke(cli, ["list", entry.kind, entry.name], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    for field in dataclasses.fields(entry.obj.Config):
        assert field.name in result.output, field.name


@pytest.mark.parametrize("entry", ALL, ids=_ids(ALL))
def test_a_wrong_option_is_a_clear_error(entry: registry.Entry) -> None:
    with pytest.raises(RecipeError, match=r"Unknown key 'section\.no_such_option'") as caught:
        component({"name": entry.name, "no_such_option": 1}, _slot(entry), "section")
    fields = [f.name for f in dataclasses.fields(entry.obj.Config)]
    assert all(name in str(caught.value) for name in fields)  # it lists the options there are


# --- networks -------------------------------------------------------------------------------------------------------

def _build(entry: registry.Entry) -> tuple[Any, Contract, int, Component]:
    slot = _slot(entry)
    assert slot in CONTRACTS, (f"{entry.kind} {entry.name!r} implements no network interface with a contract: add "
                               f"its interface's context, inputs and checks to CONTRACTS")
    spec = component({"name": entry.name, **_small(entry)}, slot, f"{entry.kind}")
    size = _smallest_size(entry.obj, spec.options)
    contract = CONTRACTS[slot]
    torch.manual_seed(0)
    return create(spec, **contract.context(size)), contract, size, spec


@pytest.mark.parametrize("entry", NETWORKS, ids=_ids(NETWORKS))
def test_network_forward_backward_and_round_trip(tmp_path: Path, entry: registry.Entry) -> None:
    net, contract, size, spec = _build(entry)
    inputs = contract.inputs(net, size)
    net.train()
    buffers = {name: b.clone() for name, b in net.named_buffers()}
    out = contract.call(net, inputs)
    contract.check(out, size)
    if contract.frozen:
        _check_frozen(net, buffers)
        before = out  # train mode is eval mode: the loaded copy, in eval mode, must give these outputs
    else:
        total = sum(o.float().sum() for o in (out if isinstance(out, tuple) else (out,)))
        total.backward()
        unreached = [name for name, p in net.named_parameters() if p.requires_grad and p.grad is None]
        assert not unreached, f"no gradient reaches {unreached[:5]}"
        assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)
        net.eval()
        with torch.no_grad():
            before = contract.call(net, inputs)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, tmp_path / "net.safetensors")
    (tmp_path / "config.json").write_text(json.dumps(to_dict(spec)))
    loaded = create(json.loads((tmp_path / "config.json").read_text()), _slot(entry), **contract.context(size))
    loaded.load_state_dict(load_file(tmp_path / "net.safetensors"))
    loaded.eval()
    with torch.no_grad():
        after = contract.call(loaded, inputs)
    for a, b in zip(before if isinstance(before, tuple) else (before,), after if isinstance(after, tuple) else (after,)):
        assert torch.equal(a, b)


def _check_frozen(net: torch.nn.Module, buffers: dict[str, torch.Tensor]) -> None:
    """A frozen network: "backward reaches every trainable parameter" holds because there is none to reach."""
    trainable = [name for name, p in net.named_parameters() if p.requires_grad]
    assert not trainable, f"a frozen network has trainable parameters {trainable[:5]}"
    assert not any(m.training for m in net.modules()), "train() must leave a frozen network in eval mode"
    changed = [name for name, b in net.named_buffers() if not torch.equal(b, buffers[name])]
    assert not changed, f"a forward pass changed the buffers {changed[:5]}"


# --- feature extractors ---------------------------------------------------------------------------------------------

EXTRACTORS = _entries("feature_extractor")


@pytest.mark.parametrize("entry", EXTRACTORS, ids=_ids(EXTRACTORS))
def test_feature_extractor_features(entry: registry.Entry) -> None:
    extractor = create({"name": entry.name, **_small(entry)}, FeatureExtractor, img_size=16)
    extractor.train()  # what a method may ask of every module it holds: features still come from eval mode
    assert not any(m.training for m in extractor.modules()), "train() must leave a feature extractor in eval mode"
    assert not any(p.requires_grad for p in extractor.parameters())
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)) for _ in range(B)]
    x = torch.stack([extractor.preprocess(image) for image in images])
    assert x.dim() == 4 and x.shape[:2] == (B, 3)
    assert torch.equal(extractor.preprocess(images[0]), x[0])
    with torch.no_grad():
        features = extractor(x)
    assert features.shape == (B, extractor.num_features) and features.dtype == torch.float32
    _finite(features)
    assert not torch.equal(features[0], features[1])  # two images, two feature vectors
    assert extractor.identity()


# --- losses ---------------------------------------------------------------------------------------------------------

LOSSES = [e for e in ALL if e.kind == "loss"]


@pytest.mark.parametrize("entry", LOSSES, ids=_ids(LOSSES))
def test_loss_values_and_gradients_are_finite(entry: registry.Entry) -> None:
    torch.manual_seed(0)
    loss = create({"name": entry.name, **_small(entry)}, _slot(entry))
    if isinstance(loss, AdversarialLoss):
        real = (torch.randn(4) * 3).requires_grad_(True)
        fake = (torch.randn(4) * 3).requires_grad_(True)
        terms = [*loss.discriminator(real, fake), loss.generator(fake, real if loss.relativistic else None)]
        for term in terms:
            assert term.dim() == 0
        sum(terms).backward()
        _finite(*terms, real.grad, fake.grad)
    else:
        critic = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Tanh(), torch.nn.Conv2d(4, 1, 6))
        real, fake = _images(8), _images(8)

        def discriminator(x: torch.Tensor) -> torch.Tensor:
            return critic(x).flatten()

        real_in = real.requires_grad_(True) if loss.needs_real_grad else real
        penalty = loss(discriminator=discriminator, real=real_in, fake=fake, real_logits=discriminator(real_in),
                       rand=lambda *shape: torch.rand(B, *shape))
        assert penalty.dim() == 0 and penalty >= 0
        penalty.backward()
        grads = [p.grad for p in critic.parameters() if p.grad is not None]  # a penalty on input gradients
        _finite(penalty, *grads)                                              # does not see the last bias
        assert any(g.abs().sum() > 0 for g in grads)


# --- methods --------------------------------------------------------------------------------------------------------

METHODS = _entries("method")


def _small_method(entry: registry.Entry) -> dict[str, Any]:
    """The method's small options, with each slot holding its default plugin's small options."""
    section = _small(entry)
    for field in dataclasses.fields(entry.obj.Config):
        slot = field.metadata.get("slot")
        if slot is None or field.name in section:
            continue
        default = field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default
        specs = default if isinstance(default, list) else [default]
        small = [{"name": c.name, **getattr(registry.get(registry.kind_of(slot), c.name), "small_options", {})}
                 for c in specs]
        section[field.name] = small if isinstance(default, list) else small[0]
    return section


@pytest.mark.parametrize("entry", METHODS, ids=_ids(METHODS))
def test_method_runs_one_iteration_of_its_phases(entry: registry.Entry) -> None:
    spec = component({"name": entry.name, **_small_method(entry)}, TrainingMethod, "method")
    for size in SIZES:
        try:
            method = create(spec, img_size=size, num_domains=DOMAINS)
            break
        except RecipeError:
            continue
    device = torch.device("cpu")
    batch = method.random_batch(B, device, torch.Generator().manual_seed(0))
    assert set(method.batch_keys) <= set(batch)
    optimizers = method.make_optimizers()
    assert set(optimizers) <= set(method.networks)
    ctx = StepContext(iteration=0, seed=0, device=device, local_batch=B)
    for phase in method.phases():
        terms = run_phase(phase, method.networks, optimizers, batch, ctx)
        _finite(*terms.values())
    assert set(method.exported_networks) <= set(method.networks)


# --- datasets -------------------------------------------------------------------------------------------------------

DATASETS = _entries("dataset")


def _image_folder(root: Path, size: int = 16) -> Path:
    """ROOT/{train,val}/<domain>/*.png: three domains of random images."""
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for domain in ("d0", "d1", "d2"):
            folder = root / split / domain
            folder.mkdir(parents=True)
            for i in range(3):
                Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return root


@pytest.mark.parametrize("entry", DATASETS, ids=_ids(DATASETS))
def test_dataset_on_a_generated_folder(tmp_path: Path, entry: registry.Entry) -> None:
    spec = component({"name": entry.name, **_small(entry)}, registry.bases()["dataset"], "data.dataset")
    folder = _image_folder(tmp_path / "folder")
    for root in (folder, folder / "train", tmp_path / "empty"):
        try:
            dataset = create(spec, root=str(root), img_size=16, num_domains=DOMAINS, split="train", augment=False)
            break
        except GanzooError as exc:  # a dataset of another layout (CelebA's attribute file) says what is wrong
            assert str(exc).strip(), f"{entry.name}: an empty message"
    else:
        return  # neither folder fits this dataset's layout, and it said so with a GanzooError
    keys = next(iter(dataset.batch_sampler(batch_size=B, seed=0, start_iter=0, rank=0, world_size=1)))
    assert len(keys) == B
    item = dataset[keys[0]]
    assert set(dataset.batch_keys) <= set(item) and len(dataset.domains) >= 1
    assert item["x"].shape == (3, 16, 16) and item["x"].min() >= -1 and item["x"].max() <= 1
    sample = dataset.sample_batch(B, 0)
    assert set(dataset.batch_keys) <= set(sample) and sample["x"].shape == (B, 3, 16, 16)
