"""``ganzoo push``: the dry-run folder holds exactly what an upload sends and loads back with identical outputs;
the card's metadata and sections; the upload against a local stand-in for the Hub's HTTP API; clear errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

import ganzoo
from ganzoo.cli import main
from ganzoo.card import CardFacts, model_card, read_evaluations
from ganzoo.errors import DataError, HubError, OutputError
from ganzoo.method import StepContext
from ganzoo.push import push
from ganzoo.recipe import load_recipe
from ganzoo.sessions import Session, read_sessions
from ganzoo.trainer import train
from hub_standin import READ_TOKEN, USER, WRITE_TOKEN, HubStandIn

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "tiny.yaml"
REPO = Path(__file__).resolve().parents[2]
EXPECTED_FILES = ["README.md", "config.json", "generator.safetensors", "mapping_network.safetensors", "recipe.yaml",
                  "samples/latent.png", "samples/reference.png", "style_encoder.safetensors"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A finished tiny StarGAN v2 run (4 iterations) with an evaluation result, written by the evaluation code
    (``train.eval_every``, a random timm extractor)."""
    root = tmp_path_factory.mktemp("push")
    recipe = load_recipe(TINY, [f"output_dir={root / 'run'}", f"data.root={root / 'data'}", "train.eval_every=4",
                                "eval.extractor={name: timm, model: resnet10t, weights: random, input_size: 32}",
                                "eval.lpips_weights=random", "eval.num_outs=2", "eval.mode=latent"])
    train(recipe)
    return root / "run"


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n", 2)[1])


def test_dry_run_writes_the_model_card_and_the_files_and_loads_back_identically(run_dir, tmp_path):
    out = tmp_path / "dry"
    assert push(run_dir, "alice/tiny", dry_run=out) == str(out)
    assert sorted(files_of(out)) == EXPECTED_FILES
    card = (out / "README.md").read_text()
    meta = front_matter(card)
    assert meta["library_name"] == "ganzoo" and meta["license"] == "apache-2.0"
    assert meta["pipeline_tag"] == "image-to-image" and meta["tags"] == ["gan", "stargan_v2", "image-to-image"]
    assert meta["datasets"] == ["synthetic"]
    results = json.loads((run_dir / "eval" / "iter_0000004.json").read_text())
    means = {key: value for key, value in results.items() if key.endswith("/mean")}
    assert set(means) == {"FID_latent/mean", "KID_latent/mean", "LPIPS_latent/mean"}
    assert [m for r in meta["model-index"][0]["results"] for m in r["metrics"]] == \
        [{"type": key, "value": value} for key, value in means.items()]
    assert f"| FID_latent/mean | {means['FID_latent/mean']:g} | {results['extractor']} |" in card
    assert results["extractor"].startswith("timm(resnet10t")
    assert "![samples/latent.png](samples/latent.png)" in card
    assert (out / "recipe.yaml").read_text() == (run_dir / "recipe.resolved.yaml").read_text()
    assert (out / "recipe.yaml").read_text().rstrip() in card
    assert "| 4 |" in card and "1 x CPU" in card and "| no |" in card  # iterations, hardware, precision
    assert "clovaai/stargan-v2" in card  # the family's parity evidence
    for name in ("latent", "reference"):  # the newest iteration's grids
        assert (out / "samples" / f"{name}.png").read_bytes() == \
            (run_dir / "samples" / f"iter_0000004_{name}.png").read_bytes()

    trained, reloaded = ganzoo.from_pretrained(run_dir, device="cpu"), ganzoo.from_pretrained(out, device="cpu")
    batch = trained.method.random_batch(2, torch.device("cpu"), torch.Generator().manual_seed(0))
    ctx = StepContext(iteration=0, seed=0, device=torch.device("cpu"), local_batch=2)
    expected = trained.method.sample_grids(trained.networks, batch, ctx)
    got = reloaded.method.sample_grids(reloaded.networks, batch, ctx)
    assert expected.keys() == got.keys() and all(torch.equal(expected[k], got[k]) for k in expected)


