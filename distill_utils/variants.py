"""Runnable variants of a fine-tuned classifier: fp32, bf16 autocast, torch dynamic int8, and
ONNX Runtime fp32 and int8. Each maps tokenized inputs to logits, so one benchmark measures all.

A variant this machine cannot build (no bf16 instructions, no quantized engine, a failed export)
raises `VariantUnavailable` with the reason, and the benchmark reports it instead of hiding it.
"""
from __future__ import annotations

import contextlib
import copy
import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ._io import DamagedArtifact, atomic_path, file_seal, seal_file, sealed_file
from .artifacts import PRODUCERS, WEIGHTS_FILE, checkpoint_fingerprint
from .machine import mixed_precision, torch_threads

VARIANTS: tuple[str, ...] = ("fp32", "bf16", "int8-dynamic", "onnx-fp32", "onnx-int8")
VARIANT_DTYPE = {"fp32": "float32", "bf16": "bfloat16 autocast", "int8-dynamic": "int8 weights (Linear)",
                 "onnx-fp32": "float32", "onnx-int8": "int8 weights (MatMul)"}
VARIANT_ENGINE = {"fp32": "torch", "bf16": "torch", "int8-dynamic": "torch",
                  "onnx-fp32": "onnxruntime", "onnx-int8": "onnxruntime"}


class VariantUnavailable(RuntimeError):
    """A variant that cannot be built on this machine; the benchmark reports the reason."""


@dataclass
class Variant:
    """A runnable form of a model: ``forward`` maps tokenized inputs (torch tensors) to logits."""

    name: str
    forward: Callable[[dict], np.ndarray]
    disk_mb: float | None


def torch_forward(model, autocast: bool = False) -> Callable[[dict], np.ndarray]:
    """A batch of token ids in, logits out as float32 numpy (``autocast``: computed in bf16)."""
    @torch.inference_mode()
    def forward(batch: dict) -> np.ndarray:
        if autocast:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return model(**batch).logits.float().numpy()
        return model(**batch).logits.float().numpy()
    return forward


def state_dict_mb(model) -> float:
    """The model's weights as torch saves them, in MiB: the size every in-memory variant reports."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell() / 2**20


class _LogitsOnly(torch.nn.Module):
    """Named tensor inputs in, logits out: the signature ONNX export needs."""

    def __init__(self, model, input_names: list[str]):
        super().__init__()
        self.model, self.input_names = model, input_names

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids
        return self.model(**inputs).logits


@contextlib.contextmanager
def _quiet_loggers(*names: str):
    """Silence exporter chatter (e.g. "torchvision is not installed") that would land in the book."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def export_onnx(model, tokenizer, path: str | Path, made_from: str | None = None) -> Path:
    """Export a classifier to ONNX with dynamic batch and sequence axes (torch.onnx, dynamo).

    Written atomically and sealed with its sha256 and ``made_from`` (the checkpoint's weights
    sha256); an existing file is reused only when it is whole and made from the same weights.
    """
    path = Path(path)
    if _reusable(path, made_from):
        return path
    example = tokenizer(["Operating profit rose to EUR 13.1 mn .", "Sales fell ."], padding=True,
                        return_tensors="pt")
    names = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in example]
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    with atomic_path(path) as tmp, warnings.catch_warnings(), _quiet_loggers("torch.onnx", "onnxscript"):
        warnings.simplefilter("ignore")
        torch.onnx.export(_LogitsOnly(model.eval(), names), tuple(example[k] for k in names), str(tmp),
                          input_names=names, output_names=["logits"],
                          dynamic_shapes={k: {0: batch, 1: sequence} for k in names},
                          dynamo=True, external_data=False, verbose=False)
    seal_file(path, made_from)
    return path


def _reusable(path: Path, made_from: str | None) -> bool:
    """An exported file can be used as it is (`_io.sealed_file`); a damaged one is refused,
    naming it and the notebook that exports it again."""
    try:
        return sealed_file(path, made_from) is not None
    except DamagedArtifact as error:
        raise DamagedArtifact(f"{error}: delete it and re-run notebooks/{PRODUCERS['benchmark']}.ipynb, "
                              "which exports it again") from None


