"""Seeds from (seed, counters), the registry of named random streams, and each process's batch slice."""

from __future__ import annotations

import importlib

import pytest
import torch

import ganzoo.data  # noqa: F401  (registers the core streams)
import ganzoo.plugins.stargan_v1  # noqa: F401  (registers its streams)
import ganzoo.plugins.stargan_v2  # noqa: F401
from ganzoo import registry, seeding
from ganzoo.seeding import Stream, mix_seed, process_slice, register_stream, streams


def test_mix_seed_is_63_bit_and_separates_counters():
    seeds = {mix_seed(7, a, b) for a in range(20) for b in range(20)}
    assert len(seeds) == 400 and all(0 <= s < 2**63 for s in seeds)
    assert mix_seed(7, 1, 2) != mix_seed(7, 2, 1) and mix_seed(7) == 7


def test_built_in_streams_keep_the_values_that_define_todays_numbers():
    registry.entries()  # every built-in plugin imported, and with them their streams
    importlib.import_module("ganzoo.evaluation.command")  # the evaluation protocols' streams
    importlib.import_module("ganzoo.evaluation.sampling")
    values = {name: stream.value for name, stream in streams().items()}
    assert values == {
        "data.batch": 0x64617461,
        "data.sample_batch": 0x64617462,
        "stargan_v1.epoch_order": 0x64617463,
        "stargan_v1.sample_keys": 0x64617464,
        "stargan_v2.grid_latents": 0x5A17,
        "stylegan.grid_latents": 0x57E6,
        "eval.latent_samples": 0x4556414D,
        "eval.protocol": 0x4556414C,
        "eval.judge": 0x4A554447,
    }


def test_a_stream_generator_is_seeded_by_its_value_then_the_counters():
    stream = Stream("test", 0x1234)
    expected = torch.Generator().manual_seed(mix_seed(5, 0x1234, 9))
    assert torch.equal(torch.rand(4, generator=stream.generator(5, 9)), torch.rand(4, generator=expected))


def test_a_name_or_value_is_registered_once(monkeypatch):
    monkeypatch.setattr(seeding, "_streams", dict(seeding._streams))  # leave the real registry as it was
    stream = register_stream("test.stream", 0xABC)
    assert streams()["test.stream"] is stream
    with pytest.raises(ValueError, match="'test.stream' is registered twice"):
        register_stream("test.stream", 0xABD)
    with pytest.raises(ValueError, match="would reuse value 0x64617461 of stream 'data.batch'"):
        register_stream("test.other", 0x64617461)
    with pytest.raises(TypeError):
        streams()["x"] = stream  # read-only view


def test_process_slices_tile_the_global_batch():
    rows = list(range(12))
    assert [rows[process_slice(r, 3, 4)] for r in range(3)] == [rows[0:4], rows[4:8], rows[8:12]]
    assert rows[process_slice(0, 1, 12)] == rows
    for rank in (-1, 3):
        with pytest.raises(ValueError, match=f"rank {rank} is outside"):
            process_slice(rank, 3, 4)
