"""Adversarial losses and regularizers."""
