"""StyleGAN (Karras et al., CVPR 2019): equalized-learning-rate layers, the mapping network, AdaIN styled blocks,
and converters from official key names.

Importing the package registers the ``stylegan_mapping`` style source.
"""

from . import convert, layers, mapping
from .mapping import MappingNetwork

__all__ = ["convert", "layers", "mapping", "MappingNetwork"]
