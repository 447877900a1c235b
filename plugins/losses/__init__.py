"""Adversarial losses and discriminator regularizers, registered under the ``loss`` kind."""

from . import adversarial, regularizers
from .adversarial import Hinge, LeastSquares, NonSaturating, Wasserstein
from .regularizers import GradientPenalty, R1

__all__ = ["adversarial", "regularizers", "NonSaturating", "Hinge", "LeastSquares", "Wasserstein", "R1",
           "GradientPenalty"]
