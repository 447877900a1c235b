"""``ganzoo convert``: official checkpoints become model folders whose outputs equal the official ones.

Parity goes through the command (``ganzoo.cli.main``) and ``ganzoo.from_pretrained``, against the outputs of
../shared/parity (tolerances from its README: forward outputs within 1e-4 x max(1, max |reference|)).
``nets.ckpt`` holds the trained networks (no ``_nets_ema.ckpt`` is in the fixtures): it is used as both.
The CelebA-HQ setup (w_hpf 1, with the FAN) is checked on a tiny model written in the official layout with the
fixture's FAN (../shared/parity/fan/wing.ckpt): its FAN goes into the model folder, and translation applies the
masks.
"""

from __future__ import annotations

import json
import re

import pytest
import torch
from safetensors.torch import load_file

import ganzoo
from ganzoo.cli import main
from ganzoo.plugins.stargan_v2 import ganzoo_to_official
from ganzoo.push import push

from test_stargan_v2_hpf_training import IMG, hpf_method

pytestmark = pytest.mark.parity

FORWARD_TOL = 1e-4
ATTRS = "Black_Hair,Blond_Hair,Brown_Hair,Male,Young"
RAFD = "angry,contemptuous,disgusted,fearful,happy,neutral,sad,surprised"


def close(ours: torch.Tensor, ref: torch.Tensor) -> bool:
    return ours.shape == ref.shape and (ours - ref).abs().max().item() <= FORWARD_TOL * max(1.0, ref.abs().max().item())


def run_cli(capsys, *args: str) -> tuple[int, str]:
    """Exit code and stderr of ``ganzoo ARGS``."""
    try:
        main([str(arg) for arg in args])
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


def test_stargan_v2_through_the_command_gives_the_official_outputs(parity_dir, tmp_path, capsys):
    root = parity_dir / "stargan_v2"
    code, err = run_cli(capsys, "convert", "stargan-v2", root / "nets.ckpt", tmp_path / "afhq", "--domains",
                        "cat,dog,wild")
    assert code == 0, err
    for line in ("data.img_size = 128", "data.num_domains = 3", "method.generator.base_channels = 128",
                 "method.generator.max_conv_dim = 64", "method.style_dim = 64", "method.latent_dim = 16",
                 "method.generator.w_hpf = 0.0", "license: cc-by-nc-4.0"):
        assert line in err, line
    config = json.loads((tmp_path / "afhq" / "config.json").read_text())
    assert config["license"] == "cc-by-nc-4.0" and "clovaai/stargan-v2" in config["source"]
    assert config["domains"] == ["cat", "dog", "wild"] and config["img_size"] == 128
    out = load_file(root / "forward.safetensors")
    model = ganzoo.from_pretrained(tmp_path / "afhq", device="cpu")
    nets = model.networks
    with torch.no_grad():
        assert close(nets["generator"](out["x"], out["s"]), out["G_out"])
        assert close(nets["mapping_network"](out["z"], out["y"]), out["F_out"])
        assert close(nets["style_encoder"](out["x"], out["y"]), out["E_out"])
        # the API's reference-guided translation is G(x, E(x_ref, y))
        domain = model.domains[int(out["y"][0])]
        expected = nets["generator"](out["x"], out["E_out"][:1].expand(2, -1))
    assert close(model.translate(out["x"], target=domain, reference=out["x"][0]), expected)
    training = ganzoo.from_pretrained(tmp_path / "afhq", device="cpu", training=True)  # the discriminator too
    with torch.no_grad():
        assert close(training.method.networks["discriminator"](out["x"], out["y"]), out["D_out"])


