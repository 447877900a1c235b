"""Discovery and validation of the multi-domain folder layout ``ROOT/{train,val}/<domain>/*.<image>``.

Domains are the sorted sub-folder names of the split folder and their labels are their positions in
that order (AFHQ: cat=0, dog=1, wild=2). Images are found recursively. Hidden files and folders are
ignored by one rule (:func:`is_hidden`), in every folder ganzoo reads (``ganzoo translate`` included). Every
problem is a :class:`DataError` raised before any training work starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
#: folders that tools create beside users' images and hide from them: macOS zip archives' resource forks,
#: Synology NAS thumbnails (real JPEGs, which would otherwise be read as training images)
HIDDEN_FOLDERS = frozenset({"__MACOSX", "@eaDir"})

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

    @property
    def paths(self) -> list[Path]:
        """Every image, domain after domain: the index space of :meth:`domain_ranges`."""
        return [path for paths in self.images for path in paths]

    def domain_ranges(self) -> list[tuple[str, range]]:
        """Per domain, in label order: a description for messages (``"domain 'cat' in data/train"``) and the
        indices of its images in :attr:`paths`."""
        ranges, start = [], 0
        for name, paths in zip(self.domains, self.images):
            ranges.append((f"domain {name!r} in {self.split_dir}", range(start, start + len(paths))))
            start += len(paths)
        return ranges


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
    return scan_domains(split_dir, num_domains, _LAYOUT_HINT)


def scan_domains(folder: Path, num_domains: int | None, hint: str) -> DomainFolders:
    """The domains of ``folder`` (its sorted, non-hidden sub-folders) and their images (found recursively); DataError,
    ending with ``hint`` (the expected layout), when there is none, when their number is not ``num_domains`` (None:
    any number), or when one holds no image."""
    domains = sorted(p.name for p in folder.iterdir() if p.is_dir() and not is_hidden(p.name))
    if not domains:
        raise DataError(f"{folder} has no domain sub-folders. {hint}")
    if num_domains is not None and len(domains) != num_domains:
        raise DataError(f"{folder} has {len(domains)} domain folders ({', '.join(domains)}) but "
                        f"data.num_domains={num_domains}. Set data.num_domains={len(domains)}, or add or remove "
                        f"domain folders.")
    images = tuple(find_images(folder / name, recursive=True) for name in domains)
    for name, paths in zip(domains, images):
        if not paths:
            raise DataError(f"No images in domain folder {folder / name} (looked for "
                            f"{', '.join(IMAGE_EXTENSIONS)} files, any letter case). Add images or remove the folder.")
    return DomainFolders(folder, tuple(domains), images)


def is_hidden(name: str) -> bool:
    """Whether a file or folder named ``name`` is hidden from ganzoo, as a file browser hides it: dot-files and
    dot-folders (``.DS_Store``, macOS ``._*`` AppleDouble files, ``.ipynb_checkpoints/``, ``.git/``) and
    :data:`HIDDEN_FOLDERS`. Everything inside a hidden folder is hidden too (see :func:`find_images`)."""
    return name.startswith(".") or name in HIDDEN_FOLDERS


def find_images(folder: str | Path, *, recursive: bool) -> tuple[Path, ...]:
    """The image files (:data:`IMAGE_EXTENSIONS`, any letter case) in ``folder``, or below it with ``recursive``,
    sorted by their path below ``folder``; hidden files and whatever is inside hidden folders are left out."""
    folder = Path(folder)
    found = (p for p in (folder.rglob("*") if recursive else folder.iterdir())
             if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
             and not any(is_hidden(part) for part in p.relative_to(folder).parts))
    return tuple(sorted(found, key=lambda p: p.relative_to(folder).as_posix()))
