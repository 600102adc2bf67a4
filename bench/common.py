"""Helpers the benchmarks share: what machine a figure was measured on."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or "unknown CPU"."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def machine() -> str:
    """One line for bench/RESULTS.md: cores, CPU model, Python version."""
    return f"nproc={os.cpu_count()}, {cpu_model()}, Python {platform.python_version()}"
