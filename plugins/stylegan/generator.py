"""StyleGAN's style-based generator (Karras et al., CVPR 2019, §2 and figure 1b), registered as generator
``stylegan``: the mapping network f: z -> w, then the synthesis network g: a learned 4x4 constant, one
:class:`~.layers.StyledConvBlock` per resolution up to ``img_size`` (two styled layers each, so one style per layer:
``num_ws = 2·log2(img_size) − 2``, 18 at 1024), and a ToRGB 1x1 equalized conv of gain 1 (official
``networks_stylegan.py`` G_synthesis; no progressive growing, no final tanh).

Style mixing (§3.1) and truncation (§3.1, appendix B) act on the per-layer styles ``ws`` (B, num_ws, w_dim):
:func:`mix_styles` takes the layers ``[start, stop)`` from a second set of styles. Training mixes from one crossover
point on (stylegan2-ada ``loss.py`` ``run_G``); ``ganzoo sample --mixing`` swaps the coarse, middle or fine layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from torch import Tensor, nn

from ganzoo import interfaces
from ganzoo.registry import register
from ganzoo.schema import option

from .layers import EqualConv2d, StyledConvBlock
from .mapping import MappingNetwork
from .sizes import channels_at, check_stylegan_size, resolutions

#: the layer groups of the paper's style-mixing figure (§3.1, figure 3), by the resolution a layer works at
MIXING_GROUPS = {"coarse": (4, 8), "middle": (16, 32), "fine": (64, 1 << 30)}


def mix_styles(ws: Tensor, other: Tensor, start: int, stop: int | None = None) -> Tensor:
    """``ws`` (B, num_ws, w_dim) with the layers ``[start, stop)`` (to the end when ``stop`` is None) taken from
    ``other`` (the same shape). Returns a new tensor; ``start >= num_ws`` returns a copy of ``ws``."""
    out = ws.clone()
    out[:, start:stop] = other[:, start:stop]
    return out


class SynthesisNetwork(nn.Module):
    """g(ws, noise) -> images (B, 3, img_size, img_size), float, unbounded (about [-1, 1] once trained).

    ``ws`` (B, num_ws, w_dim): layer ``i`` takes ``ws[:, i]``. ``noise`` is None (every layer uses its fixed
    ``noise_const`` buffer) or one map per layer, layer ``i`` of shape (B or 1, 1, R_i, R_i) with
    R_i = :attr:`layer_resolutions` ``[i]``, standard normal.
    """

    def __init__(self, img_size: int, w_dim: int, *, fmap_base: int, fmap_max: int) -> None:
        super().__init__()
        self.img_size = img_size
        blocks, in_channels = [], None
        for resolution in resolutions(img_size):
            out_channels = channels_at(resolution, fmap_base, fmap_max)
            blocks.append(StyledConvBlock(in_channels or out_channels, out_channels, w_dim, resolution))
            in_channels = out_channels
        self.blocks = nn.ModuleList(blocks)
        self.to_rgb = EqualConv2d(in_channels, 3, 1, gain=1.0)
        self.layer_resolutions: tuple[int, ...] = tuple(r for r in resolutions(img_size) for _ in range(2))

    @property
    def num_ws(self) -> int:
        """Styles the network takes: one per styled layer."""
        return len(self.layer_resolutions)

    def forward(self, ws: Tensor, noise: Sequence[Tensor | None] | None = None) -> Tensor:
        if noise is None:
            noise = [None] * self.num_ws
        if ws.shape[1] != self.num_ws or len(noise) != self.num_ws:
            raise ValueError(f"the synthesis network takes {self.num_ws} styles and noise maps; got {ws.shape[1]} "
                             f"and {len(noise)}")
        x = None
        for index, block in enumerate(self.blocks):
            layers = slice(2 * index, 2 * index + 2)
            x = block(x, tuple(ws[:, layers].unbind(1)), tuple(noise[layers]))
        return self.to_rgb(x)


@register("generator", "stylegan")
class StyleGANGenerator(interfaces.LatentGenerator):
    """StyleGAN's generator ``G(z, y) -> (B, 3, img_size, img_size)`` from z (B, latent_dim) float and, for a
    class-conditional generator (``num_domains > 1``), labels y int64 (B,) in ``[0, num_domains)`` fed to the
    mapping network's embedding (y is ignored when ``num_domains == 1``).

    Context: ``img_size`` (a power of two >= 8, else RecipeError), ``latent_dim``, ``num_domains``.
    """

    @dataclass
    class Config:
        w_dim: int = option(512, "Size of w, the intermediate latent (StyleGAN: 512).", min=1)
        mapping: MappingNetwork.Config = option(MappingNetwork.Config(), "The mapping network's options "
                                                "(style source stylegan_mapping).")
        fmap_base: int = option(8192, "Channel rule: the block at resolution R has min(fmap_base / (R/2), fmap_max) "
                                      "channels (StyleGAN1: 8192).", min=1)
        fmap_max: int = option(512, "Most channels of a block.", min=1)

    def __init__(self, config: Config, *, img_size: int, latent_dim: int, num_domains: int = 1) -> None:
        super().__init__()
        self.check_img_size(img_size, config)
        self.config = config
        self.img_size, self.latent_dim, self.num_domains = img_size, latent_dim, num_domains
        self.mapping = MappingNetwork(config.mapping, latent_dim=latent_dim, style_dim=config.w_dim,
                                      num_domains=num_domains)
        self.synthesis = SynthesisNetwork(img_size, config.w_dim, fmap_base=config.fmap_base,
                                          fmap_max=config.fmap_max)

    @classmethod
    def check_img_size(cls, img_size: int, config: Config) -> None:
        check_stylegan_size(img_size, "StyleGAN's generator")

    @property
    def num_ws(self) -> int:
        """Styles per image: ``2·log2(img_size) − 2``."""
        return self.synthesis.num_ws

    @property
    def layer_resolutions(self) -> tuple[int, ...]:
        """The resolution each styled layer (and its noise map) works at, in layer order."""
        return self.synthesis.layer_resolutions

    def styles(self, z: Tensor, y: Tensor | None = None, *, psi: float = 1.0, truncation_cutoff: int | None = None,
               update_w_avg: bool = True) -> Tensor:
        """The per-layer styles ws (B, num_ws, w_dim) of z: the mapping network's w, broadcast, truncated with
        ``psi`` on the first ``truncation_cutoff`` layers (all when None). In training mode ``w_avg`` moves
        towards the batch's mean w unless ``update_w_avg`` is False."""
        return self.mapping(z, y, psi=psi, truncation_cutoff=truncation_cutoff, num_ws=self.num_ws,
                            update_w_avg=update_w_avg)

    def forward(self, z: Tensor, y: Tensor | None = None, *, psi: float = 1.0, truncation_cutoff: int | None = None,
                noise: Sequence[Tensor | None] | None = None, mixing: tuple[Tensor, int] | None = None) -> Tensor:
        """Images (B, 3, img_size, img_size). ``noise``: one map per layer (see :class:`SynthesisNetwork`) or None
        for the fixed ``noise_const`` maps. ``mixing = (z2, cutoff)``: the layers from ``cutoff`` on take the styles
        of ``z2`` (B, latent_dim), whose w does not update ``w_avg`` (style-mixing regularization, §3.1)."""
        ws = self.styles(z, y, psi=psi, truncation_cutoff=truncation_cutoff)
        if mixing is not None and mixing[1] < self.num_ws:
            z2, cutoff = mixing
            ws = mix_styles(ws, self.styles(z2, y, psi=psi, truncation_cutoff=truncation_cutoff, update_w_avg=False),
                            cutoff)
        return self.synthesis(ws, noise)

    def draw_noise(self, randn: Callable[..., Tensor]) -> list[Tensor]:
        """One noise map per layer, in layer order: ``randn(1, R_i, R_i)``, a per-sample standard-normal draw of
        shape (B, 1, R_i, R_i) (``StepContext.randn`` in training, a seeded CPU draw when sampling)."""
        return [randn(1, r, r) for r in self.layer_resolutions]

    def layers_of(self, group: str) -> range:
        """The style layers of a style-mixing group of :data:`MIXING_GROUPS` (``coarse``, ``middle``, ``fine``);
        empty when the generator has no layer at those resolutions."""
        low, high = MIXING_GROUPS[group]
        index = [i for i, r in enumerate(self.layer_resolutions) if low <= r <= high]
        return range(index[0], index[-1] + 1) if index else range(0)
