"""The one image reader: every kind of file decodes to the pixels a viewer shows, or is skipped with the counted
warning; no file crashes a run or is silently misread. Expected values are computed from the file's own
numbers (e.g. 30000 in a 16-bit file is 30000 / 65535 * 255 = 116.7, so 117)."""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganzoo.data import BACKGROUND, ImageFiles, UnreadableImageWarning, read_image
from ganzoo.errors import DataError

WHITE = BACKGROUND[0]
assert BACKGROUND == (255, 255, 255), "the expected values below composite on white"


def pixels(path: Path) -> np.ndarray:
    """What the reader makes of ``path``: (H, W, 3) uint8, with no warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = read_image(path)
    assert image.mode == "RGB"
    return np.asarray(image)


def grey(value: int) -> list[int]:
    return [value, value, value]


def over_white(colour: tuple[int, ...], alpha: int) -> list[int]:
    """``colour`` at opacity ``alpha`` / 255 over white, rounded to nearest."""
    return [int(np.floor(c * alpha / 255 + WHITE * (255 - alpha) / 255 + 0.5)) for c in colour]


def png(path: Path, width: int, height: int, colour_type: int, bit_depth: int, rows: list[bytes]) -> Path:
    """A PNG written byte by byte, for what Pillow cannot write (16-bit RGB, 16-bit grey + alpha, 2-bit grey)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))
    return path


def tiff(path: Path, width: int, bits: int, sample_format: int, data: bytes) -> Path:
    """A one-row greyscale TIFF written byte by byte (12-bit, unsigned 32-bit: what Pillow cannot write)."""
    entries = [(256, width), (257, 1), (258, bits), (259, 1), (262, 1), (273, 0), (277, 1), (278, 1),
               (279, len(data)), (339, sample_format)]
    offset = 8 + 2 + 12 * len(entries) + 4
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHII", tag, 4, 1, offset if tag == 273 else value) for tag, value in entries)
    path.write_bytes(b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + data)
    return path


# --- 8-bit files: exactly what Pillow decodes -------------------------------------------------------------------

def test_8_bit_rgb_is_decoded_exactly_as_before(tmp_path):
    values = np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    Image.fromarray(values).save(tmp_path / "a.png")
    assert np.array_equal(pixels(tmp_path / "a.png"), values)


@pytest.mark.parametrize(("mode", "value", "expected"), [("L", 77, grey(77)), ("1", 1, grey(255)), ("1", 0, grey(0))])
def test_8_bit_and_1_bit_grey(tmp_path, mode, value, expected):
    Image.new(mode, (3, 2), value).save(tmp_path / "g.png")
    assert pixels(tmp_path / "g.png").tolist() == [[expected] * 3] * 2


def test_2_and_4_bit_grey_are_scaled_to_8_bits(tmp_path):
    path = png(tmp_path / "g2.png", 4, 1, 0, 2, [bytes([0b00011011])])  # 0, 1, 2, 3 of 3
    assert pixels(path)[0].tolist() == [grey(0), grey(85), grey(170), grey(255)]


def test_a_png_named_jpg_is_read_by_its_content(tmp_path):
    Image.new("RGB", (2, 2), (10, 20, 30)).save(tmp_path / "really_a_png.jpg", format="PNG")
    assert pixels(tmp_path / "really_a_png.jpg")[0, 0].tolist() == [10, 20, 30]


# --- more than 8 bits: rescaled by the bit depth, never clipped -------------------------------------------------

SIXTEEN = np.array([[0, 257, 30000, 65535]], np.uint16)
SIXTEEN_SEEN = [grey(0), grey(1), grey(117), grey(255)]  # value / 257, rounded


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_16_bit_grey_is_rescaled_not_clipped(tmp_path, fmt):
    path = tmp_path / f"g16.{fmt.lower()}"
    Image.fromarray(SIXTEEN).save(path, format=fmt)
    assert Image.open(path).mode == "I;16"
    assert pixels(path)[0].tolist() == SIXTEEN_SEEN


