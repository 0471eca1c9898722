"""Interleaved timing: ratios that survive drift, intervals over rounds, honest precision."""
import numpy as np
import pytest

from distill_utils import latency, machine


class FakeClock:
    """A machine whose speed drifts: every pass costs ``base[name]`` times a slowdown that grows
    with the number of passes run so far, whichever model runs them."""

    def __init__(self, base: dict, drift: float):
        self.now, self.calls, self.base, self.drift = 0.0, 0, base, drift

    def forward_of(self, name):
        def forward(batch):
            self.calls += 1
            self.now += self.base[name] * (1 + self.drift * self.calls)
        return forward


def test_interleaving_keeps_the_ratio_when_the_machine_drifts(monkeypatch):
    clock = FakeClock({"teacher": 0.010, "student": 0.004}, drift=0.01)
    monkeypatch.setattr(latency.time, "perf_counter", lambda: clock.now)
    forwards = {name: clock.forward_of(name) for name in ("teacher", "student")}
    inputs = {name: [{}] * 10 for name in forwards}
    times = latency.time_interleaved(forwards, inputs, rounds=40, per_round=5)
    assert times["teacher"].shape == (40, 5)
    table = latency.latency_summary(times, baseline="teacher").set_index("name")
    student = table.loc["student"]
    assert student["speedup_vs_teacher"] == pytest.approx(2.5, rel=0.02)
    assert student["speedup_ci_low"] <= 2.5 <= student["speedup_ci_high"]
    assert table.loc["teacher", "speedup_vs_teacher"] == 1.0
    # the same drift, timed one model after the other, biases the ratio: what interleaving avoids
    sequential = {}
    for name in ("student", "teacher"):
        sequential.update(latency.time_interleaved({name: forwards[name]}, {name: inputs[name]},
                                                   rounds=40, per_round=5))
    biased = np.median(sequential["teacher"]) / np.median(sequential["student"])
    assert abs(biased - 2.5) > 0.5


def test_intervals_widen_with_noisy_rounds(monkeypatch):
    rng = np.random.default_rng(0)
    steady = {"a": np.full((30, 5), 0.01), "b": np.full((30, 5), 0.005)}
    noisy = {"a": 0.01 * rng.lognormal(0, 0.3, (30, 5)), "b": 0.005 * rng.lognormal(0, 0.3, (30, 5))}
    width = {}
    for label, times in (("steady", steady), ("noisy", noisy)):
        row = latency.latency_summary(times, baseline="a").set_index("name").loc["b"]
        width[label] = row["speedup_ci_high"] - row["speedup_ci_low"]
        assert row["latency_ms_ci_low"] <= row["latency_ms_median"] <= row["latency_ms_ci_high"]
    assert width["steady"] == 0 and width["noisy"] > 0.1


def test_bad_timing_requests_are_refused():
    with pytest.raises(ValueError, match="no timing inputs for b"):
        latency.time_interleaved({"a": len, "b": len}, {"a": [{}]})
    with pytest.raises(ValueError, match="at least 2 rounds"):
        latency.time_interleaved({"a": len}, {"a": [{}]}, rounds=1)
    with pytest.raises(ValueError, match="baseline 'teacher' was not timed"):
        latency.latency_summary({"a": np.ones((3, 2))}, baseline="teacher")


@pytest.mark.parametrize("value, low, high, text", [
    (2.1234, 1.9, 2.3, "2.1x (1.9-2.3)"),
    (31.99, 25.2, 39.4, "32x (25-39)"),
    (1.8765, 1.871, 1.882, "1.877x (1.871-1.882)"),
    (7.8, 7.0, 8.6, "7.8x (7.0-8.6)"),
    (1.0, 1.0, 1.0, "1x"),  # the baseline against itself
])
def test_ratios_are_printed_to_the_precision_their_interval_supports(value, low, high, text):
    assert latency.ratio_text(value, low, high) == text


def test_machine_description_names_the_cpu_and_its_speed_flags():
    described = machine.describe_machine()
    assert described["cpu"] and described["cores"] >= 1
    assert set(described["cpu_flags"]) <= set(machine.SPEED_FLAGS)
