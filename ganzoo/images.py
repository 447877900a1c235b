"""Image tensors <-> files: the one place that knows how a tensor in [0, 1] becomes a PNG, and what a file
name built from a name that a method or a dataset chose may be (:func:`file_name_part`), so that no such
name writes outside the folder it is meant for."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torchvision
from PIL import Image, ImageDraw, ImageFont

from .errors import GanzooError, OutputError


def to_pil(image: torch.Tensor) -> Image.Image:
    """(3, H, W) float tensor in [0, 1] -> 8-bit RGB PIL image (rounded, as torchvision's save_image)."""
    array = image.detach().float().clamp(0, 1).mul(255).add(0.5).clamp(0, 255).to(torch.uint8)
    return Image.fromarray(array.permute(1, 2, 0).cpu().numpy())


def save_png(image: torch.Tensor, path: str | Path) -> Path:
    """Write a (3, H, W) tensor in [0, 1] as PNG, atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    to_pil(image).save(tmp, format="PNG")
    os.replace(tmp, path)
    return path


def file_name_part(name: str, what: str) -> str:
    """``name`` if it can be part of one file name: not empty, no path separator (``/``, or ``\\``, Windows'),
    no NUL, not ``.`` or ``..``, so a file named after it stays in its folder. GanzooError naming ``what``
    (e.g. ``"Sample grid name"``) otherwise."""
    if not name or name in (".", "..") or any(char in name for char in "/\\\0"):
        raise GanzooError(f"{what} {name!r} cannot be part of a file name: use a name without '/', '\\', NUL, "
                          f"and other than '.' and '..', so that the file stays in its folder.")
    return name


def sample_path(samples_dir: str | Path, iteration: int, grid: str) -> Path:
    """``samples_dir/iter_NNNNNNN_<grid>.png``, the file of sample grid ``grid`` after ``iteration`` iterations;
    GanzooError for a grid name that would leave ``samples_dir`` (:func:`file_name_part`)."""
    return Path(samples_dir) / f"iter_{iteration:07d}_{file_name_part(grid, 'Sample grid name')}.png"


def from_signed(images: torch.Tensor) -> torch.Tensor:
    """Map model images from [-1, 1] to [0, 1], clamping overshoot."""
    return images.add(1).div(2).clamp(0, 1)


def column_grid(columns: Sequence[torch.Tensor]) -> torch.Tensor:
    """One (3, H, W) grid in [0, 1] from batches of model images in [-1, 1]: row i shows image i of each
    batch, left to right (e.g. the source, then its translations)."""
    stacked = torch.stack(list(columns), dim=1)  # (B, K, 3, h, w)
    return torchvision.utils.make_grid(from_signed(stacked.flatten(0, 1)), nrow=len(columns))


def to_numpy(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) tensor in [0, 1] -> float32 array (1, 3, H, W), the layout trackers' image loggers take."""
    return image.detach().float().clamp(0, 1)[None].cpu().numpy()


def text_tile(text: str, size: int) -> torch.Tensor:
    """A (3, size, size) tile in [-1, 1] (a model image) showing ``text`` in black on white, PIL's default font,
    wrapped at spaces: the header of a grid column that has no image (a target domain)."""
    tile = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(tile)
    font = ImageFont.load_default(size=max(6, size // 8))
    lines: list[str] = []
    for word in text.split():
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= size - 4:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    draw.multiline_text((2, 2), "\n".join(lines), fill="black", font=font)
    pixels = torch.from_numpy(np.array(tile, dtype=np.uint8)).permute(2, 0, 1)
    return pixels.float().div(127.5).sub(1)


def headed_grid(header: torch.Tensor, sources: torch.Tensor, columns: Sequence[torch.Tensor]) -> torch.Tensor:
    """One (3, H, W) grid in [0, 1] from model images in [-1, 1]: a header row (a white corner, then ``header``
    (K, 3, S, S), one tile per column), then one row per source (B, 3, S, S): the source, then its image in
    each of the K ``columns`` (B, 3, S, S) (the official reference grid's layout)."""
    corner = torch.ones_like(sources[:1])
    return column_grid([torch.cat([corner, sources]), *(torch.cat([top[None], column])
                                                        for top, column in zip(header, columns))])


#: the file types :func:`save_animation` writes
ANIMATION_SUFFIXES = (".gif", ".mp4")


def check_animation_path(path: str | Path) -> Path:
    """``path`` if it names a GIF or an MP4; GanzooError otherwise (checked before any work is done)."""
    path = Path(path)
    if path.suffix.lower() not in ANIMATION_SUFFIXES:
        raise GanzooError(f"{path}: an animation is written as .gif or .mp4; name the output file so.")
    return path


def save_animation(frames: Sequence[torch.Tensor], path: str | Path, fps: float = 15.0) -> Path:
    """Write (3, H, W) frames in [0, 1] as a GIF (Pillow) or, for a ``.mp4`` path, as H.264 video through the
    ffmpeg that imageio-ffmpeg ships (OutputError naming ``pip install imageio-ffmpeg`` when it is missing).
    15 fps is the official StarGAN v2 video's rate (30 fps, slowed twice); a GIF counts hundredths of a second,
    so its frames last 70 ms. Written atomically."""
    path = check_animation_path(path)
    suffix = path.suffix.lower()
    pictures = [to_pil(frame) for frame in frames]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    if suffix == ".gif":
        pictures[0].save(tmp, format="GIF", save_all=True, append_images=pictures[1:], duration=10 * round(100 / fps),
                         loop=0)
    else:
        try:
            import imageio_ffmpeg
        except ImportError:
            raise OutputError(f"Writing {path.name} needs imageio-ffmpeg: pip install imageio-ffmpeg (or "
                              f"pip install 'ganzoo[video]'), or write a .gif.") from None
        width, height = pictures[0].size
        writer = imageio_ffmpeg.write_frames(str(tmp), (width, height), fps=fps, codec="libx264",
                                             pix_fmt_out="yuv420p", macro_block_size=2, output_params=["-f", "mp4"])
        writer.send(None)
        for picture in pictures:
            writer.send(np.ascontiguousarray(np.array(picture)))
        writer.close()
    os.replace(tmp, path)
    return path