def test_stargan_v2_file_hazards_sizes_checked_and_fan_reported(parity_dir, tmp_path, capsys):
    nets = torch.load(parity_dir / "stargan_v2" / "nets.ckpt", map_location="cpu", weights_only=True)
    wrapped = {name: {f"module.{key}": value for key, value in state.items()} for name, state in nets.items()}
    wrapped["fan"] = {"conv1.weight": torch.zeros(1)}
    torch.save(wrapped, tmp_path / "100000_nets_ema.ckpt")
    code, err = run_cli(capsys, "convert", "stargan-v2", tmp_path / "100000_nets_ema.ckpt", tmp_path / "out",
                        "--domains", "cat,dog,wild", "data.img_size=128", "method.style_dim=64")
    assert code == 0, err
    assert "left out: fan" in err
    code, err = run_cli(capsys, "convert", "stargan-v2", tmp_path / "100000_nets_ema.ckpt", tmp_path / "out2",
                        "--domains", "cat,dog,wild", "data.img_size=256")
    assert code == 2 and "data.img_size=256 was given, but the checkpoint's tensor shapes say data.img_size=128" in err
    assert "Traceback" not in err and not (tmp_path / "out2").exists()
    code, err = run_cli(capsys, "convert", "stargan-v2", tmp_path / "100000_nets_ema.ckpt", tmp_path / "out2",
                        "--domains", "cat,dog")
    assert code == 2 and "is a model of 3 domains (labels); --domains names 2" in err
    code, err = run_cli(capsys, "convert", "stargan-v3", tmp_path / "100000_nets_ema.ckpt", tmp_path / "out2",
                        "--domains", "a")
    assert code == 2 and "Unknown method 'stargan_v3'" in err


def official_files(parity_dir, tmp_path):
    """A tiny w_hpf 1 StarGAN v2 with the fixture's FAN, and its networks written as the official CelebA-HQ files:
    ``100000_nets_ema.ckpt`` (G, F, E and ``fan``, DataParallel prefixes, no ``hpf.filter`` as released) and
    ``100000_nets.ckpt`` (with D; ``hpf.filter`` as current official code writes it)."""
    trained = hpf_method(parity_dir / "fan" / "wing.ckpt")
    trained.load_frozen_networks()
    wing = torch.load(parity_dir / "fan" / "wing.ckpt", map_location="cpu", weights_only=True)["state_dict"]
    nets = {name: ganzoo_to_official(trained.networks[name].state_dict(), name, w_hpf=1.0)
            for name in ("generator", "mapping_network", "style_encoder", "discriminator")}
    ema = {name: {f"module.{k}": v for k, v in nets[name].items()} for name in ("mapping_network", "style_encoder")}
    ema["generator"] = {f"module.{k}": v for k, v in nets["generator"].items() if k != "hpf.filter"}
    torch.save({**ema, "fan": wing}, tmp_path / "100000_nets_ema.ckpt")
    torch.save({**nets, "fan": wing}, tmp_path / "100000_nets.ckpt")
    torch.save(ema, tmp_path / "no_fan_nets_ema.ckpt")
    return trained


def convert_celeba_hq(capsys, checkpoint, out, *settings) -> str:
    """Run ``ganzoo convert stargan-v2 CHECKPOINT OUT --domains female,male SETTINGS``; its report (stderr)."""
    code, err = run_cli(capsys, "convert", "stargan-v2", checkpoint, out, "--domains", "female,male", *settings)
    assert code == 0, err
    return err


def assert_same_weights(model, trained, names):
    for name in names:
        for key, value in trained.networks[name].state_dict().items():
            assert torch.equal(model.method.networks[name].state_dict()[key], value), f"{name}.{key}"


@pytest.mark.slow
def test_celeba_hq_checkpoint_converts_with_its_fan_and_translation_applies_the_masks(parity_dir, tmp_path, capsys):
    trained = official_files(parity_dir, tmp_path)
    err = convert_celeba_hq(capsys, tmp_path / "100000_nets_ema.ckpt", tmp_path / "celeba_hq")
    assert "method.generator.w_hpf = 1.0" in err and f"data.img_size = {IMG}" in err
    assert "found generator, mapping_network, style_encoder, fan" in err and "left out" not in err
    folder = tmp_path / "celeba_hq"
    assert sorted(p.name for p in folder.glob("*.safetensors")) == [
        "fan.safetensors", "generator.safetensors", "mapping_network.safetensors", "style_encoder.safetensors"]
    assert json.loads((folder / "config.json").read_text())["license"] == "cc-by-nc-4.0"
    model = ganzoo.from_pretrained(folder, device="cpu")
    assert model.domains == ["female", "male"]
    assert_same_weights(model, trained, ("generator", "mapping_network", "style_encoder", "fan"))

    # translation applies the masks: G(x, s, masks(x)), the masks made by the folder's FAN
    x = torch.rand(2, 3, IMG, IMG) * 2 - 1
    translated = model.translate(x, target="male", seed=3)
    style = model.method.latent_styles(torch.tensor([1]), torch.Generator().manual_seed(3)).expand(2, -1)
    masks = trained.masks(x)
    with torch.no_grad():
        by_hand = model.networks["generator"](x, style, masks)
        unmasked = model.networks["generator"](x, style, None)
    assert torch.equal(translated, by_hand)
    assert not torch.allclose(translated, unmasked, atol=1e-3)

    # a file without its FAN takes the released wing.ckpt through method.fan_weights
    code, err = run_cli(capsys, "convert", "stargan-v2", tmp_path / "no_fan_nets_ema.ckpt", tmp_path / "x",
                        "--domains", "female,male")
    assert code == 2 and "holds no fan" in err and "method.fan_weights=PATH/TO/wing.ckpt" in err, err
    assert "download.sh wing" in err and "Traceback" not in err and not (tmp_path / "x").exists()
    convert_celeba_hq(capsys, tmp_path / "no_fan_nets_ema.ckpt", tmp_path / "wing",
                      f"method.fan_weights={parity_dir / 'fan' / 'wing.ckpt'}")
    assert_same_weights(ganzoo.from_pretrained(tmp_path / "wing", device="cpu"), trained, ("fan",))


