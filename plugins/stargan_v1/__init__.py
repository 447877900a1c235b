"""StarGAN v1 (Choi et al., CVPR 2018): networks, training method, datasets and official-checkpoint converter.

Importing the package registers the ``stargan_v1`` generator, discriminator and training method, and
the ``celeba``, ``label_folder``, ``synthetic_labels`` and ``joint`` datasets.
"""

from . import convert, datasets, edit, labels, method, networks
from .convert import (ganzoo_to_official, load_official_checkpoint, load_official_models, load_official_weights,
                      official_to_ganzoo)
from .datasets import CelebADataset, JointDataset, LabelFolderDataset, SyntheticLabelsDataset, read_attribute_file
from .labels import LabelGroup, LabelLayout
from .method import StarGANv1
from .networks import Discriminator, Generator

__all__ = ["convert", "datasets", "edit", "labels", "method", "networks", "StarGANv1", "Generator", "Discriminator",
           "LabelGroup", "LabelLayout", "CelebADataset", "LabelFolderDataset", "SyntheticLabelsDataset",
           "JointDataset", "read_attribute_file", "official_to_ganzoo", "ganzoo_to_official",
           "load_official_checkpoint", "load_official_models", "load_official_weights"]
