"""The GPU table of docs/performance.md in one run: StarGAN v2 at 256 px, batch 8, in each precision.

    python benchmarks/gpu_table.py [--iters 10] [--warmup 3] [ganzoo overrides ...]

Each row is one ``ganzoo bench recipes/stargan_v2_afhq.yaml`` child process (so each peak memory is its own), in
priority order: float32 (TF32 off everywhere: ``NVIDIA_TF32_OVERRIDE=0``), TF32 (PyTorch's default for
convolutions), bf16, fp16 (Accelerate's loss scaler). ``torch.compile`` has no recipe switch, so it has no row.
Prints a markdown table (s/iter, images/s, peak GPU memory, dtype, layout) and, last, one JSON line with
every child's result. Exits with a message when no CUDA device is visible.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "stargan_v2_afhq.yaml"
#: row name -> (extra environment, recipe overrides)
ROWS = {
    "float32": ({"NVIDIA_TF32_OVERRIDE": "0"}, ["train.mixed_precision=no"]),
    "TF32": ({}, ["train.mixed_precision=no"]),
    "bf16": ({}, ["train.mixed_precision=bf16"]),
    "fp16": ({}, ["train.mixed_precision=fp16"]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*", help="more ganzoo recipe overrides (key=value)")
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    a = parser.parse_intermixed_args()
    import torch

    if not torch.cuda.is_available():
        sys.exit("No CUDA device is visible: this script measures the GPU rows of docs/performance.md.")
    results = {}
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, 256 px, batch 8\n")
    print("| precision | s/iter | images/s | peak GPU MB | dtype | layout |\n|---|---|---|---|---|---|", flush=True)
    for name, (env, overrides) in ROWS.items():
        cmd = [sys.executable, "-m", "ganzoo", "bench", str(RECIPE), "data.img_size=256", "train.batch_size=8",
               *overrides, *a.overrides, "--iters", str(a.iters), "--warmup", str(a.warmup)]
        done = subprocess.run(cmd, env={**os.environ, **env}, stdout=subprocess.PIPE, text=True)
        if done.returncode != 0:
            print(f"| {name} | failed (exit {done.returncode}) | | | | |", flush=True)
            continue
        r = results[name] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"| {name} | {r['s_per_iter']:.3f} | {r['img_per_s']:.1f} | {r.get('peak_gpu_mb', 0):.0f} | "
              f"{r['dtype']} | {r['layout']} |", flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