@pytest.mark.slow
def test_a_converted_celeba_hq_training_folder_pushes_with_its_fan_and_training_networks(parity_dir, tmp_path, capsys):
    trained = official_files(parity_dir, tmp_path)
    convert_celeba_hq(capsys, tmp_path / "100000_nets.ckpt", tmp_path / "nets")
    push(tmp_path / "nets", "alice/celeba-hq", dry_run=tmp_path / "dry")
    networks = ["fan", "generator", "mapping_network", "style_encoder"]
    assert sorted(p.relative_to(tmp_path / "dry").as_posix() for p in (tmp_path / "dry").rglob("*")
                  if p.is_file()) == sorted(["README.md", "config.json", *(f"{n}.safetensors" for n in networks),
                                             *(f"training/{n}.safetensors" for n in [*networks, "discriminator"])])
    card = (tmp_path / "dry" / "README.md").read_text()
    assert "license: cc-by-nc-4.0" in card and "may not be used commercially" in card
    model = ganzoo.from_pretrained(tmp_path / "dry", device="cpu", training=True)
    assert_same_weights(model, trained, [*networks, "discriminator"])


def test_stargan_v1_through_the_command_gives_the_official_outputs(parity_dir, tmp_path, capsys):
    root = parity_dir / "stargan_v1"
    out = load_file(root / "forward.safetensors")
    code, err = run_cli(capsys, "convert", "stargan-v1", root / "G.ckpt", tmp_path / "celeba", "--attrs", ATTRS)
    assert code == 0, err
    assert "data.img_size = 64" in err and "method.discriminator.repeat_num = 4" in err and "license: mit" in err
    model = ganzoo.from_pretrained(tmp_path / "celeba", device="cpu")
    assert model.domains == ATTRS.split(",") and model.config.license == "mit"
    with torch.no_grad():
        src, cls = model.networks["discriminator"](out["x"])
        assert close(src, out["D_src"]) and close(cls, out["D_cls"])
        assert close(model.networks["generator"](out["x"], out["c"]), out["G_out_train_mode"])
    edited = model.edit(out["x"], {"Male": 1})
    assert edited.shape == out["x"].shape
    # the mask-vector (joint CelebA + RaFD) model: its second dataset's size is given
    code, err = run_cli(capsys, "convert", "stargan-v1", root / "G_both.ckpt", tmp_path / "joint", "--attrs",
                        f"{ATTRS},{RAFD}", "method.c2_dim=8")
    assert code == 0, err
    joint = ganzoo.from_pretrained(tmp_path / "joint", device="cpu")
    with torch.no_grad():
        assert close(joint.networks["generator"](out["x"], out["c_both"]), out["G_both_out"])
        assert close(joint.networks["discriminator"](out["x"])[1], out["D_both_cls"])
    code, err = run_cli(capsys, "convert", "stargan-v1", root / "D.ckpt", tmp_path / "bad", "--attrs", ATTRS)
    assert code == 2 and re.search(r"D\.ckpt is not named like an official generator checkpoint", err), err