def quantize_onnx(source: Path, target: Path) -> Path:
    """ONNX Runtime dynamic quantisation: int8 weights for MatMul, activations quantised on the fly.
    Sealed like the export, as made from the fp32 file's sha256."""
    from onnxruntime.quantization import QuantType, quantize_dynamic  # optional engine

    made_from = (file_seal(source) or {}).get("sha256")  # the source was checked when it was made or reused
    if _reusable(target, made_from):
        return target
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # ORT's advice to pre-process is for static quantisation
    try:
        with atomic_path(target) as tmp:
            quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
    seal_file(target, made_from)
    return target


ORT_LEVELS = ("disabled", "basic", "extended", "all")  # ONNX Runtime graph optimisation levels


def onnx_forward(path: Path, threads: int, level: str = "all") -> Callable[[dict], np.ndarray]:
    """An ONNX Runtime session on ``threads`` threads at graph optimisation ``level`` (`ORT_LEVELS`;
    "all", ONNX Runtime's default, unless a lever says otherwise)."""
    import onnxruntime as ort  # optional engine

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.log_severity_level = 4  # a failing session raises; ORT's own log would land in the book
    options.graph_optimization_level = dict(zip(ORT_LEVELS, (
        ort.GraphOptimizationLevel.ORT_DISABLE_ALL, ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, ort.GraphOptimizationLevel.ORT_ENABLE_ALL)))[level]
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]

    def forward(batch: dict) -> np.ndarray:
        return session.run(None, {k: batch[k].numpy().astype(np.int64) for k in names})[0]
    return forward


def build_variant(model, tokenizer, variant: str, export_dir: str | Path | None = None,
                  threads: int | None = None, checkpoint_dir: str | Path | None = None) -> Variant:
    """One runnable variant of a fine-tuned classifier, or VariantUnavailable with the reason."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; valid: {', '.join(VARIANTS)}")
    model = model.eval()
    weights = Path(checkpoint_dir) / WEIGHTS_FILE if checkpoint_dir else None
    fp32_disk = weights.stat().st_size / 2**20 if weights and weights.is_file() else None
    if variant == "fp32":
        return Variant(variant, torch_forward(model), fp32_disk)
    if variant == "bf16":
        if mixed_precision(True) != "bf16":
            raise VariantUnavailable("this CPU has no bf16 instructions (AVX512-BF16 or AMX)")
        return Variant(variant, torch_forward(model, autocast=True), fp32_disk)
    if variant == "int8-dynamic":
        if "x86" not in torch.backends.quantized.supported_engines and \
                "fbgemm" not in torch.backends.quantized.supported_engines:
            raise VariantUnavailable("torch has no x86/fbgemm quantized engine on this machine")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao.quantization is deprecated but works in 2.x
            quantized = torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear},
                                                               dtype=torch.qint8)
        return Variant(variant, torch_forward(quantized), state_dict_mb(quantized))
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise VariantUnavailable("onnxruntime is not installed") from None
    if export_dir is None:
        raise ValueError("ONNX variants need an export_dir")
    export_dir = Path(export_dir)
    made_from = checkpoint_fingerprint(checkpoint_dir) if checkpoint_dir else None
    with torch_threads(threads) as n_threads:
        try:
            fp32_path = export_onnx(model, tokenizer, export_dir / "model.onnx", made_from)
        except DamagedArtifact:
            raise  # a damaged file is named, never passed off as a variant this machine lacks
        except Exception as error:  # exporters fail in many ways; report, never hide
            raise VariantUnavailable(f"ONNX export failed: {type(error).__name__}: "
                                     f"{str(error).splitlines()[0][:200]}") from error
        path = fp32_path if variant == "onnx-fp32" else quantize_onnx(fp32_path, export_dir / "model.int8.onnx")
        return Variant(variant, onnx_forward(path, n_threads), path.stat().st_size / 2**20)


def parse_variants(value) -> tuple[str, ...]:
    """The ``variants`` parameter ("fp32,onnx-int8" or a list) checked before any work is done."""
    names = tuple(v.strip() for v in (value.split(",") if isinstance(value, str) else value) if str(v).strip())
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        raise ValueError(f"variants: unknown {', '.join(map(repr, unknown))}; valid: {', '.join(VARIANTS)}")
    if "fp32" not in names:
        raise ValueError("variants must include fp32: the baseline every ratio is measured against")
    return names
