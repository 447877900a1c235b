"""``ganzoo align`` with StarGAN v2's aligner: the geometry on given landmarks (a known similarity is undone), the
mirror padding, the mean-landmarks file's errors, and the plumbing FAN -> landmarks -> warp -> files with the
fixture's random-weight FAN (../shared/parity/fan/wing.ckpt): unreadable and unalignable files are reported and
skipped, existing outputs kept unless --overwrite."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganzoo.capabilities import FaceAligner, plugins_with
from ganzoo.cli import main
from ganzoo.errors import DataError
from ganzoo.plugins.stargan_v2.align import (SCALE_POINTS, UnalignableFace, align_to_reference, mirror_pad,
                                             read_mean_landmarks, similarity_matrix)
from ganzoo.plugins.stargan_v2.fan import FAN


def face_landmarks(seed: int = 0) -> np.ndarray:
    """A plausible 98-point face for 256 px (stand-in for celeba_lm_mean.npz): eyes at y 115, mouth corners at
    y 175, other points scattered over the face."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(70, 190, (98, 2))
    points[60:68] = np.array([95, 115]) + rng.normal(0, 4, (8, 2))
    points[68:76] = np.array([160, 115]) + rng.normal(0, 4, (8, 2))
    points[[96, 97, 76, 82]] = [[95, 115], [160, 115], [105, 175], [150, 175]]
    return points


def moved(points: np.ndarray, degrees: float, scale: float, shift: tuple[float, float],
          centre: tuple[float, float] = (128, 128)) -> np.ndarray:
    """``points`` rotated by ``degrees`` and scaled by ``scale`` about ``centre``, then shifted by ``shift``."""
    angle = math.radians(degrees)
    rotation = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return (points - centre) @ rotation.T + centre + shift


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:2, :2].T + matrix[:2, 2]


CASES = [(0, 1.0, (0, 0)), (17, 0.8, (12, -9)), (-35, 1.3, (-20, 15)), (170, 0.6, (5, 30))]


@pytest.mark.parametrize("degrees, scale, shift", CASES)
def test_similarity_undoes_a_known_rotation_scale_and_shift(degrees: float, scale: float,
                                                            shift: tuple[float, float]) -> None:
    reference = face_landmarks()
    landmarks = moved(reference, degrees, scale, shift)
    matrix = similarity_matrix(landmarks, reference)
    assert np.abs(apply(matrix, landmarks) - reference).max() < 1e-9
    linear = matrix[:2, :2]
    assert math.isclose(math.sqrt(abs(np.linalg.det(linear))), 1 / scale, rel_tol=1e-9)
    assert math.isclose(math.degrees(math.atan2(linear[1, 0], linear[0, 0])), -degrees, abs_tol=1e-7)


def test_scale_is_the_mean_distance_ratio_at_the_eyes_and_mouth() -> None:
    """Only the eye centres and mouth corners fix the scale (official ``landmarks2S``): moving other points away
    from the mean changes it only through the mean."""
    reference = face_landmarks()
    landmarks = reference.copy()
    landmarks[SCALE_POINTS[0]] += [0, -30]  # left eye centre 30 px further up
    matrix = similarity_matrix(landmarks, reference)
    mean = landmarks.mean(0)
    ratios = (np.linalg.norm(reference[list(SCALE_POINTS)] - reference.mean(0), axis=1)
              / np.linalg.norm(landmarks[list(SCALE_POINTS)] - mean, axis=1))
    assert math.isclose(math.sqrt(np.linalg.det(matrix[:2, :2])), ratios.mean(), rel_tol=1e-12)


def blob_image(centre: np.ndarray, size: int = 256, sigma: float = 2.5) -> np.ndarray:
    rows, cols = np.mgrid[:size, :size]
    blob = np.exp(-((cols - centre[0]) ** 2 + (rows - centre[1]) ** 2) / (2 * sigma ** 2))
    return np.repeat(np.rint(blob * 255).astype(np.uint8)[..., None], 3, axis=2)


