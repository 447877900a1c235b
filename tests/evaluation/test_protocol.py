"""The StarGAN v2 protocol on a tiny dataset: task enumeration, file naming, pairing, counts, networks built once,
and `ganzoo eval` end to end on an exported tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tiny import StubTranslator, TinyFeatures, images_of, make_dataset

from ganzoo.capabilities import StyleTranslator
from ganzoo.cli import main
from ganzoo.errors import DataError
from ganzoo.evaluation.lpips import LPIPS
from ganzoo.evaluation.protocol import ProtocolSettings, find_splits, run_protocol
from ganzoo.pretrained import MODEL_DIR, ModelConfig, method_from_spec, save_model
from ganzoo.recipe import RESOLVED_NAME, dump_recipe, load_recipe

COUNTS = {"a": (4, 2), "b": (3, 3), "c": (5, 1)}  # (train, val) images per domain
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module")
def lpips() -> LPIPS:
    return LPIPS("random")


def protocol(root: Path, tmp_path: Path, lpips: LPIPS, **settings):
    translator, extractor = StubTranslator(), TinyFeatures()
    splits = find_splits(root, list(COUNTS))
    settings = ProtocolSettings(**{"num_outs": 3, "batch_size": 2, "cache_dir": tmp_path / "cache", **settings})
    results = run_protocol(translator, splits, img_size=16, extractor=extractor, lpips=lpips,
                           device=torch.device("cpu"), settings=settings)
    return results, translator, extractor, splits


def test_tasks_files_counts_and_pairing(tmp_path, lpips):
    root = make_dataset(tmp_path / "data", COUNTS)
    results, translator, extractor, splits = protocol(root, tmp_path, lpips, image_dir=tmp_path / "images")
    assert isinstance(translator, StyleTranslator)
    tasks = [splits.task_name(s, t) for s, t in splits.tasks]
    assert tasks == ["b2a", "c2a", "a2b", "c2b", "a2c", "b2c"]  # every ordered pair, target-major
    for task in tasks:
        n_val = COUNTS[task[0]][1]
        assert results[f"num_fake/{task}"] == n_val * 3
        names = sorted(p.name for p in (tmp_path / "images" / task).iterdir())
        assert names == [f"{i:04d}_{j:02d}.png" for i in range(n_val) for j in range(3)]
        for mode in ("latent", "reference"):
            for metric in ("FID", "KID", "KID_std", "LPIPS"):
                assert isinstance(results[f"{metric}_{mode}/{task}"], float)
    for domain, (train, _) in COUNTS.items():
        assert results[f"num_real/{domain}"] == train
    for mode in ("latent", "reference"):
        assert results[f"FID_{mode}/mean"] == pytest.approx(sum(results[f"FID_{mode}/{t}"] for t in tasks) / 6)
        assert results[f"LPIPS_{mode}/mean"] > 0  # the outputs of one source differ
    # Real features once per domain for the whole evaluation (both modes), then the generated images.
    generated = 2 * sum(COUNTS[t[0]][1] * 3 for t in tasks)
    assert extractor.images_seen == sum(train for train, _ in COUNTS.values()) + generated
    assert TinyFeatures.built >= 1
    # Reference mode: every reference is a validation image of the task's target domain.
    targets = [t[-1] for t in tasks for _ in range(-(-COUNTS[t[0]][1] // 2) * 3)]
    assert len(translator.references) == len(targets)
    for refs, target in zip(translator.references, targets):
        pool = images_of(root / "val" / target, 16)
        assert all(any(torch.equal(ref, image) for image in pool) for ref in refs)


def test_same_seed_same_numbers_other_seed_other_numbers(tmp_path, lpips):
    root = make_dataset(tmp_path / "data", COUNTS)
    first, *_ = protocol(root, tmp_path, lpips, modes=("latent",), seed=1)
    again, *_ = protocol(root, tmp_path, lpips, modes=("latent",), seed=1)
    other, *_ = protocol(root, tmp_path, lpips, modes=("latent",), seed=2)
    assert first == again
    assert first["LPIPS_latent/mean"] != other["LPIPS_latent/mean"]
    assert not any(key.startswith("FID_reference") for key in first)


def test_domains_must_match_the_model(tmp_path):
    root = make_dataset(tmp_path / "data", COUNTS)
    with pytest.raises(DataError, match="trained on a, b, x"):
        find_splits(root, ["a", "b", "x"])
    (tmp_path / "noval" / "train" / "a").mkdir(parents=True)
    with pytest.raises(DataError, match="val"):
        find_splits(tmp_path / "noval", ["a"])


def export_tiny(run: Path, family: str) -> None:
    recipe = load_recipe(FIXTURES / {"stargan_v2": "tiny.yaml", "stargan_v1": "tiny_stargan_v1.yaml",
                                     "stylegan": "tiny_stylegan.yaml"}[family])
    torch.manual_seed(0)
    method = method_from_spec(recipe.method, img_size=recipe.data.img_size, num_domains=recipe.data.num_domains)
    domains = ["a", "b", "c", "d", "e"][:recipe.data.num_domains]
    save_model(run, {name: method.networks[name] for name in method.exported_networks},
               ModelConfig.for_recipe(recipe, domains))


def test_ganzoo_eval_builds_each_network_once_and_writes_the_results(tmp_path, monkeypatch):
    import ganzoo.evaluation.command as command
    from ganzoo.plugins.features.timm_model import TimmFeatures

    built = {"lpips": 0, "extractor": 0}

    class CountedLPIPS(LPIPS):
        def __init__(self, weights: str) -> None:
            built["lpips"] += 1
            super().__init__(weights)

    original = TimmFeatures.__init__

    def counted(self, *args, **kwargs):
        built["extractor"] += 1
        original(self, *args, **kwargs)

    monkeypatch.setattr(command, "LPIPS", CountedLPIPS)
    monkeypatch.setattr(TimmFeatures, "__init__", counted)
    monkeypatch.setenv("GANZOO_CACHE_DIR", str(tmp_path / "cache"))
    export_tiny(tmp_path / "run", "stargan_v2")
    root = make_dataset(tmp_path / "data", {"a": (3, 2), "b": (2, 1)})
    out = tmp_path / "results.json"
    main(["eval", str(tmp_path / "run"), "--data", str(root), "--extractor", "timm:resnet10t", "--feature-weights",
          "random", "--lpips-weights", "random", "--num-outs", "2", "--out", str(out)])
    assert built == {"lpips": 1, "extractor": 1}
    results = json.loads(out.read_text())
    assert set(k for k in results if k.startswith("FID_")) == {
        "FID_latent/b2a", "FID_latent/a2b", "FID_latent/mean",
        "FID_reference/b2a", "FID_reference/a2b", "FID_reference/mean"}
    assert results["num_generated"] == 2 * (2 + 1) * 2 and results["seed"] == 777
    assert results["extractor"].startswith("timm(resnet10t, weights=random")
    assert results["images_per_s"] > 0 and results["wall_time_s"] > 0


def test_ganzoo_eval_gives_the_fid_of_latent_samples_at_a_truncation(tmp_path, monkeypatch):
    """StyleGAN (a LatentSampler): FID and KID of --num-samples samples at --psi against the run's training images;
    the same seed gives the same figures, another psi other ones."""
    monkeypatch.setenv("GANZOO_CACHE_DIR", str(tmp_path / "cache"))
    run = tmp_path / "run"
    recipe = load_recipe(FIXTURES / "tiny_stylegan.yaml", [f"data.root={tmp_path / 'data'}", f"output_dir={run}"])
    torch.manual_seed(0)
    method = method_from_spec(recipe.method, img_size=recipe.data.img_size, num_domains=recipe.data.num_domains)
    save_model(run / MODEL_DIR, {name: method.networks[name] for name in method.exported_networks},
               ModelConfig.for_recipe(recipe, ["a", "b"]))
    dump_recipe(recipe, run / RESOLVED_NAME)

    def evaluate(psi: str, out: str) -> dict:
        main(["eval", str(run), "--extractor", "timm:resnet10t", "--feature-weights", "random", "--num-samples", "6",
              "--psi", psi, "--out", str(tmp_path / out)])
        return json.loads((tmp_path / out).read_text())

    first, again, truncated = evaluate("1", "a.json"), evaluate("1", "b.json"), evaluate("0.5", "c.json")
    assert first["protocol"] == "latent_samples" and first["num_generated"] == 6 and first["num_real"] == 16
    assert first["FID_samples/mean"] > 0 and first["FID_samples/mean"] == again["FID_samples/mean"]
    assert truncated["psi"] == 0.5 and truncated["FID_samples/mean"] != first["FID_samples/mean"]
