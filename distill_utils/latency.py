"""Latency measured so that ratios mean something on a shared machine.

Every variant is timed round-robin in one process: many short rounds, each timing every variant on
the same few sentences in a shuffled order, so a slow spell of the machine hits all of them alike.
A variant's latency is the median of all its passes; its 95% interval and every speed-up's come
from a bootstrap over rounds (the same rounds for both models of a ratio, since a round is one
stretch of time). `ratio_text` prints a ratio only to the digits its interval supports.
"""
from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np
import pandas as pd


def time_interleaved(forwards: dict[str, Callable[[dict], object]],
                     inputs: dict[str, list[dict]], *, rounds: int = 40,
                     per_round: int = 5, warmup: int = 5,
                     seed: int = 0) -> dict[str, np.ndarray]:
    """Seconds per forward pass, shape (rounds, per_round), per variant.

    ``inputs[name]`` is that variant's list of tokenized batch-1 inputs (each
    model reads the same sentences through its own tokenizer); round r times
    passes r * per_round ... of it, so all variants see the same sentences in
    the same round. The order of variants is shuffled in every round.
    """
    names = list(forwards)
    if not names:
        return {}
    missing = [n for n in names if not inputs.get(n)]
    if missing:
        raise ValueError(f"no timing inputs for {', '.join(missing)}")
    if rounds < 2 or per_round < 1:
        raise ValueError("need at least 2 rounds of at least 1 pass "
                         "to put an interval on latency")
    for name in names:
        for i in range(warmup):
            forwards[name](inputs[name][i % len(inputs[name])])
    times = {name: np.zeros((rounds, per_round)) for name in names}
    rng = np.random.default_rng(seed)
    for r in range(rounds):
        for k in rng.permutation(len(names)):
            name = names[k]
            forward, batches = forwards[name], inputs[name]
            for j in range(per_round):
                batch = batches[(r * per_round + j) % len(batches)]
                start = time.perf_counter()
                forward(batch)
                times[name][r, j] = time.perf_counter() - start
    return times


def _bootstrap_rounds(rounds: int, n_boot: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, rounds, size=(n_boot, rounds))


def _resampled_medians(times: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Median of the pooled passes of each resample of rounds: shape (n_boot,)."""
    return np.median(times[index].reshape(len(index), -1), axis=1)


def latency_summary(times: dict[str, np.ndarray], baseline: str, *, n_boot: int = 2000,
                    seed: int = 0) -> pd.DataFrame:
    """One row per variant: median latency (ms) with its 95% interval, p95, and the speed-up against
    ``baseline`` (its median / this median) with a paired 95% interval, both by bootstrap over rounds."""
    if baseline not in times:
        raise ValueError(f"the baseline {baseline!r} was not timed")
    rounds = next(iter(times.values())).shape[0]
    index = _bootstrap_rounds(rounds, n_boot, seed)
    base_boot = _resampled_medians(times[baseline], index)
    base_median = float(np.median(times[baseline]))
    rows = []
    for name, values in times.items():
        boot = _resampled_medians(values, index)
        median = float(np.median(values))
        ratio_boot = base_boot / boot
        rows.append({
            "name": name, "latency_ms_median": 1000 * median,
            "latency_ms_ci_low": 1000 * float(np.percentile(boot, 2.5)),
            "latency_ms_ci_high": 1000 * float(np.percentile(boot, 97.5)),
            "latency_ms_p95": 1000 * float(np.percentile(values, 95)),
            "latency_ms_mean": 1000 * float(values.mean()),
            "latency_runs": int(values.size), "latency_rounds": int(rounds),
            "speedup_vs_teacher": base_median / median,
            "speedup_ci_low": float(np.percentile(ratio_boot, 2.5)),
            "speedup_ci_high": float(np.percentile(ratio_boot, 97.5)),
        })
    return pd.DataFrame(rows)


def supported_decimals(low: float, high: float, most: int = 3) -> int:
    """Decimals an estimate deserves given its 95% interval: the interval's half-width rounded to
    one significant digit sets the last digit worth printing (0.3 wide -> 1 decimal)."""
    half = (high - low) / 2
    if not math.isfinite(half) or half <= 0:
        return most
    return int(min(most, max(0, -math.floor(math.log10(half)))))


def ratio_text(value: float, low: float, high: float, unit: str = "x") -> str:
    """'2.1x (1.9-2.3)': a ratio and its interval to the precision the interval supports."""
    if value is None or not all(map(math.isfinite, (value, low, high))):
        return "-"
    if low == high == value:  # no spread at all: the baseline against itself
        return f"{value:g}{unit}"
    d = supported_decimals(low, high)
    return f"{ratio_value(value, low, high, unit)} ({low:.{d}f}-{high:.{d}f})"


def ratio_value(value: float, low: float, high: float, unit: str = "x") -> str:
    """'2.1x': a ratio alone, to the precision its interval supports."""
    return f"{value:.{supported_decimals(low, high)}f}{unit}"


def speedup_text(row) -> str:
    """A row's speed-up against the fp32 teacher with its interval ('2.1x (1.9-2.3)'); a row
    without one (the teacher against itself) prints the value alone."""
    low, high = row.get("speedup_ci_low"), row.get("speedup_ci_high")
    value = row["speedup_vs_teacher"]
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return f"{value:.1f}x"
    return ratio_text(value, low, high)


def latency_interval_text(row) -> str:
    """'7.41 (7.30-7.52)': a median latency in ms with its interval, to the digits it supports."""
    low, high = row.get("latency_ms_ci_low"), row.get("latency_ms_ci_high")
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return f"{row['latency_ms_median']:.2f}"
    return ratio_text(row["latency_ms_median"], low, high, unit="")


def with_interval_text(table: pd.DataFrame) -> pd.DataFrame:
    """The table with printable 'speed-up' and 'latency' columns that carry their intervals."""
    table = table.copy()
    measured = table["latency_ms_median"].notna()
    table["speedup_text"] = [speedup_text(r) if m else "" for r, m in zip(table.to_dict("records"), measured)]
    table["latency_text"] = [latency_interval_text(r) if m else "" for r, m in zip(table.to_dict("records"), measured)]
    return table
