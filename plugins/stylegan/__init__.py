"""StyleGAN (Karras et al., CVPR 2019): equalized-learning-rate layers, the mapping network, AdaIN styled blocks,
the style-based generator, the StyleGAN2 residual discriminator, the training method, and converters from official
key names.

Importing the package registers the ``stylegan_mapping`` style source, the ``stylegan`` generator, the ``stylegan2``
discriminator and the ``stylegan`` training method.
"""

from . import convert, discriminator, generator, layers, mapping, method
from .discriminator import StyleGAN2Discriminator
from .generator import StyleGANGenerator
from .mapping import MappingNetwork
from .method import StyleGAN

__all__ = ["convert", "discriminator", "generator", "layers", "mapping", "method", "MappingNetwork",
           "StyleGAN", "StyleGAN2Discriminator", "StyleGANGenerator"]
