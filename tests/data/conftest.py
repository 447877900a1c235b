"""Tiny image folders built in tmp_path for the data tests."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping

import pytest
from PIL import Image

MakeFolders = Callable[..., Path]


@pytest.fixture
def make_folders(tmp_path: Path) -> MakeFolders:
    """``make_folders({"cat": 3, "dog": 2}, split="train", size=12)`` -> ROOT with distinct solid-colour PNGs."""

    def make(counts: Mapping[str, int], split: str = "train", size: int = 12, root: Path | None = None) -> Path:
        root = root or tmp_path / "data"
        for label, (domain, count) in enumerate(counts.items()):
            folder = root / split / domain
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                colour = (40 * label % 256, (17 * i) % 256, 200)
                Image.new("RGB", (size + i, size), colour).save(folder / f"img{i:03d}.png")
        return root

    return make
