"""Time the official StarGAN v2 training iteration and ganzoo's, side by side, in one run of this script.

    python benchmarks/vs_official.py /path/to/stargan-v2 --img-size 64 --batch-size 4 --num-domains 3 \\
        --iters 2 --warmup 1 --rounds 2 [ganzoo overrides, e.g. train.channels_last=false]

OFFICIAL is a checkout of https://github.com/clovaai/stargan-v2 kept outside this repository (nothing of it
is copied here: this script imports its ``core`` package from that folder). It needs ``munch``
(``pip install ganzoo[official-bench]``); the modules the official code imports only for data, FAN,
evaluation or videos (cv2, skimage, ffmpeg, ``metrics.eval``) are replaced by empty ones when missing,
since a training iteration at ``w_hpf=0`` never calls them.

One official iteration is what the official ``Solver.train`` loop does per step, with the official
functions: ``compute_d_loss`` with a latent code then with a reference, each followed by a D step;
``compute_g_loss`` with latent codes (G, F and E step) then with references (G steps); then
``moving_average`` of G, F and E (beta 0.999). Inputs are random tensors of the dataset's shapes; networks
are built by the official ``build_model`` and initialised with its ``he_init``; Adam as the official
``Solver`` makes it (lr 1e-4, F's 1e-6, betas (0, 0.99), weight decay 1e-4). ganzoo's iteration is
``ganzoo bench recipes/stargan_v2_afhq.yaml`` with the same sizes, i.e. the same math.

Each side runs in a child process of its own (so each peak RSS is its own), alternating official, ganzoo,
official, ... for ``--rounds`` rounds, so that load from other processes falls on both sides alike. Every
child uses this process's thread count. The script prints one JSON line: both sides' per-round medians,
the median over rounds, their ratio (``speedup``: official / ganzoo) and both peak RSS.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

# modules the official package imports at the top but a w_hpf=0 training iteration never uses
_UNUSED_BY_TRAINING = ("cv2", "skimage", "skimage.filters", "ffmpeg", "metrics", "metrics.eval")


def _import_official(official: Path) -> types.SimpleNamespace:
    """The official ``core.model`` / ``core.solver`` / ``core.utils`` modules, from the checkout ``official``."""
    if not (official / "core" / "solver.py").is_file():
        sys.exit(f"{official} is not a checkout of clovaai/stargan-v2 (no core/solver.py). "
                 f"Clone https://github.com/clovaai/stargan-v2 outside this repository and pass its path.")
    for name in _UNUSED_BY_TRAINING:
        try:
            importlib.import_module(name)
        except ImportError:
            stub = types.ModuleType(name)
            stub.gaussian = stub.calculate_metrics = None  # names imported with `from ... import`
            sys.modules[name] = stub
    sys.path.insert(0, str(official))
    import core.model
    import core.solver
    import core.utils
    return types.SimpleNamespace(model=core.model, solver=core.solver, utils=core.utils)


def time_official(official: Path, img_size: int, batch_size: int, num_domains: int, iters: int,
                  warmup: int, profile: bool = False) -> dict:
    """Median seconds per official training iteration (see the module docstring) and this process's peak RSS;
    with ``profile``, the ``op_split`` of one more iteration (:func:`ganzoo.op_split.op_split`)."""
    import torch
    from munch import Munch

    mod = _import_official(official)
    torch.manual_seed(777)
    args = Munch(img_size=img_size, style_dim=64, latent_dim=16, num_domains=num_domains, w_hpf=0.0,
                 lambda_reg=1.0, lambda_sty=1.0, lambda_ds=2.0, lambda_cyc=1.0)
    nets, nets_ema = mod.model.build_model(args)
    for net in nets.values():
        net.apply(mod.utils.he_init)
    optims = Munch({name: torch.optim.Adam(net.parameters(), lr=1e-6 if name == "mapping_network" else 1e-4,
                                           betas=(0.0, 0.99), weight_decay=1e-4) for name, net in nets.items()})
    gen = torch.Generator().manual_seed(0)
    x_real, x_ref, x_ref2 = (torch.rand(batch_size, 3, img_size, img_size, generator=gen) * 2 - 1 for _ in range(3))
    y_org, y_trg = (torch.randint(num_domains, (batch_size,), generator=gen) for _ in range(2))
    z_trg, z_trg2 = (torch.randn(batch_size, 16, generator=gen) for _ in range(2))

    def step(loss: torch.Tensor, *names: str) -> None:
        for optim in optims.values():
            optim.zero_grad()
        loss.backward()
        for name in names:
            optims[name].step()

    def iteration() -> None:
        step(mod.solver.compute_d_loss(nets, args, x_real, y_org, y_trg, z_trg=z_trg)[0], "discriminator")
        step(mod.solver.compute_d_loss(nets, args, x_real, y_org, y_trg, x_ref=x_ref)[0], "discriminator")
        step(mod.solver.compute_g_loss(nets, args, x_real, y_org, y_trg, z_trgs=[z_trg, z_trg2])[0],
             "generator", "mapping_network", "style_encoder")
        step(mod.solver.compute_g_loss(nets, args, x_real, y_org, y_trg, x_refs=[x_ref, x_ref2])[0], "generator")
        for name in ("generator", "mapping_network", "style_encoder"):
            mod.solver.moving_average(nets[name], nets_ema[name], beta=0.999)

    times = []
    for _ in range(warmup + iters):
        tic = time.perf_counter()
        iteration()
        times.append(time.perf_counter() - tic)
    result = {"s_per_iter": statistics.median(times[warmup:]), "threads": torch.get_num_threads(),
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if profile:
        from ganzoo.op_split import op_split
        result["op_split"] = op_split(iteration)
    return result


def _child(argv: list[str]) -> dict:
    """Run ``argv`` and parse the JSON object on the last line of its stdout."""
    out = subprocess.run(argv, check=True, stdout=subprocess.PIPE, text=True).stdout  # stderr shows
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("official", type=Path, help="checkout of clovaai/stargan-v2")
    parser.add_argument("overrides", nargs="*", help="ganzoo recipe overrides (key=value)")
    parser.add_argument("--img-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--num-domains", type=int, default=3)
    parser.add_argument("--iters", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2, help="official/ganzoo alternations")
    parser.add_argument("--profile", action="store_true",
                        help="also the per-operator split of one more iteration on each side (last round)")
    parser.add_argument("--only-official", action="store_true", help=argparse.SUPPRESS)  # the child's mode
    a = parser.parse_intermixed_args()
    sizes = (a.img_size, a.batch_size, a.num_domains, a.iters, a.warmup)
    if a.only_official:
        print(json.dumps(time_official(a.official.resolve(), *sizes, profile=a.profile)))
        return
    import torch

    env_threads = str(torch.get_num_threads())
    os.environ.setdefault("OMP_NUM_THREADS", env_threads)
    official_cmd = [sys.executable, __file__, str(a.official), "--only-official", "--img-size", str(a.img_size),
                    "--batch-size", str(a.batch_size), "--num-domains", str(a.num_domains), "--iters", str(a.iters),
                    "--warmup", str(a.warmup)]
    recipe = Path(__file__).resolve().parents[1] / "recipes" / "stargan_v2_afhq.yaml"
    ganzoo_cmd = [sys.executable, "-m", "ganzoo", "bench", str(recipe), f"data.img_size={a.img_size}",
                  f"train.batch_size={a.batch_size}", f"data.num_domains={a.num_domains}", *a.overrides,
                  "--iters", str(a.iters), "--warmup", str(a.warmup)]
    official, ours = [], []
    for round_ in range(a.rounds):
        profiled = ["--profile"] if a.profile and round_ == a.rounds - 1 else []
        official.append(_child(official_cmd + profiled))
        ours.append(_child(ganzoo_cmd + profiled))
    official_s = statistics.median(r["s_per_iter"] for r in official)
    ganzoo_s = statistics.median(r["s_per_iter"] for r in ours)
    print(json.dumps({
        "img_size": a.img_size, "batch_size": a.batch_size, "num_domains": a.num_domains, "threads": int(env_threads),
        "official_s_per_iter": [r["s_per_iter"] for r in official], "ganzoo_s_per_iter": [r["s_per_iter"] for r in ours],
        "official_median": official_s, "ganzoo_median": ganzoo_s, "speedup": official_s / ganzoo_s,
        "official_peak_rss_mb": max(r["peak_rss_mb"] for r in official),
        "ganzoo_peak_rss_mb": max(r["peak_rss_mb"] for r in ours),
        "ganzoo_cpu": ours[-1].get("cpu"), "ganzoo_layout": ours[-1].get("layout"),
        "ganzoo_dtype": ours[-1].get("dtype"),
        **({"official_op_split": official[-1]["op_split"], "ganzoo_op_split": ours[-1]["op_split"]} if a.profile
           else {})}))


if __name__ == "__main__":
    main()
