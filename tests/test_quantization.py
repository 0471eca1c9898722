"""Chapter 5's quantization lesson: the int8 round trip by hand, and which layers carry the error."""
import numpy as np
import pytest
import torch

from distill_utils import quantization
from distill_utils.models import load_pretrained


def test_the_round_trip_error_is_at_most_half_a_step():
    torch.manual_seed(0)
    weight = torch.randn(16, 32)
    q, scale, zero = quantization.quantize(weight)
    assert q.min() >= -128 and q.max() <= 127 and torch.all(zero == 0) and scale.numel() == 1
    error = quantization.round_trip_error(weight)
    assert error["max_abs_error"] <= scale.item() / 2 + 1e-12
    # asymmetric: a zero point maps the range [min, max] onto all 256 integers
    shifted = weight.abs()  # all positive, like activations after a ReLU
    q, scale, zero = quantization.quantize(shifted, symmetric=False)
    assert q.min() == -128 and q.max() == 127 and zero.item() != 0
    assert quantization.round_trip_error(shifted, symmetric=False)["max_abs_error"] < \
        quantization.round_trip_error(shifted)["max_abs_error"]


def test_one_outlier_row_coarsens_every_row_unless_scales_are_per_channel():
    torch.manual_seed(0)
    weight = torch.randn(16, 32) * 0.02
    weight[3] *= 100  # one output channel with large weights
    table = quantization.round_trip_table(weight).set_index(["scales", "zero point"])
    per_tensor = table.loc[("per tensor", "0 (symmetric)"), "relative_rms_error"]
    per_channel = table.loc[("per channel", "0 (symmetric)"), "relative_rms_error"]
    assert per_channel < per_tensor
    q, scale, _ = quantization.quantize(weight, per_channel=True)
    assert scale.shape == (16, 1) and scale[3] > 50 * scale[0]


def test_sensitivity_quantizes_one_group_at_a_time_and_scores_each():
    model, tokenizer = load_pretrained("tiny-bert-random", seed=0)
    sentences = ["Profit rose sharply .", "Sales fell .", "The company is in Espoo ."] * 4
    labels = np.array([2, 0, 1] * 4)
    table = quantization.quantization_sensitivity(model.eval(), tokenizer, sentences, labels, max_length=16)
    groups = quantization.linear_groups(model)
    assert list(table["quantized"]) == ["nothing (fp32)", *groups, "every Linear, per tensor",
                                        "every Linear, per channel"]
    assert table.iloc[0]["max_logit_change"] == 0 and (table["max_logit_change"].iloc[1:] > 0).all()
    assert table.iloc[-1]["layers"] == sum(map(len, groups.values())) == table.iloc[1:-2]["layers"].sum()
    assert {"query", "key", "value", "classifier"} <= set(groups)
    whole = quantization.quantize_dynamic_modules(model, None)
    assert sum(isinstance(m, torch.nn.Linear) and not hasattr(m, "_packed_params")
               for m in whole.modules()) == 0