@pytest.mark.parametrize("degrees, scale, shift", CASES)
def test_aligned_image_puts_the_eyes_and_mouth_on_the_reference(degrees: float, scale: float,
                                                                 shift: tuple[float, float]) -> None:
    """A photo whose landmarks are a known similarity of the reference: after padding and warping, a dot drawn at
    each eye centre and mouth corner lands on the reference point within a pixel (observed <= 0.05 px; asserted
    0.25 px, so that a half-pixel slip in the warp's pixel-centre convention, 0.7 px, fails)."""
    reference = face_landmarks()
    landmarks = moved(reference, degrees, scale, shift)
    for point in SCALE_POINTS:
        aligned = np.asarray(align_to_reference(blob_image(landmarks[point]), landmarks, reference), np.float64)
        assert aligned.shape == (256, 256, 3)
        x, y = np.rint(reference[point]).astype(int)
        window = aligned[y - 12:y + 13, x - 12:x + 13, 0]
        assert window.max() > 100, f"no dot near landmark {point}"
        rows, cols = np.mgrid[y - 12:y + 13, x - 12:x + 13]
        found = np.array([(cols * window).sum(), (rows * window).sum()]) / window.sum()
        assert np.linalg.norm(found - reference[point]) < 0.25, (point, found, reference[point])


def test_mirror_pad_keeps_the_image_and_blurs_towards_the_border() -> None:
    image = np.random.default_rng(1).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    landmarks = face_landmarks() / 2
    padded, shifted = mirror_pad(image, landmarks)
    assert padded.shape == (256, 256, 3) and padded.dtype == np.uint8
    assert np.array_equal(padded[64:192, 64:192], image)  # weight 1 over the image itself
    assert np.array_equal(shifted, landmarks + 64)
    mirrored = np.pad(image, ((64, 64), (64, 64), (0, 0)), mode="reflect")
    # the outer rows are the blurred copy: far smoother than the mirrored noise they replace
    assert padded[:4].astype(float).std() < 0.3 * mirrored[:4].astype(float).std()
    # just outside the image the weight is (63 / 64) ** 4 < 1: blended, not the mirror image
    assert not np.array_equal(padded[64:192, 63], mirrored[64:192, 63])


def test_degenerate_landmarks_are_unalignable() -> None:
    with pytest.raises(UnalignableFace, match="coincide"):
        similarity_matrix(np.full((98, 2), 50.0), face_landmarks())


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    (b"not a zip", "not a readable .npz"),
    ({"landmarks": np.zeros((98, 2))}, "holding the array 'mean'"),
    ({"mean": np.zeros((68, 2))}, r"shape \(98, 2\)"),
    ({"mean": np.array([object()] * 196, dtype=object).reshape(98, 2)}, "not a readable .npz"),
    ({"mean": np.full((98, 2), np.nan)}, "finite"),
])
def test_bad_mean_landmarks_files_name_the_file_and_its_source(tmp_path: Path, content, message: str) -> None:
    path = tmp_path / "celeba_lm_mean.npz"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        np.savez(path, **content)
    with pytest.raises(DataError, match=message) as error:
        read_mean_landmarks(path, 256)
    assert str(path) in str(error.value) and "download.sh" in str(error.value)


def test_mean_landmarks_scale_with_the_output_size(tmp_path: Path) -> None:
    np.savez(tmp_path / "m.npz", mean=face_landmarks())
    assert np.allclose(read_mean_landmarks(tmp_path / "m.npz", 128), face_landmarks() / 2)
    assert np.allclose(read_mean_landmarks(tmp_path / "m.npz", 512), face_landmarks() * 2)


def test_the_fan_is_the_registered_face_aligner() -> None:
    assert plugins_with("landmark_detector", FaceAligner) == ["wing_fan"]


# --- the command, with the fixture's random-weight FAN -------------------------------------------------------------

@pytest.fixture
def photos(tmp_path: Path, parity_dir: Path) -> dict[str, Path]:
    rng = np.random.default_rng(2)
    src = tmp_path / "photos"
    (src / "more").mkdir(parents=True)
    Image.fromarray(rng.integers(0, 256, (90, 70, 3), dtype=np.uint8)).save(src / "a.png")
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(src / "more" / "b.jpg")
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(src / "more" / "b.png")  # b.jpg's name
    (src / "broken.jpg").write_bytes(b"this is no image")
    np.savez(tmp_path / "celeba_lm_mean.npz", mean=face_landmarks())
    return {"src": src, "out": tmp_path / "aligned", "wing": parity_dir / "fan" / "wing.ckpt",
            "mean": tmp_path / "celeba_lm_mean.npz"}