@pytest.mark.parametrize(("mode", "dtype"), [("I;16B", ">u2"), ("I;16L", "<u2")])
def test_16_bit_grey_of_either_byte_order(tmp_path, mode, dtype):
    path = tmp_path / "g16.tif"
    Image.frombytes(mode, (4, 1), SIXTEEN.astype(dtype).tobytes()).save(path)
    assert Image.open(path).mode.startswith("I;16")
    assert pixels(path)[0].tolist() == SIXTEEN_SEEN


def test_12_bit_tiff_is_rescaled_by_its_own_bit_depth(tmp_path):
    path = tiff(tmp_path / "g12.tif", 2, 12, 1, bytes([0xFF, 0xF8, 0x00]))  # 4095, 2048 packed in 12 bits
    assert Image.open(path).mode == "I;16"  # Pillow's container; the file's white is 4095
    assert pixels(path)[0].tolist() == [grey(255), grey(128)]  # 2048 / 4095 * 255 = 127.5


def test_16_bit_pgm_is_rescaled_by_its_maxval(tmp_path):
    path = tmp_path / "g.pgm"
    path.write_bytes(b"P5\n3 1\n1023\n" + np.array([0, 512, 1023], ">u2").tobytes())
    assert Image.open(path).mode == "I"
    assert pixels(path)[0].tolist() == [grey(0), grey(128), grey(255)]  # 512 / 1023 * 255 = 127.6


def test_16_bit_rgb_and_grey_alpha_pngs(tmp_path):
    rgb = png(tmp_path / "rgb16.png", 1, 1, 2, 16, [np.array([30000, 0, 65535], ">u2").tobytes()])
    assert pixels(rgb)[0, 0].tolist() == [117, 0, 255]
    grey_alpha = png(tmp_path / "la16.png", 1, 1, 4, 16, [np.array([30000, 32768], ">u2").tobytes()])
    assert pixels(grey_alpha)[0, 0].tolist() == over_white((117, 117, 117), 128)


def test_float_image_in_0_1_is_scaled(tmp_path):
    Image.fromarray(np.array([[0.0, 0.25, 0.5, 1.0]], np.float32)).save(tmp_path / "f.tif")
    assert pixels(tmp_path / "f.tif")[0].tolist() == [grey(0), grey(64), grey(128), grey(255)]


# --- transparency: composited on the white background -----------------------------------------------------------

def test_rgba_is_composited_on_white(tmp_path):
    image = Image.new("RGBA", (3, 1))
    for x, alpha in enumerate((0, 128, 255)):
        image.putpixel((x, 0), (250, 30, 90, alpha))
    image.save(tmp_path / "a.png")
    assert pixels(tmp_path / "a.png")[0].tolist() == [[255, 255, 255], over_white((250, 30, 90), 128), [250, 30, 90]]


def test_grey_alpha_is_composited_on_white(tmp_path):
    Image.merge("LA", (Image.new("L", (2, 1), 100), Image.frombytes("L", (2, 1), bytes([0, 255])))).save(
        tmp_path / "la.png")
    assert pixels(tmp_path / "la.png")[0].tolist() == [grey(255), grey(100)]


def test_palette_with_transparency_is_composited_on_white(tmp_path):
    image = Image.new("P", (3, 1))
    image.putpalette([250, 30, 90, 10, 200, 10, 0, 0, 0])
    image.putdata([0, 1, 2])
    image.save(tmp_path / "p.png", transparency=bytes([128, 255, 0]))  # per entry: half, opaque, invisible
    assert pixels(tmp_path / "p.png")[0].tolist() == [over_white((250, 30, 90), 128), [10, 200, 10], [255, 255, 255]]


@pytest.mark.parametrize(("mode", "key", "other"), [("RGB", (1, 2, 3), (40, 50, 60)), ("L", 5, 90)])
def test_colour_key_transparency_is_composited_on_white(tmp_path, mode, key, other):
    image = Image.new(mode, (2, 1), key)
    image.putpixel((1, 0), other)
    image.save(tmp_path / "k.png", transparency=key)
    seen = pixels(tmp_path / "k.png")[0].tolist()
    assert seen == [[255, 255, 255], list(other) if mode == "RGB" else grey(other)]


