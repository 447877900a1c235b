"""StarGAN v2 (Choi et al., CVPR 2020)."""
