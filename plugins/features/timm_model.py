"""Any timm model as a feature extractor: its pooled, pre-classifier features, with timm's own evaluation
transform (resize, centre crop, normalisation) from the model's pretrained config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from PIL import Image
from torch import Tensor

from ganzoo.errors import RecipeError
from ganzoo.interfaces import FeatureExtractor
from ganzoo.registry import register
from ganzoo.schema import option
from ganzoo.weights import RANDOM_WEIGHTS, fixed_random_init, read_weights


@register("feature_extractor", "timm")
class TimmFeatures(FeatureExtractor):
    """A timm model's pooled features (``timm.create_model(model, num_classes=0)``), timm's eval transform."""

    @dataclass
    class Config:
        model: str = option("resnet50", "timm model name (`timm.list_models()`).")
        weights: str = option("", "Weights: a .pth/.safetensors file of the model's state dict, "
                                  "hf-hub:OWNER/REPO/FILE, or 'random' (tests).")
        input_size: int = option(0, "Input size in pixels (0: the model's default).", min=0)

    small_options: ClassVar[dict[str, Any]] = {"model": "resnet10t", "weights": RANDOM_WEIGHTS, "input_size": 32}

    def __init__(self, config: Config, *, img_size: int) -> None:
        super().__init__()
        import timm
        from timm.data import create_transform, resolve_model_data_config

        self.config, self.img_size = config, img_size
        if not timm.is_model(config.model):
            raise RecipeError(f"timm has no model {config.model!r}; pick one of timm.list_models() "
                              f"(e.g. resnet50, vit_small_patch16_224).")
        with fixed_random_init():
            net = timm.create_model(config.model, pretrained=False)
        if config.weights != RANDOM_WEIGHTS:
            net.load_state_dict(read_weights(config.weights, what=f"The timm model {config.model!r}",
                                             needed=f"the state dict of timm's {config.model!r} (e.g. the "
                                                    f"model.safetensors of its Hugging Face repo timm/{config.model}...)"))
        net.reset_classifier(0)
        self.net = net.eval().requires_grad_(False)
        self.num_features = net.num_features
        data_config = resolve_model_data_config(net)
        if config.input_size:
            data_config = {**data_config, "input_size": (3, config.input_size, config.input_size), "crop_pct": 1.0}
        self.transform = create_transform(**data_config, is_training=False)

    def preprocess(self, image: Image.Image) -> Tensor:
        """timm's evaluation transform of the model: float32 (3, H, W), normalised."""
        return self.transform(image.convert("RGB"))

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) -> (B, num_features) float32 pooled features."""
        return self.net(x).float()

    def identity(self) -> str:
        from .inception import _weights_identity

        return (f"timm({self.config.model}, weights={_weights_identity(self.config.weights)}, "
                f"input_size={self.config.input_size}, img_size={self.img_size})")
