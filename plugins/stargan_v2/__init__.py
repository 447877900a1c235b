"""StarGAN v2 (Choi et al., CVPR 2020): networks, training method and official-checkpoint converter.

Importing the package registers the generator, mapping network, style encoder, discriminator and the
``stargan_v2`` training method.
"""

from . import convert, method, networks
from .convert import ganzoo_to_official, load_official_checkpoint, load_official_weights, official_to_ganzoo
from .method import StarGANv2
from .networks import Discriminator, Generator, MappingNetwork, StyleEncoder, he_init

__all__ = ["convert", "method", "networks", "StarGANv2", "Generator", "MappingNetwork", "StyleEncoder",
           "Discriminator", "he_init", "official_to_ganzoo", "ganzoo_to_official", "load_official_checkpoint",
           "load_official_weights"]
