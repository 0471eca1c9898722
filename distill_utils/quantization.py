"""Quantization, written out: what int8 does to a weight matrix, and which layers of a model it hurts.

An int8 tensor stores each number as one of 256 integers q; a *scale* s and a *zero point* z map
them back, x ~ s * (q - z). Symmetric quantization (z = 0) fits weights, which centre on zero;
asymmetric (z != 0) fits activations such as GELU outputs. One scale for a whole matrix
(*per-tensor*) lets one large weight coarsen every other; one scale per output row
(*per-channel*) keeps each row's own range. *Dynamic* quantization stores the weights in int8 and
measures each input's activation range on the fly; *static* fixes those ranges beforehand from
calibration sentences. Chapter 5 checks the round trip on one weight matrix the way chapter 3
checks the loss, then asks which module types carry the error when a whole model is quantized.
"""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
import torch

from .inference import predict_logits

INT8 = (-128, 127)


def quantize(x: torch.Tensor, *, per_channel: bool = False,
             symmetric: bool = True, bits: int = 8):
    """Integers q, scale s and zero point z with x ~ s * (q - z): one (s, z)
    for the tensor, or one per row (dimension 0: a Linear layer's output
    channels) with ``per_channel``."""
    low_q, high_q = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    x = x.detach().double()
    dims = tuple(range(1, x.dim())) if per_channel else tuple(range(x.dim()))
    if symmetric:
        scale = x.abs().amax(dim=dims, keepdim=True) / high_q
        zero = torch.zeros_like(scale)
    else:
        low = x.amin(dim=dims, keepdim=True)
        high = x.amax(dim=dims, keepdim=True)
        scale = (high - low) / (high_q - low_q)
        zero = torch.round(low_q - low / scale.clamp_min(1e-12))
    scale = scale.clamp_min(1e-12)  # an all-zero row keeps a usable scale
    q = torch.clamp(torch.round(x / scale) + zero, low_q, high_q)
    return q, scale, zero


def dequantize(q: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor) -> torch.Tensor:
    return scale * (q - zero)


def round_trip_error(x: torch.Tensor, **kwargs) -> dict:
    """How far ``dequantize(quantize(x))`` lands from x: the largest and the mean absolute error,
    and the error relative to the tensor's own size (root mean square)."""
    back = dequantize(*quantize(x, **kwargs))
    error = (back - x.detach().double()).abs()
    return {"max_abs_error": float(error.max()), "mean_abs_error": float(error.mean()),
            "relative_rms_error": float(error.pow(2).mean().sqrt() / x.detach().double().pow(2).mean().sqrt())}


def round_trip_table(weight: torch.Tensor) -> pd.DataFrame:
    """The round trip of one weight matrix four ways: per-tensor against per-channel, symmetric
    against asymmetric."""
    rows = []
    for per_channel in (False, True):
        for symmetric in (True, False):
            rows.append({"scales": "per channel" if per_channel else "per tensor",
                         "zero point": "0 (symmetric)" if symmetric else "fitted (asymmetric)",
                         **round_trip_error(weight, per_channel=per_channel, symmetric=symmetric)})
    return pd.DataFrame(rows)


def linear_groups(model: torch.nn.Module) -> dict[str, list[str]]:
    """The model's Linear layers grouped by what they do (the last part of their name: ``query``,
    ``dense`` of the feed-forward output, ``classifier`` ...), each group a list of module names."""
    groups: dict[str, list[str]] = {}
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear):
            parts = name.split(".")
            kind = ".".join(parts[-2:]) if parts[-1] == "dense" and len(parts) > 1 else parts[-1]
            groups.setdefault(kind, []).append(name)
    return groups


def quantize_dynamic_modules(model: torch.nn.Module, names: list[str] | None = None, *,
                             per_channel: bool = False) -> torch.nn.Module:
    """A copy of ``model`` with PyTorch dynamic int8 on the Linear layers in ``names`` (all of
    them when None), per-tensor (PyTorch's default) or per-channel weight scales."""
    qconfig = (torch.ao.quantization.per_channel_dynamic_qconfig if per_channel
               else torch.ao.quantization.default_dynamic_qconfig)
    spec = ({torch.nn.Linear: qconfig} if names is None else {name: qconfig for name in names})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization is deprecated but works in 2.x
        return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model).eval(), spec, dtype=torch.qint8)


def quantization_sensitivity(model: torch.nn.Module, tokenizer, sentences: list[str], labels, *,
                             max_length: int = 128) -> pd.DataFrame:
    """Which layers carry the int8 error: the model with one group of Linear layers quantized at a
    time (`linear_groups`), then all of them per-tensor and per-channel, each scoring the same
    ``sentences`` (`inference.predict_logits`) against the fp32 model: accuracy, and the largest
    change of a logit. A group whose row alone loses most of the accuracy is the one to keep in
    fp32 or to give per-channel scales."""
    labels = np.asarray(labels)
    score = lambda m: predict_logits(m, tokenizer, sentences, max_length=max_length)  # noqa: E731
    reference = score(model)
    groups = linear_groups(model)
    rows = [{"quantized": "nothing (fp32)", "layers": 0, "accuracy": float((reference.argmax(-1) == labels).mean()),
             "max_logit_change": 0.0}]
    trials = [(kind, names, False) for kind, names in groups.items()]
    trials += [("every Linear, per tensor", None, False), ("every Linear, per channel", None, True)]
    for label, names, per_channel in trials:
        logits = score(quantize_dynamic_modules(model, names, per_channel=per_channel))
        rows.append({"quantized": label, "layers": len(names) if names else sum(map(len, groups.values())),
                     "accuracy": float((logits.argmax(-1) == labels).mean()),
                     "max_logit_change": float(np.abs(logits - reference).max())})
    return pd.DataFrame(rows)