def test_16_bit_grey_with_colour_key(tmp_path):
    Image.fromarray(np.array([[5, 30000]], np.uint16)).save(tmp_path / "k16.png", transparency=5)
    assert pixels(tmp_path / "k16.png")[0].tolist() == [grey(255), grey(117)]


# --- other colour spaces ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("cmyk", "rgb"), [((0, 255, 255, 0), (255, 0, 0)), ((0, 0, 0, 255), (0, 0, 0)),
                                           ((0, 0, 0, 0), (255, 255, 255))])
def test_cmyk(tmp_path, cmyk, rgb):
    Image.new("CMYK", (2, 2), cmyk).save(tmp_path / "c.tif")
    assert pixels(tmp_path / "c.tif")[0, 0].tolist() == list(rgb)


def test_cmyk_jpeg(tmp_path):
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "c.jpg", quality=100)
    assert np.abs(pixels(tmp_path / "c.jpg")[0, 0].astype(int) - [255, 0, 0]).max() <= 2  # JPEG rounding


def test_lab_tiff(tmp_path):
    Image.new("RGB", (2, 2), (120, 60, 200)).convert("LAB").save(tmp_path / "lab.tif")
    assert np.abs(pixels(tmp_path / "lab.tif")[0, 0].astype(int) - [120, 60, 200]).max() <= 1  # 8-bit LAB


# --- multi-frame files: the first frame -------------------------------------------------------------------------

def test_animated_gif_first_frame(tmp_path):
    frames = [Image.new("RGB", (2, 2), colour) for colour in ((10, 20, 30), (200, 0, 0), (0, 200, 0))]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=50)
    assert Image.open(tmp_path / "a.gif").n_frames == 3
    assert pixels(tmp_path / "a.gif")[0, 0].tolist() == [10, 20, 30]


@pytest.mark.parametrize("fmt", ["PNG", "TIFF", "WEBP"])
def test_multi_frame_png_tiff_webp_first_frame(tmp_path, fmt):
    frames = [Image.new("RGB", (4, 4), colour) for colour in ((10, 120, 30), (200, 0, 0))]
    path = tmp_path / f"a.{fmt.lower()}"
    frames[0].save(path, format=fmt, save_all=True, append_images=frames[1:], **({"lossless": True} if fmt == "WEBP"
                                                                                  else {}))
    assert Image.open(path).n_frames == 2
    assert pixels(path)[0, 0].tolist() == [10, 120, 30]


# --- EXIF orientation: turned as a viewer turns it --------------------------------------------------------------

def _marked(path: Path, orientation: int, **save) -> Path:
    """A 24x16 image of 8x8 blocks, black but for the red top-left block, whose EXIF orientation is ``orientation``
    (blocks, so that JPEG's 8x8 transform keeps the red where it is)."""
    image = Image.new("RGB", (24, 16))
    image.paste((255, 0, 0), (0, 0, 8, 8))
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.save(path, exif=exif.tobytes(), **save)
    return path


def _blocks(seen: np.ndarray) -> np.ndarray:
    """The mean red of each 8x8 block: (rows, columns) of blocks."""
    rows, columns = seen.shape[0] // 8, seen.shape[1] // 8
    return seen[..., 0].reshape(rows, 8, columns, 8).mean(axis=(1, 3))


@pytest.mark.parametrize(("orientation", "blocks", "red_at"), [
    (1, (2, 3), (0, 0)),  # (rows, columns) of 8x8 blocks in the result and (row, column) of the red block
    (2, (2, 3), (0, 2)),  # mirrored
    (3, (2, 3), (1, 2)),  # turned 180
    (6, (3, 2), (0, 1)),  # turned 90 clockwise for display
    (8, (3, 2), (2, 0)),  # turned 90 anticlockwise
])
@pytest.mark.parametrize("fmt", ["png", "jpg", "tif"])
def test_exif_orientation(tmp_path, orientation, blocks, red_at, fmt):
    save = {"quality": 100, "subsampling": 0} if fmt == "jpg" else {}
    red = _blocks(pixels(_marked(tmp_path / f"o.{fmt}", orientation, **save)))
    assert red.shape == blocks
    others = np.delete(red.ravel(), np.ravel_multi_index(red_at, blocks))
    assert red[red_at] > 250 and others.max() < 5


