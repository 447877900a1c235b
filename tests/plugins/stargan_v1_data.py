"""Generated stand-ins for CelebA (attribute file + images) and RaFD (one folder per class) for the v1 tests."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from PIL import Image

#: a subset of the 40 CelebA attribute names, in the file's order
CELEBA_NAMES = ("Bald", "Black_Hair", "Blond_Hair", "Brown_Hair", "Eyeglasses", "Gray_Hair", "Male", "Smiling",
                "Young")
RAFD_CLASSES = ("angry", "happy", "neutral")


def attribute_value(row: int, column: int) -> bool:
    """The generated value of attribute ``column`` for image ``row`` (a fixed, varied pattern)."""
    return (row * 7 + column * 3) % 5 < 2


def write_celeba(root: Path, count: int = 12, size: tuple[int, int] = (18, 22),
                 names: Sequence[str] = CELEBA_NAMES) -> Path:
    """ROOT/list_attr_celeba.txt and ROOT/images/NNNNNN.png, CelebA's layout; images coloured by row, their
    left third darker (so a flip shows)."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    lines = [str(count), " ".join(names)]
    for row in range(count):
        name = f"{row + 1:06d}.png"
        image = Image.new("RGB", size, (20 * row % 256, 100, 200))
        image.paste((0, 0, 0), (0, 0, size[0] // 3, size[1]))
        image.save(root / "images" / name)
        values = ["1" if attribute_value(row, c) else "-1" for c in range(len(names))]
        lines.append(f"{name}  {' '.join(values)}")
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    return root


def write_rafd(root: Path, per_class: int = 3, size: int = 20, split: str = "train",
               classes: Sequence[str] = RAFD_CLASSES) -> Path:
    """ROOT/<split>/<class>/*.png, RaFD's layout; every image's colour says its class."""
    for label, name in enumerate(classes):
        folder = root / split / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.new("RGB", (size, size), (80 * label, 10 * i, 30)).save(folder / f"{i:03d}.png")
    return root
