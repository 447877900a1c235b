"""``ganzoo.from_pretrained`` with a Hugging Face Hub id: resolved through huggingface_hub's cache, which the
tests lay out by hand (``models--USER--NAME/snapshots/<revision>/...`` and ``refs/main``), since nothing can be
downloaded here. huggingface_hub reads HF_HUB_OFFLINE, HF_HUB_CACHE and HF_ENDPOINT when it is imported, so
each case runs in a fresh interpreter with its environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from ganzoo.errors import CheckpointError
from ganzoo.hub import model_folder
from ganzoo.pretrained import MODEL_DIR

from test_pretrained import export

REVISION = "0123456789abcdef0123456789abcdef01234567"


def fake_cache(tmp_path: Path) -> Path:
    """A Hub cache holding user/tiny-stargan-v2 at REVISION on main: a tiny exported model."""
    export(tmp_path / "run")
    cache = tmp_path / "hub"
    repo = cache / "models--user--tiny-stargan-v2"
    shutil.copytree(tmp_path / "run" / MODEL_DIR, repo / "snapshots" / REVISION)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REVISION)
    return cache


def run_python(script: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={**environ, "OMP_NUM_THREADS": "1", **env})


def test_hub_id_loads_offline_from_the_cache_and_translates_in_two_lines(tmp_path):
    cache = fake_cache(tmp_path)
    Image.new("RGB", (30, 20), "red").save(tmp_path / "face.png")
    script = f"""
import ganzoo
from PIL import Image
images = [Image.open({str(tmp_path / 'face.png')!r})]
model = ganzoo.from_pretrained("user/tiny-stargan-v2")
out = model.translate(images, target="domain1", seed=0)
assert out[0].size == (16, 16), out
print(model.path)
try:
    ganzoo.from_pretrained("user/not-cached")
except ganzoo.GanzooError as exc:
    print(exc)
"""
    result = run_python(script, HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(cache))
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0] == str(cache / "models--user--tiny-stargan-v2" / "snapshots" / REVISION)
    assert lines[1].startswith(f"user/not-cached@main is not in the Hugging Face cache ({cache}) and downloads are off "
                               f"(HF_HUB_OFFLINE=1 or local_files_only). Connect and run again")


def test_no_network_is_a_clear_message_and_the_cache_still_serves(tmp_path):
    cache = fake_cache(tmp_path)
    script = """
import ganzoo
print(ganzoo.from_pretrained("user/tiny-stargan-v2").domains)
try:
    ganzoo.from_pretrained("user/not-cached")
except ganzoo.GanzooError as exc:
    print(exc)
"""
    result = run_python(script, HF_HUB_CACHE=str(cache), HF_ENDPOINT="http://127.0.0.1:9", HF_HUB_ETAG_TIMEOUT="2",
                        HF_HUB_DOWNLOAD_TIMEOUT="2")
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "['domain0', 'domain1']"
    assert lines[1].startswith("user/not-cached@main is not in the Hugging Face cache") and \
        "the Hub cannot be reached (no network?)" in lines[1]


def test_neither_a_folder_nor_a_repo_id(tmp_path):
    with pytest.raises(CheckpointError, match=r"is neither an existing folder nor a Hugging Face Hub repository id"):
        model_folder(tmp_path / "missing" / "model")
