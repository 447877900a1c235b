"""Discovery and validation of the multi-domain folder layout ``ROOT/{train,val}/<domain>/*.<image>``.

Domains are the sorted sub-folder names of the split folder and their labels are their positions in
that order (AFHQ: cat=0, dog=1, wild=2). Images are found recursively; hidden files and folders
(``.ipynb_checkpoints``, macOS ``._*`` files) are ignored. Every problem is a :class:`DataError`
raised before any training work starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")

_LAYOUT_HINT = (
    "Expected layout: ROOT/train/<domain>/*.jpg (and optionally ROOT/val/<domain>/*.jpg), one sub-folder per "
    "domain; .jpg, .jpeg, .png, .bmp and .webp images are read. AFHQ comes from the official StarGAN v2 "
    "repository's download script (`bash download.sh afhq-dataset` in clovaai/stargan-v2); or use the built-in "
    "synthetic dataset: data.dataset=synthetic."
)


@dataclass(frozen=True)
class DomainFolders:
    """The images of one split: domain names in label order and, per domain, its sorted image paths."""

    split_dir: Path
    domains: tuple[str, ...]
    images: tuple[tuple[Path, ...], ...]


def has_split(root: str | Path, split: str) -> bool:
    """Whether ``ROOT/<split>`` exists (callers use it to fall back from ``val`` to ``train``)."""
    return (Path(root) / split).is_dir()


def scan_split(root: str | Path, split: str, num_domains: int | None) -> DomainFolders:
    """Find the domains and images of ``ROOT/<split>``; raise DataError unless it fits ``num_domains``
    (None: any number of domains, for callers that check the count themselves)."""
    root = Path(root)
    split_dir = root / split
    if not root.is_dir():
        raise DataError(f"Dataset folder {root} does not exist (data.root). {_LAYOUT_HINT}")
    if not split_dir.is_dir():
        raise DataError(f"Dataset folder {root} has no '{split}' folder. {_LAYOUT_HINT}")
    domains = sorted(p.name for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not domains:
        raise DataError(f"{split_dir} has no domain sub-folders. {_LAYOUT_HINT}")
    if num_domains is not None and len(domains) != num_domains:
        raise DataError(f"{split_dir} has {len(domains)} domain folders ({', '.join(domains)}) but "
                        f"data.num_domains={num_domains}. Set data.num_domains={len(domains)}, or add or remove "
                        f"domain folders.")
    images = tuple(_images_in(split_dir / name) for name in domains)
    for name, paths in zip(domains, images):
        if not paths:
            raise DataError(f"No images in domain folder {split_dir / name} (looked for "
                            f"{', '.join(IMAGE_EXTENSIONS)} files, any letter case). Add images or remove the folder.")
    return DomainFolders(split_dir, tuple(domains), images)


def _images_in(folder: Path) -> tuple[Path, ...]:
    found = (p for p in folder.rglob("*")
             if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
             and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    return tuple(sorted(found, key=lambda p: p.relative_to(folder).as_posix()))
