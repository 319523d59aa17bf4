"""The machine a benchmark ran on, as the results files record it (torch-free until asked
for the versions: they come from the installed packages' metadata, no import)."""

from __future__ import annotations

import os
import platform
import sys
from datetime import datetime, timezone
from importlib import metadata


def cpu_model() -> str:
    """'AMD EPYC' from /proc/cpuinfo's 'model name' (Linux), else what platform says."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def load_average() -> float | None:
    """The 1-minute load average (other jobs sharing the cores), None where there is none."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine_info(gpu: str | None = None) -> dict:
    """CPU model, cores (online and usable by this process), the load average now, library
    versions, the date (UTC), and the GPU's name when the benchmark runs on one."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    flags = cpu_flags()
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "native_bf16": bool(flags & {"avx512_bf16", "amx_bf16"}),
        "gpu": gpu,
        "load_average_before": load_average(),
        "load_average_after": None,  # filled in when the results are written
        "python": platform.python_version(),
        "torch": version("torch"),
        "transformers": version("transformers"),
        "platform": f"{platform.system()} {platform.release()}",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "argv": sys.argv[1:],
    }