def test_16_bit_image_is_turned_too(tmp_path):
    values = np.zeros((2, 3), np.uint16)
    values[0, 0] = 65535
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(values).save(tmp_path / "o16.png", exif=exif.tobytes())
    seen = pixels(tmp_path / "o16.png")
    assert seen.shape[:2] == (3, 2) and seen[0, 1].tolist() == grey(255) and seen.sum() == 3 * 255


def test_malformed_orientation_is_ignored(tmp_path):
    seen = pixels(_marked(tmp_path / "bad.png", 9))
    assert seen.shape[:2] == (16, 24) and seen[0, 0].tolist() == [255, 0, 0]


# --- files that cannot be shown faithfully, or at all: skipped with the counted warning -------------------------

def _truncated_png() -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((32, 32), 50).convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()[:300]


UNREADABLE = {
    "garbage": lambda p: p.write_bytes(b"this is not an image"),
    "empty": lambda p: p.write_bytes(b""),
    "truncated png": lambda p: p.write_bytes(_truncated_png()),
    "macos appledouble": lambda p: p.write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(64)),
    "float above 1": lambda p: Image.fromarray(np.array([[0.0, 2.0]], np.float32)).save(p, format="TIFF"),
    "float below 0": lambda p: Image.fromarray(np.array([[-0.5, 0.5]], np.float32)).save(p, format="TIFF"),
    "float nan": lambda p: Image.fromarray(np.array([[np.nan, 0.5]], np.float32)).save(p, format="TIFF"),
    "float inf": lambda p: Image.fromarray(np.array([[np.inf, 0.5]], np.float32)).save(p, format="TIFF"),
    "signed 32-bit": lambda p: Image.fromarray(np.array([[-5, 70000]], np.int32)).save(p, format="TIFF"),
    "unsigned 32-bit": lambda p: tiff(p, 2, 32, 1, struct.pack("<II", 2 ** 32 - 1, 2 ** 31)),
    "signed 16-bit": lambda p: tiff(p, 2, 16, 2, struct.pack("<hh", -5, 300)),
}


@pytest.mark.parametrize("kind", list(UNREADABLE))
def test_unmappable_or_undecodable_files_are_skipped_with_the_counted_warning(tmp_path, kind):
    bad, good = tmp_path / "bad.png", tmp_path / "good.png"
    UNREADABLE[kind](bad)
    Image.new("RGB", (2, 2), (1, 2, 3)).save(good)
    files = ImageFiles([bad, good])
    with pytest.warns(UnreadableImageWarning, match=f"Skipping unreadable image {bad} \\(1 skipped so far\\): "):
        index, image = files.read_first([0, 1], "the test files")
    assert index == 1 and np.asarray(image)[0, 0].tolist() == [1, 2, 3]
    assert files.num_skipped == 1 and files.read(0) is None  # remembered: no second warning, no second decode


def test_a_decompression_bomb_is_skipped(tmp_path, monkeypatch):
    Image.new("RGB", (100, 100)).save(tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 100x100 is over twice the limit: Pillow refuses it
    with pytest.warns(UnreadableImageWarning, match="decompression bomb"):
        assert ImageFiles([tmp_path / "bomb.png"]).read(0) is None


def test_no_readable_file_is_one_data_error(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"")
    files = ImageFiles([tmp_path / "bad.png"])
    with pytest.warns(UnreadableImageWarning), pytest.raises(DataError, match="Every image of domain 'x' is unread"):
        files.require_readable([("domain 'x'", range(1))])
