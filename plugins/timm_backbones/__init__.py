"""Networks built on any timm model (``features_only``): a domain discriminator and a StarGAN v2 style encoder."""

from . import backbone, networks
from .networks import TimmDiscriminator, TimmStyleEncoder

__all__ = ["backbone", "networks", "TimmDiscriminator", "TimmStyleEncoder"]