def test_the_cards_usage_snippet_runs_when_pasted(run_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "dry"
    push(run_dir, "alice/tiny", dry_run=out)
    snippet = (out / "README.md").read_text().split("```python\n")[1].split("```")[0]
    monkeypatch.setattr("huggingface_hub.snapshot_download", lambda repo_id, **_: str(out) if repo_id == "alice/tiny"
                        else pytest.fail(f"snippet downloads {repo_id}"))
    exec(compile(snippet, "card-usage", "exec"), {})
    assert "['0_red_circle', '1_green_square'] 16 ['generator', 'mapping_network', 'style_encoder']" in \
        capsys.readouterr().out


def test_upload_sends_exactly_the_dry_run_files(run_dir, tmp_path):
    push(run_dir, "alice/tiny", dry_run=tmp_path / "dry")
    with HubStandIn() as hub:
        url = push(run_dir, "alice/tiny", private=True, token=WRITE_TOKEN, endpoint=hub.url)
        assert url.startswith(f"{hub.url}/alice/tiny/commit/")
        assert hub.repos["alice/tiny"] == files_of(tmp_path / "dry")
        assert hub.created == {"alice/tiny": "private"}
        assert hub.validated[0]["library_name"] == "ganzoo"
        push(run_dir / "model", "alice/tiny", token=WRITE_TOKEN, endpoint=hub.url)  # again: the repo exists
        assert hub.repos["alice/tiny"] == files_of(tmp_path / "dry")


@pytest.mark.parametrize("token, repo_id, expected", [
    (None, "alice/tiny", "not logged in"),
    ("hf_unknown", "alice/tiny", "refused your token (HTTP 401"),
    (READ_TOKEN, "alice/tiny", "does not let your token write to alice/tiny (HTTP 403)"),
    (WRITE_TOKEN, "bob/tiny", "does not let your token write to bob/tiny (HTTP 403)"),
])
def test_login_and_permission_errors_are_clear_and_upload_nothing(run_dir, tmp_path, monkeypatch, token, repo_id,
                                                                   expected):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr("huggingface_hub.constants.HF_STORED_TOKENS_PATH", str(tmp_path / "no-tokens"))
    with HubStandIn() as hub:
        with pytest.raises(HubError, match=re.escape(expected)) as info:
            push(run_dir, repo_id, token=token, endpoint=hub.url)
        assert "hf auth login" in str(info.value) or "write access" in str(info.value)
        assert not any(hub.repos.values())


def test_network_errors_and_bad_repo_ids_are_clear(run_dir, tmp_path):
    with HubStandIn() as hub:
        endpoint = hub.url
    with pytest.raises(HubError, match="Could not reach the Hugging Face Hub at .*Check the network"):
        push(run_dir, "alice/tiny", token=WRITE_TOKEN, endpoint=endpoint)  # the stand-in has stopped
    for bad in ("tiny", "alice/tiny/extra", "alice/", "alice/ti ny", "alice/..x"):
        with pytest.raises(HubError, match="is not a Hub repository id: use USER/NAME"):
            push(run_dir, bad, dry_run=tmp_path / "never")
    assert not (tmp_path / "never").exists()


def test_dry_run_refuses_a_folder_that_is_not_empty(run_dir, tmp_path):
    (tmp_path / "dry").mkdir()
    (tmp_path / "dry" / "old.txt").write_text("x")
    with pytest.raises(OutputError, match="already exists and is not an empty folder"):
        push(run_dir, "alice/tiny", dry_run=tmp_path / "dry")


def test_cli_push_exits_2_with_one_message_when_not_logged_in(run_dir, tmp_path):
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "OMP_NUM_THREADS": "1"}
    env.pop("HF_TOKEN", None)
    with HubStandIn() as hub:
        env["HF_ENDPOINT"] = hub.url
        done = subprocess.run([sys.executable, "-m", "ganzoo", "push", str(run_dir), "--repo-id", f"{USER}/tiny"],
                              capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "not logged in to the Hugging Face Hub" in done.stderr and "Traceback" not in done.stderr


def test_converted_official_weights_carry_their_licence_in_metadata_and_text():
    facts = CardFacts(repo_id="alice/stargan-v2-afhq", method="stargan_v2", summary="StarGAN v2.", img_size=256,
                      domains=["cat", "dog", "wild"], pipeline_tag="image-to-image", license="cc-by-nc-4.0",
                      source="the official StarGAN v2 release (clovaai/stargan-v2)")
    card = model_card(facts)
    assert front_matter(card)["license"] == "cc-by-nc-4.0"
    assert "may not be used commercially" in card and "converted from the official StarGAN v2 release" in card
    assert "Not recorded" in card and "## Recipe" not in card  # a model folder without its run


def test_the_license_and_source_of_config_json_are_read(run_dir, tmp_path):
    shutil.copytree(run_dir / "model", tmp_path / "model")
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["license"] is None and config["source"] == "trained with ganzoo"
    (tmp_path / "model" / "config.json").write_text(json.dumps({**config, "license": "cc-by-nc-4.0",
                                                                "source": "official clovaai/stargan-v2 x.ckpt"}))
    push(tmp_path / "model", "alice/converted", dry_run=tmp_path / "dry")
    card = (tmp_path / "dry" / "README.md").read_text()
    assert front_matter(card)["license"] == "cc-by-nc-4.0"
    assert "converted from official clovaai/stargan-v2 x.ckpt" in card
    trained = (tmp_path / "dry2" / "README.md")
    push(run_dir, "alice/tiny", dry_run=tmp_path / "dry2")
    assert "converted from" not in trained.read_text()  # ganzoo-trained weights: no conversion source


def test_save_pretrained_and_export_write_the_card_push_writes(run_dir, tmp_path):
    push(run_dir, "alice/tiny", dry_run=tmp_path / "dry")
    pushed = re.sub(r"## Samples\n\n.*?\n\n(?=## )", "", (tmp_path / "dry" / "README.md").read_text(), flags=re.S)
    model = ganzoo.from_pretrained(run_dir, device="cpu")
    model.save_pretrained(tmp_path / "saved", model_card_kwargs={"repo_id": "alice/tiny"})
    saved = (tmp_path / "saved" / "README.md").read_text()
    assert saved == pushed and "## Samples" not in saved and "ModelHubMixin" not in saved
    main(["export", str(run_dir), str(tmp_path / "exported")])
    exported = (tmp_path / "exported" / "README.md").read_text()
    assert f'ganzoo.from_pretrained("{tmp_path / "exported"}", device="cpu")' in exported  # runs as pasted here
    assert exported.replace(str(tmp_path / "exported"), "alice/tiny") == saved


def test_training_figures_sum_over_resumed_sessions(run_dir):
    first = read_sessions(run_dir)
    assert [(s.start_iteration, s.end_iteration, s.processes, s.mixed_precision) for s in first] == [(0, 4, 1, "no")]
    assert first[0].hardware.startswith("1 x CPU") and 0 < first[0].wall_time_s < 600
    sessions = [Session(0, 300, 40.0, "1 x NVIDIA H200", 1, "bf16"), Session(300, 420, 25.4, "1 x NVIDIA H200", 1, "bf16")]
    facts = CardFacts(repo_id="a/b", method="stargan_v2", summary="s", img_size=32, domains=["x"],
                      pipeline_tag="image-to-image", sessions=sessions)
    assert "| 420 | 1 min 05 s | 1 x NVIDIA H200 | bf16 | 2 |" in model_card(facts)


def test_an_eval_file_without_numeric_mean_metrics_is_a_data_error(tmp_path):
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "broken.json").write_text(json.dumps({"FID_latent/mean": "low", "metrics": {"fid": 1.0}}))
    with pytest.raises(DataError, match="broken.json has no mean metric"):
        read_evaluations(tmp_path, [])
    (tmp_path / "eval" / "broken.json").write_text("[1, 2]")
    with pytest.raises(DataError, match="broken.json is not an object of evaluation results"):
        read_evaluations(tmp_path, [])


def test_the_sharing_pages_example_metadata_is_what_push_writes(run_dir, tmp_path):
    page = (REPO / "docs" / "sharing.md").read_text()
    example = yaml.safe_load(page.split("## The model card")[1].split("```yaml\n")[1].split("```")[0])
    shutil.copytree(run_dir, tmp_path / "run", ignore=shutil.ignore_patterns("eval", "checkpoints"))
    push(tmp_path / "run", "alice/tiny", dry_run=tmp_path / "dry")  # this run has no eval/ folder
    assert front_matter((tmp_path / "dry" / "README.md").read_text()) == example
