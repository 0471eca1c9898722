"""Levers past distillation, each tried on one student and timed against the fp32 teacher.

Chapter 5 measures five variants of every model. Here one student is pushed further with the
levers an inference engine offers, one at a time, so each one's effect on speed and accuracy can
be read off: ONNX Runtime's graph optimisation level, static against dynamic int8 quantisation,
and one thread against all. Every setting is scored on the whole test split and timed interleaved
with the teacher (`latency.time_interleaved`), so each speed-up carries its interval.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch

from ._io import DamagedArtifact, atomic_path, file_seal
from .latency import latency_summary, time_interleaved
from .benchmark import PerformanceBenchmark
from .machine import torch_threads
from .variants import (ORT_LEVELS, Variant, VariantUnavailable, build_variant, export_onnx, onnx_forward,
                       quantize_onnx)


def choose_lever_student(cfg, name: str | None = None) -> str:
    """The student whose levers chapter 5 tries: ``name`` (its ``lever_student`` parameter) or the
    profile's headline student. A name that is not a student of the profile is refused before
    anything is timed."""
    chosen = name or cfg.headline_student
    students = [*cfg.students, *cfg.compression_students]
    if chosen not in students:
        raise ValueError(f"lever_student: {chosen!r} is not a student of profile {cfg.profile}; "
                         f"choose one of {', '.join(students)}")
    return chosen


def quantize_onnx_static(source: Path, target: Path,
                         calibration: list[dict]) -> Path:
    """ONNX Runtime static int8 (QDQ): activation ranges fixed beforehand from
    ``calibration`` batches (training sentences), instead of measured on every
    input as dynamic int8 does."""
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat,
                                          QuantType, quantize_static)

    if target.is_file():
        return target

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([
                {k: v.numpy().astype(np.int64) for k, v in batch.items()}
                for batch in calibration])

        def get_next(self):
            return next(self.batches, None)

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with atomic_path(target) as tmp:
            # the matrix multiplies only, as dynamic int8 does: quantising
            # the integer-valued position arithmetic too (MPNet's
            # relative-position buckets) yields invalid indices
            quantize_static(str(source), str(tmp), Reader(),
                            quant_format=QuantFormat.QDQ,
                            activation_type=QuantType.QInt8,
                            weight_type=QuantType.QInt8,
                            op_types_to_quantize=["MatMul", "Gemm"])
    finally:
        root.setLevel(level)
    return target


def _with_threads(forward: Callable, threads: int) -> Callable:
    """A torch forward pass run on ``threads`` threads (torch's setting is per process)."""
    def run(batch):
        with torch_threads(threads):
            return forward(batch)
    return run


def try_levers(model, tokenizer, teacher, teacher_tokenizer, test_df: pd.DataFrame, export_dir: Path, *,
               calibration_sentences: list[str], max_length: int = 128, threads: int | None = None,
               latency_runs: int = 200, per_round: int = 5) -> pd.DataFrame:
    """One row per lever setting of the student: accuracy on the test split, median batch-1
    latency and speed-up against the fp32 teacher, with 95% intervals over timing rounds.
    A setting this machine cannot run is reported in ``skipped``."""
    threads = threads or torch.get_num_threads()

    def encode(tok, texts):
        return dict(tok(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt"))

    settings: dict[str, tuple[str, str, Callable, object]] = {}
    teacher_fp32 = build_variant(teacher, teacher_tokenizer, "fp32")
    settings["teacher"] = ("baseline", f"fp32 teacher, PyTorch, {threads} threads",
                           _with_threads(teacher_fp32.forward, threads), teacher_tokenizer)
    skipped = []
    # the benchmark's export of the same checkpoint (the folder is keyed by its weights), checked whole
    made_from = (file_seal(export_dir / "model.onnx") or {}).get("made_from")
    with torch_threads(threads):
        try:
            fp32_path = export_onnx(model, tokenizer, export_dir / "model.onnx", made_from)
            dynamic_path = quantize_onnx(fp32_path, export_dir / "model.int8.onnx")
        except DamagedArtifact:
            raise  # named with its path, never reported as a lever this machine lacks
        except Exception as error:  # an export that fails is reported, never hidden
            raise VariantUnavailable(f"ONNX export failed: {type(error).__name__}") from error
        for level in ORT_LEVELS:
            settings[f"onnx-fp32 {level}"] = ("graph optimisation", f"ONNX Runtime fp32, level {level}",
                                              onnx_forward(fp32_path, threads, level), tokenizer)
        settings["onnx-int8 dynamic"] = ("int8 quantisation", "dynamic: activation ranges per input",
                                         onnx_forward(dynamic_path, threads), tokenizer)
        calibration = [encode(tokenizer, calibration_sentences[i:i + 16])
                       for i in range(0, len(calibration_sentences), 16)]
        try:
            # the file name says how it was made: another recipe gets another file, never this one
            static_path = quantize_onnx_static(fp32_path, export_dir / "model.int8-static-qdq-matmul.onnx",
                                               calibration)
            settings["onnx-int8 static"] = ("int8 quantisation", "static: ranges fixed from training sentences",
                                            onnx_forward(static_path, threads), tokenizer)
        except Exception as error:
            skipped.append({"lever": "int8 quantisation", "setting": "static", "skipped":
                            f"{type(error).__name__}: {str(error).splitlines()[0][:160]}"})
        if threads > 1:
            settings["onnx-int8 dynamic, 1 thread"] = ("threads", "dynamic int8 on 1 thread",
                                                       onnx_forward(dynamic_path, 1), tokenizer)
            student_fp32 = build_variant(model, tokenizer, "fp32")
            settings["fp32, 1 thread"] = ("threads", "PyTorch fp32 on 1 thread",
                                          _with_threads(student_fp32.forward, 1), tokenizer)
            settings[f"fp32, {threads} threads"] = ("threads", f"PyTorch fp32 on {threads} threads",
                                                    _with_threads(student_fp32.forward, threads), tokenizer)
    rows, benches = [], {}
    for name, (lever, setting, forward, tok) in list(settings.items()):
        scored = teacher if name == "teacher" else model
        bench = benches[name] = PerformanceBenchmark(scored, tok, test_df, name, max_length=max_length,
                                                     latency_runs=latency_runs)
        bench.runner = Variant(name, forward, None)
        try:
            metrics = bench.compute_accuracy()  # the whole test split, as chapter 5 scores
        except Exception as error:  # a setting that builds but cannot run: reported, not timed
            if name == "teacher":
                raise
            del settings[name]
            skipped.append({"lever": lever, "setting": setting,
                            "skipped": f"{type(error).__name__}: {str(error).splitlines()[0][:160]}"})
            continue
        rows.append({"name": name, "lever": lever, "setting": setting, "accuracy": metrics["accuracy"],
                     "n_correct": metrics["n_correct"]})
    times = time_interleaved({name: s[2] for name, s in settings.items()},
                             {name: benches[name].latency_inputs() for name in settings},
                             rounds=max(2, latency_runs // per_round), per_round=per_round)
    timing = latency_summary(times, baseline="teacher")
    table = pd.DataFrame(rows).merge(timing, on="name")
    return pd.concat([table, pd.DataFrame(skipped)], ignore_index=True)