def align(photos: dict[str, Path], *extra: str) -> None:
    main(["align", str(photos["src"]), str(photos["out"]), "--fan-weights", str(photos["wing"]),
          "--mean-landmarks", str(photos["mean"]), "--size", "64", *extra])


def said(capsys: pytest.CaptureFixture) -> str:
    return " ".join(capsys.readouterr().err.split())


def test_align_writes_what_the_fan_and_the_warp_make_and_skips_unreadable_files(
        photos: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    align(photos)
    err = said(capsys)
    out = photos["out"]
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == ["a.png", "more/b.png"]
    assert f"skipped {photos['src'] / 'broken.jpg'}: cannot be read" in err
    assert (f"skipped {photos['src'] / 'more' / 'b.png'}: its output {out / 'more' / 'b.png'} is "
            f"{photos['src'] / 'more' / 'b.jpg'}'s") in err
    assert "Aligned 2 images" in err and "skipped 2" in err

    fan = FAN()
    fan.load_weights(photos["wing"])
    reference = read_mean_landmarks(photos["mean"], 64)
    for name, source in (("a.png", "a.png"), ("more/b.png", "more/b.jpg")):
        resized = Image.open(photos["src"] / source).convert("RGB").resize((64, 64), Image.Resampling.BILINEAR)
        x = torch.from_numpy(np.array(resized)).permute(2, 0, 1)[None].float() / 127.5 - 1
        landmarks = fan.landmarks(x)[0].double().numpy()
        expected = np.asarray(align_to_reference(np.asarray(resized), landmarks, reference))
        written = np.asarray(Image.open(out / name))
        assert written.shape == (64, 64, 3)
        assert np.array_equal(written, expected), name


def test_existing_outputs_are_kept_unless_overwrite(photos: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    photos["out"] = photos["src"] / "aligned"  # inside SRC_DIR: its files are outputs, never photos to align
    align(photos)
    first = (photos["out"] / "a.png").read_bytes()
    Image.new("RGB", (64, 64)).save(photos["out"] / "a.png")
    capsys.readouterr()
    align(photos)
    err = said(capsys)
    assert f"kept {photos['out'] / 'a.png'}: it exists (pass --overwrite to replace it)" in err
    assert np.asarray(Image.open(photos["out"] / "a.png")).max() == 0  # untouched
    align(photos, "--overwrite")
    assert (photos["out"] / "a.png").read_bytes() == first
    assert not (photos["out"] / "aligned").exists()


def test_unalignable_photos_are_skipped_and_none_aligned_exits_2(
        photos: dict[str, Path], capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FAN, "landmarks", lambda self, x: torch.zeros(x.size(0), 98, 2))
    with pytest.raises(SystemExit) as exit_:
        align(photos)
    assert exit_.value.code == 2
    err = said(capsys)
    assert f"skipped {photos['src'] / 'a.png'}: cannot be aligned" in err
    assert "No image below" in err and "Traceback" not in err
    assert not list(photos["out"].rglob("*.png"))


@pytest.mark.parametrize("option, bad, message", [
    ("--fan-weights", "missing.ckpt", "--fan-weights must name the FAN weights file wing.ckpt"),
    ("--mean-landmarks", "missing.npz", "--mean-landmarks"),
])
def test_missing_files_exit_2_before_writing(photos: dict[str, Path], capsys: pytest.CaptureFixture,
                                            option: str, bad: str, message: str) -> None:
    photos[{"--fan-weights": "wing", "--mean-landmarks": "mean"}[option]] = photos["src"].parent / bad
    with pytest.raises(SystemExit) as exit_:
        align(photos)
    assert exit_.value.code == 2
    err = said(capsys)
    assert message in err and bad in err and "download.sh" in err
    assert not photos["out"].exists()


def test_an_unknown_detector_names_the_ones_that_align(photos: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        align(photos, "--detector", "wing_fa")
    assert "wing_fan" in said(capsys)
