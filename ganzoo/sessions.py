"""The training sessions of a run: ``RUN/sessions.jsonl``, one JSON object per ``ganzoo run`` that trained.

Each line records one session (a first run or a resume): ``start_iteration``, ``end_iteration``,
``wall_time_s`` (seconds from the first to the last iteration of the session, float), ``hardware`` (e.g.
``"1 x NVIDIA H200"`` or ``"1 x CPU (x86_64, 2 threads)"``), ``processes`` and ``mixed_precision``
(``"no"``, ``"fp16"``, ``"bf16"``). A run's figures (what a model card shows) are the sum over its sessions.
The trainer appends a line when a session ends with its work saved (finished, or stopped on request); nothing
reads it during training.
"""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

SESSIONS_NAME = "sessions.jsonl"


@dataclass(frozen=True)
class Session:
    """One training session of a run."""

    start_iteration: int
    end_iteration: int
    wall_time_s: float
    hardware: str
    processes: int
    mixed_precision: str


def describe_hardware(device: torch.device, processes: int) -> str:
    """``"<processes> x <device name>"``: the GPU's name, or the CPU's architecture and thread count."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        threads = torch.get_num_threads()
        name = f"CPU ({platform.machine() or 'unknown'}, {threads} thread{'s' if threads != 1 else ''})"
    return f"{processes} x {name}"


def record_session(run_dir: str | Path, session: Session) -> None:
    """Append ``session`` to ``run_dir/sessions.jsonl`` (created if absent)."""
    with (Path(run_dir) / SESSIONS_NAME).open("a") as file:
        file.write(json.dumps(asdict(session)) + "\n")


def read_sessions(run_dir: str | Path) -> list[Session]:
    """The sessions recorded in ``run_dir/sessions.jsonl``, oldest first; empty when there is no such file.
    Lines that are not a complete session record (a line cut short by a crash) are skipped."""
    path = Path(run_dir) / SESSIONS_NAME
    if not path.is_file():
        return []
    sessions = []
    for line in path.read_text().splitlines():
        try:
            sessions.append(Session(**json.loads(line)))
        except (ValueError, TypeError):
            continue
    return sessions
