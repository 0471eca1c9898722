"""What machine a measurement ran on: the CPU's name, the instruction-set extensions that decide
its speed (AMX, AVX512-BF16, VNNI), the torch threads a block runs on, the mixed precision it
trains in, and the best matrix-multiply rate it reaches.

Training is deterministic on one CPU, not across CPUs, and latency depends on these extensions,
so every record says which CPU made it.
"""
from __future__ import annotations

import contextlib
import os
import platform
import time
from pathlib import Path

import torch

# the extensions that change what this book measures: bf16 and int8 matrix engines, vector width
SPEED_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8")


@contextlib.contextmanager
def torch_threads(threads: int | None):
    """Run a block on ``threads`` torch threads (None: as set), then restore the previous count;
    yields the count in force."""
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)


def _cpuinfo_field(name: str) -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(name):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_name() -> str:
    return _cpuinfo_field("model name") or platform.processor() or platform.machine()


def cpu_flags() -> list[str]:
    """The speed-relevant extensions this CPU reports (`SPEED_FLAGS`, in that order)."""
    present = set((_cpuinfo_field("flags") or "").split())
    return [flag for flag in SPEED_FLAGS if flag in present]


def describe_machine() -> dict:
    """CPU name, its speed-relevant flags, logical cores and torch's thread count, for records."""
    return {"cpu": cpu_name(), "cpu_flags": cpu_flags(), "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads()}


def training_machine() -> dict:
    """What a training run's numbers depend on beyond its recipe: the device, the CPU model and its
    speed flags, and torch's version. Part of every run's key, so a run recorded on one CPU is never
    reused as if it came from another (training is deterministic on one CPU, not across CPUs)."""
    device = f"cuda: {torch.cuda.get_device_name()}" if torch.cuda.is_available() else "cpu"
    return {"device": device, "cpu": cpu_name(), "cpu_flags": cpu_flags(), "torch": torch.__version__}


def matmul_peak_gflops(dtype: torch.dtype = torch.float32, size: int = 1024, repeats: int = 20,
                       threads: int | None = None) -> float | None:
    """Best achieved GFLOP/s of a square matrix multiply: what this CPU does at its best.

    None when the dtype is not supported here (e.g. bf16 on a CPU without bf16 instructions).
    """
    with torch_threads(threads):
        try:
            a = torch.randn(size, size).to(dtype)
            b = torch.randn(size, size).to(dtype)
            for _ in range(3):
                a @ b
        except RuntimeError:
            return None
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def mixed_precision(requested: bool = True) -> str:
    """'bf16', 'fp16' or 'no': the autocast dtype this machine runs fast and safely."""
    if not requested:
        return "no"
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    cpu = torch.cpu
    if cpu._is_amx_tile_supported() or cpu._is_avx512_bf16_supported():
        return "bf16"
    return "no"
