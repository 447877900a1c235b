"""An official StarGAN v2 checkpoint as a ganzoo model folder, which ``ganzoo.load_model`` reads.

The released files hold the EMA networks only (``100000_nets_ema.ckpt``: generator, mapping network, style
encoder; the CelebA-HQ one also the FAN as ``fan``, reference §6). The folder holds the FAN's weights itself
(``fan.safetensors``, 25 MB beside about 270 MB of G, F and E) rather than a path to ``wing.ckpt``: a model folder
must make its masks wherever it is copied, and its FAN must be the one it was trained with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from ganzoo.checkpoint import load_torch_file
from ganzoo.errors import CheckpointError
from ganzoo.pretrained import ModelConfig, method_from_spec, save_model
from ganzoo.schema import parse

from .convert import FAN_SOURCE, load_fan_weights, load_official_weights, official_networks

#: the networks of a released ``*_nets_ema.ckpt``
RELEASED = ("generator", "mapping_network", "style_encoder")


def convert_official_model(checkpoint: str | Path, out_dir: str | Path, *, domains: Sequence[str],
                           img_size: int = 256, w_hpf: float | None = None,
                           fan_weights: str | Path | None = None, options: Mapping[str, Any] | None = None) -> Path:
    """Write ``out_dir/model/`` from the official ``checkpoint`` (a ``*_nets_ema.ckpt``, read with
    ``torch.load(weights_only=True)``) for images of ``img_size`` px and the domains ``domains`` (in label
    order, e.g. ``["female", "male"]`` for CelebA-HQ, ``["cat", "dog", "wild"]`` for AFHQ). Returns the folder.

    ``w_hpf`` defaults to 1 when the file holds a FAN (``fan``, the CelebA-HQ file) and 0 otherwise. With
    ``w_hpf > 0`` the FAN comes from the file's ``fan`` entry, else from ``fan_weights`` (``wing.ckpt``).
    ``options`` are further ``method.*`` options of a model not trained with the official sizes (e.g.
    ``{"style_dim": 32}``, or ``{"generator": {"max_conv_dim": 256}}``, merged with ``w_hpf``). CheckpointError
    when a network does not fit (naming the option that differs) or no FAN is available.
    """
    data = load_torch_file(checkpoint, "official StarGAN v2 checkpoint")
    nets = official_networks(data, checkpoint, with_fan=True)
    missing = [name for name in RELEASED if name not in nets]
    if missing:
        raise CheckpointError(f"{checkpoint} lacks {', '.join(missing)}: pass the official *_nets_ema.ckpt.")
    if w_hpf is None:
        w_hpf = 1.0 if "fan" in nets else 0.0
    options = dict(options or {})
    generator = {"name": "stargan_v2", **options.pop("generator", {}), "w_hpf": w_hpf}
    config = parse(ModelConfig, {"method": {"name": "stargan_v2", **options, "generator": generator},
                                 "img_size": img_size, "num_domains": len(domains), "domains": list(domains)})
    method = method_from_spec(config.method, img_size=img_size, num_domains=len(domains))
    for name in RELEASED:
        load_official_weights(method.networks[name], nets[name], name)
    if "fan" in method.networks:
        if "fan" in nets:
            load_fan_weights(method.networks["fan"], nets["fan"])
        elif fan_weights is not None:
            load_fan_weights(method.networks["fan"], fan_weights, key="fan_weights")
        else:
            raise CheckpointError(f"{checkpoint} holds no FAN (`fan`), which a w_hpf={w_hpf:g} model needs for its "
                                  f"masks: pass fan_weights=PATH/TO/wing.ckpt ({FAN_SOURCE}).")
    return save_model(out_dir, {name: method.networks[name] for name in method.exported_networks}, config)
