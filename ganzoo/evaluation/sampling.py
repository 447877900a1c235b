"""FID of N samples of a latent generator (``ganzoo.interfaces.LatentGenerator``, ``G(z, y)``: StyleGAN), at a
truncation ψ when the generator takes one."""

from __future__ import annotations

import inspect

import torch
from torch import Tensor

from ..errors import GanzooError
from ..interfaces import FeatureExtractor, LatentGenerator
from ..seeding import register_stream
from .features import Progress, extract, to_images
from .metrics import frechet_distance

SAMPLE_STREAM = register_stream("eval.latent_samples", 0x4556414D)
#: latents per generator forward
BATCH_SIZE = 32


def takes_keyword(module: torch.nn.Module, name: str) -> bool:
    """Whether ``module``'s forward names a parameter ``name`` (a bare ``**kwargs`` does not count: it says
    nothing about what the generator does with it)."""
    return name in inspect.signature(module.forward).parameters


@torch.no_grad()
def sample_features(generator: LatentGenerator, num_samples: int, *, extractor: FeatureExtractor,
                    device: torch.device, seed: int, num_domains: int | None = None, psi: float | None = None,
                    batch_size: int = BATCH_SIZE, progress: Progress | None = None) -> Tensor:
    """Features (num_samples, D) of ``num_samples`` images ``G(z, y)`` with ``z ~ N(0, I)`` (B, latent_dim) and, for
    a class-conditional generator (``num_domains`` given), labels ``y`` uniform over the domains, drawn from
    ``seed``. ``psi`` (truncation) is passed as the keyword ``psi`` only when it is given; GanzooError when
    the generator's forward takes no ``psi``."""
    if psi is not None and not takes_keyword(generator, "psi"):
        raise GanzooError(f"{type(generator).__name__} takes no truncation psi; leave psi unset for it.")
    kwargs = {} if psi is None else {"psi": psi}
    rng = SAMPLE_STREAM.generator(seed)
    chunks = []
    for start in range(0, num_samples, batch_size):
        n = min(batch_size, num_samples - start)
        z = torch.randn(n, generator.latent_dim, generator=rng).to(device)
        y = None if num_domains is None else torch.randint(num_domains, (n,), generator=rng).to(device)
        chunks.append(extract(extractor, to_images(generator(z, y, **kwargs)), device=device, progress=progress))
    return torch.cat(chunks)


def sample_fid(generator: LatentGenerator, real: Tensor, num_samples: int, **kwargs) -> float:
    """FID of ``num_samples`` samples of ``generator`` (see :func:`sample_features`, which takes ``kwargs``) against
    the real features ``real`` (N, D)."""
    return frechet_distance(real, sample_features(generator, num_samples, **kwargs))
