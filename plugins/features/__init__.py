"""Feature extractors for FID/KID, registered under the ``feature_extractor`` kind: the StarGAN v2 protocol's
torchvision Inception (``inception``), the TF-FID Inception of pytorch-fid / clean-fid / StyleGAN
(``inception_tf``), and any timm model (``timm``)."""

from . import inception, timm_model
from .inception import InceptionTF, InceptionTorchvision
from .timm_model import TimmFeatures

__all__ = ["inception", "timm_model", "InceptionTorchvision", "InceptionTF", "TimmFeatures"]
