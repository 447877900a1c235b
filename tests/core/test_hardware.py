"""``auto`` layout and precision: chosen from (mocked) CPU features and the device type, written into the run
folder, reused on resume on another machine; the warning for emulated bf16; what ``ganzoo bench`` reports."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from ganzoo import hardware
from ganzoo.bench import bench
from ganzoo.hardware import (CpuFeatures, auto_channels_last, auto_mixed_precision, cpu_features, precision_warning,
                             resolve_auto)
from ganzoo.recipe import TrainConfig, load_recipe
from ganzoo.run_state import memory_format
from ganzoo.trainer import train

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "tiny.yaml"
AVX2 = CpuFeatures("AMD EPYC", avx2=True, avx512=False, avx512_bf16=False, amx=False)
AVX512 = CpuFeatures("Intel Xeon Skylake", avx2=True, avx512=True, avx512_bf16=False, amx=False)
AVX512_BF16 = CpuFeatures("AMD EPYC Genoa", avx2=True, avx512=True, avx512_bf16=True, amx=False)
AMX = CpuFeatures("Intel Xeon Sapphire Rapids", avx2=True, avx512=True, avx512_bf16=True, amx=True)
BASELINE = CpuFeatures("old", avx2=False, avx512=False, avx512_bf16=False, amx=False)


@pytest.mark.parametrize("cpu, channels_last, precision, isa", [
    (BASELINE, False, "no", "baseline"),
    (AVX2, False, "no", "AVX2"),
    (AVX512, True, "no", "AVX-512"),
    (AVX512_BF16, True, "bf16", "AVX512-BF16"),
    (AMX, True, "bf16", "AMX"),
])
def test_auto_on_the_cpu_follows_its_features(cpu, channels_last, precision, isa):
    assert auto_channels_last("cpu", cpu) is channels_last
    assert auto_mixed_precision("cpu", cpu) == precision
    assert cpu.isa == isa


@pytest.mark.parametrize("bf16_supported, precision", [(True, "bf16"), (False, "no")])
def test_auto_on_cuda_follows_the_gpu(monkeypatch, bf16_supported, precision):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16_supported)
    assert auto_channels_last("cuda", AVX2) is True
    assert auto_mixed_precision("cuda", AVX2) == precision


def test_devices_it_was_not_measured_on_get_the_plain_settings():
    assert auto_channels_last("mps", AMX) is False and auto_mixed_precision("mps", AMX) == "no"


def test_cpu_features_come_from_torchs_detection(monkeypatch):
    for name, value in [("avx2", True), ("avx512", True), ("avx512_bf16", False), ("amx_tile", True)]:
        monkeypatch.setattr(torch.cpu, f"_is_{name}_supported", lambda value=value: value)
    found = cpu_features()
    assert (found.avx2, found.avx512, found.avx512_bf16, found.amx) == (True, True, False, True)
    assert found.native_bf16 and found.model and found.to_dict()["isa"] == "AMX"


def test_explicit_values_are_kept_and_saved_values_win_over_this_machine():
    explicit = TrainConfig(channels_last=True, mixed_precision="bf16")
    assert resolve_auto(explicit, "cpu", AVX2) == explicit
    auto = TrainConfig(channels_last="auto", mixed_precision="auto")
    assert (resolve_auto(auto, "cpu", AMX).channels_last, resolve_auto(auto, "cpu", AMX).mixed_precision) == \
        (True, "bf16")
    saved = TrainConfig(channels_last=True, mixed_precision="bf16")
    on_avx2 = resolve_auto(auto, "cpu", AVX2, saved)
    assert (on_avx2.channels_last, on_avx2.mixed_precision) == (True, "bf16")


def test_defaults_are_auto_layout_and_float32():
    assert TrainConfig().channels_last == "auto" and TrainConfig().mixed_precision == "no"


def test_unresolved_auto_layout_is_this_machines_choice(monkeypatch):
    for cpu, expected in [(AVX2, torch.contiguous_format), (AVX512, torch.channels_last)]:
        monkeypatch.setattr(hardware, "cpu_features", lambda cpu=cpu: cpu)
        monkeypatch.setattr("ganzoo.run_state.cpu_features", lambda cpu=cpu: cpu)
        assert memory_format(TrainConfig(channels_last="auto")) == expected


def test_bf16_without_native_support_warns_with_the_slowdown_and_the_fix():
    message = precision_warning(TrainConfig(mixed_precision="bf16"), "cpu", AVX2)
    assert "12x slower" in message and "AVX2" in message and "train.mixed_precision=no or auto" in message
    for cpu, device, precision in [(AMX, "cpu", "bf16"), (AVX2, "cuda", "bf16"), (AVX2, "cpu", "no")]:
        assert precision_warning(TrainConfig(mixed_precision=precision), device, cpu) is None


def _machine(monkeypatch, cpu: CpuFeatures) -> None:
    """Pretend this process runs on ``cpu`` (everything that asks the hardware module)."""
    for module in ("ganzoo.hardware", "ganzoo.trainer", "ganzoo.bench", "ganzoo.run_state"):
        monkeypatch.setattr(f"{module}.cpu_features", lambda: cpu)


def _conv_weights_channels_last(networks) -> bool:
    weights = [p for net in networks.values() for p in net.parameters() if p.dim() == 4 and p.shape[1] > 1
               and p.shape[2] * p.shape[3] > 1]
    assert weights
    layouts = {w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous() for w in weights}
    assert len(layouts) == 1
    return layouts.pop()


def test_auto_is_written_into_the_run_folder_and_reused_on_resume_on_another_machine(tmp_path, monkeypatch):
    def run(total: int, cpu: CpuFeatures, fresh: bool = False):
        _machine(monkeypatch, cpu)
        recipe = load_recipe(TINY, [f"output_dir={tmp_path / 'run'}", f"data.root={tmp_path / 'data'}",
                                    f"train.total_iters={total}", "train.mixed_precision=auto"])
        summary = train(recipe, fresh=fresh)
        saved = yaml.safe_load((tmp_path / "run" / "recipe.resolved.yaml").read_text())["train"]
        return summary, saved

    summary, saved = run(2, AVX512)  # started where channels-last is right...
    assert (saved["channels_last"], saved["mixed_precision"]) == (True, "no")
    assert _conv_weights_channels_last(summary.method.networks)
    summary, saved = run(4, AVX2)  # ...resumed where it is not: the run keeps its layout
    assert summary.start_iteration == 2
    assert (saved["channels_last"], saved["mixed_precision"]) == (True, "no")
    assert _conv_weights_channels_last(summary.method.networks)
    summary, saved = run(2, AVX2, fresh=True)  # a fresh start chooses again
    assert saved["channels_last"] is False and not _conv_weights_channels_last(summary.method.networks)


def test_bench_reports_cpu_layout_precision_and_the_bf16_warning(monkeypatch):
    _machine(monkeypatch, AVX2)
    figures = bench(load_recipe(TINY, ["train.mixed_precision=bf16"]), iters=1, warmup=0)
    assert figures["cpu"] == AVX2.to_dict() and figures["threads"] == torch.get_num_threads()
    assert figures["layout"] == "contiguous" and figures["mixed_precision"] == "bf16"
    assert len(figures["warnings"]) == 1 and "12x slower" in figures["warnings"][0]
    _machine(monkeypatch, AMX)
    figures = bench(load_recipe(TINY, ["train.mixed_precision=auto"]), iters=1, warmup=0, profile=True)
    assert figures["layout"] == "channels_last" and figures["mixed_precision"] == "bf16"
    assert figures["dtype"] == "bfloat16" and figures["warnings"] == []
    split = figures["op_split"]
    assert split["conv_forward"] > 0 and split["conv_backward"] > 0 and split["optimizer"] > 0
    assert sum(v for k, v in split.items() if k != "total") == pytest.approx(split["total"])


def test_a_resolved_recipe_this_version_cannot_read_lets_auto_choose_anew(tmp_path, monkeypatch):
    _machine(monkeypatch, AVX512)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "recipe.resolved.yaml").write_text("train: {channels_last: false, option_of_another_version: 1}\n")
    train(load_recipe(TINY, [f"output_dir={run_dir}", f"data.root={tmp_path / 'data'}", "train.total_iters=1"]))
    assert yaml.safe_load((run_dir / "recipe.resolved.yaml").read_text())["train"]["channels_last"] is True
