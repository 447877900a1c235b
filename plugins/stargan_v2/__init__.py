"""StarGAN v2 (Choi et al., CVPR 2020): networks, training method, reference-pair data, augmentation and
official-checkpoint converter.

Importing the package registers the generator, mapping network, style encoder, discriminator and the
``stargan_v2`` training method. Its data is a view over the core image datasets (``data.py``), with the
official augmentation (``transforms.py``).
"""

from . import convert, data, method, networks, transforms
from .convert import ganzoo_to_official, load_official_checkpoint, load_official_weights, official_to_ganzoo
from .data import ReferenceKey, ReferencePairs, ReferencePairSampler
from .method import StarGANv2
from .networks import Discriminator, Generator, MappingNetwork, StyleEncoder, he_init

__all__ = ["convert", "data", "method", "networks", "transforms", "StarGANv2", "Generator", "MappingNetwork",
           "StyleEncoder", "Discriminator", "he_init", "ReferenceKey", "ReferencePairs", "ReferencePairSampler",
           "official_to_ganzoo", "ganzoo_to_official", "load_official_checkpoint", "load_official_weights"]
