"""An example third-party plugin: registers ``softplus_margin`` (loss) and ``example_patch`` (discriminator)."""

from .discriminator import PatchDiscriminator
from .loss import SoftplusMargin

__all__ = ["PatchDiscriminator", "SoftplusMargin"]
