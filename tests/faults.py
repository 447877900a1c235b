"""Faults the reliability tests inject: a disk that refuses to take more while a file is being written."""

from __future__ import annotations

import os
import stat

import pytest


def fail_second_file_fsync(monkeypatch: pytest.MonkeyPatch, code: int) -> list[int]:
    """Make the disk refuse with errno ``code`` (ENOSPC, EACCES, ...) when the second regular file of the next
    write is flushed (a checkpoint's second file). Returns the list of flushed file descriptors, which grows as
    files are flushed."""
    real_fsync, files = os.fsync, []

    def fsync(fd: int) -> None:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            files.append(fd)
            if len(files) == 2:
                raise OSError(code, os.strerror(code))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return files
