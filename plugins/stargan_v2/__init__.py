"""StarGAN v2 (Choi et al., CVPR 2020): networks, training method, reference-pair data, augmentation and
official-checkpoint converter.

Importing the package registers the generator, mapping network, style encoder, discriminator, the face-landmark
network of the CelebA-HQ masks and of face alignment (``wing_fan``, ``fan.py``, ``masks.py``, ``align.py``) and
the ``stargan_v2`` training method. Its data is a view over the core image datasets (``data.py``), with the
official augmentation (``transforms.py``). Official checkpoints, the CelebA-HQ one with its FAN, become model
folders through ``ganzoo convert stargan-v2`` (``convert.py``).
"""

from . import align, convert, data, fan, masks, method, networks, transforms
from .convert import (ganzoo_to_official, load_fan_weights, load_official_checkpoint, load_official_weights,
                      official_fan_to_ganzoo, official_to_ganzoo)
from .fan import FAN
from .masks import face_masks
from .data import ReferenceKey, ReferencePairs, ReferencePairSampler
from .method import StarGANv2
from .networks import Discriminator, Generator, MappingNetwork, StyleEncoder, he_init

__all__ = ["align", "convert", "data", "fan", "masks", "method", "networks", "transforms", "FAN", "face_masks",
           "load_fan_weights", "official_fan_to_ganzoo", "StarGANv2", "Generator", "MappingNetwork",
           "StyleEncoder", "Discriminator", "he_init", "ReferenceKey", "ReferencePairs", "ReferencePairSampler",
           "official_to_ganzoo", "ganzoo_to_official", "load_official_checkpoint", "load_official_weights"]
