"""Adversarial losses and discriminator regularizers, registered under the ``loss`` kind."""

from . import adversarial, regularizers, relativistic
from .adversarial import Hinge, LeastSquares, NonSaturating, Wasserstein
from .regularizers import R1, R2, GradientPenalty
from .relativistic import RelativisticAverage, RelativisticPairing

__all__ = ["adversarial", "regularizers", "relativistic", "NonSaturating", "Hinge", "LeastSquares", "Wasserstein",
           "RelativisticAverage", "RelativisticPairing", "R1", "R2", "GradientPenalty"]
