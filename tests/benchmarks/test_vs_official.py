"""benchmarks/vs_official.py: one official iteration is the official loop's sequence of calls; a folder that is
not a checkout is refused with the fix. A stand-in ``core`` package records the calls (no official code here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "vs_official.py"

STAND_IN = {
    "core/__init__.py": "",
    "core/utils.py": "def he_init(module):\n    pass\n",
    "core/model.py": """
import torch.nn as nn
from munch import Munch
def build_model(args):
    nets = Munch({n: nn.Linear(2, 1) for n in ("generator", "mapping_network", "style_encoder", "discriminator")})
    return nets, Munch({n: nn.Linear(2, 1) for n in ("generator", "mapping_network", "style_encoder")})
""",
    "core/solver.py": """
import ffmpeg, metrics.eval  # what the official solver imports and a w_hpf=0 iteration never uses
CALLS = []
def _loss(nets, x):
    return sum(net.weight.sum() for net in nets.values()) + 0 * x.sum()
def compute_d_loss(nets, args, x_real, y_org, y_trg, z_trg=None, x_ref=None, masks=None):
    CALLS.append("d_latent" if z_trg is not None else "d_reference")
    return _loss(nets, x_real), {}
def compute_g_loss(nets, args, x_real, y_org, y_trg, z_trgs=None, x_refs=None, masks=None):
    CALLS.append("g_latent" if z_trgs is not None else "g_reference")
    return _loss(nets, x_real), {}
def moving_average(model, model_test, beta=0.999):
    CALLS.append(f"ema {beta}")
    print(",".join(CALLS), file=open(__file__ + ".calls", "w"))
""",
}


def test_an_official_iteration_is_the_official_loops_calls(tmp_path):
    for name, text in STAND_IN.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    out = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path), "--only-official", "--img-size", "8",
                          "--batch-size", "2", "--iters", "2", "--warmup", "1", "--profile"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    figures = json.loads(out.stdout.splitlines()[-1])
    assert figures["s_per_iter"] > 0 and figures["peak_rss_mb"] > 0 and figures["op_split"]["total"] > 0
    calls = (tmp_path / "core" / "solver.py.calls").read_text().strip().split(",")
    one = ["d_latent", "d_reference", "g_latent", "g_reference"] + ["ema 0.999"] * 3
    assert calls == one * 4  # 1 warm-up + 2 timed + 1 profiled


def test_a_folder_that_is_not_a_checkout_is_refused(tmp_path):
    out = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path), "--only-official"], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 1 and "not a checkout of clovaai/stargan-v2" in out.stderr
    assert "Traceback" not in out.stderr

