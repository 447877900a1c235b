"""Evaluation: FID/KID (:mod:`.metrics`), LPIPS (:mod:`.lpips`), features and their cache (:mod:`.features`), the
StarGAN v2 protocol (:mod:`.protocol`), the attribute-editing protocol (:mod:`.attributes`) and its judge
classifier (:mod:`.judge`), FID of latent-generator samples (:mod:`.sampling`), ``ganzoo eval``
(:mod:`.command`) and ``ganzoo compare`` (:mod:`.compare`)."""
