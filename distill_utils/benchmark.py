"""One uniform benchmark record per model variant: accuracy, size and speed, measured side by side.

In the spirit of NLP with Transformers (ch. 8): `PerformanceBenchmark` scores one model variant;
`benchmark_profile` runs the teacher and the students of a profile, each in every variant (fp32,
bf16 autocast, torch dynamic int8, ONNX Runtime fp32 and int8), in one process with the same
sentences and threads, and times them all interleaved (`latency`), so ratios carry intervals.
Latency is the forward pass on pre-tokenized inputs (tokenization excluded). FLOPs per sentence
come from the model's shapes at the real token counts; achieved GFLOP/s is set against a
matrix-multiply peak measured on the same machine (`machine`).

Command line (prints the table): ``python -m distill_utils.benchmark --profile cpu``
"""
from __future__ import annotations

import argparse
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ._io import write_json
from .artifacts import Artifacts, checkpoint_fingerprint, read_run
from .data import read_splits
from .latency import latency_summary, time_interleaved
from .lineage import check_same_teacher, check_splits
from .machine import cpu_flags, cpu_name, matmul_peak_gflops, torch_threads
from .metrics import classification_metrics, expected_calibration_error
from .models import count_parameters, load_checkpoint
from .modes import PLAIN_MODE, TEACHER
from .pool_recipe import benchmarked_runs
from .profiles import resolve_config
from .variants import (VARIANT_DTYPE, VARIANT_ENGINE, VARIANTS, Variant, VariantUnavailable, build_variant,
                       parse_variants)


def forward_flops(config, sequence_length: int, batch_size: int = 1) -> int:
    """Multiply-add FLOPs (2 per MAC) of one encoder forward pass with a classification head.

    Per layer: Q, K, V and output projections 8*n*d^2, attention scores and weighted sum 4*n^2*d,
    feed-forward 4*n*d*f; the head adds 2*(d^2 + d*labels). Embedding lookups, softmax, layer
    norms and activations are memory-bound and left out (a few percent).
    """
    n, d = int(sequence_length), int(config.hidden_size)
    f = int(getattr(config, "intermediate_size", 4 * d))
    per_layer = 8 * n * d * d + 4 * n * n * d + 4 * n * d * f
    head = 2 * (d * d + d * int(config.num_labels))
    return int(batch_size) * (int(config.num_hidden_layers) * per_layer + head)


# the variants a measured matmul ceiling applies to: torch's own kernels, in the dtype measured
PEAK_BASIS = {"fp32": "fp32", "bf16": "bf16"}


class PerformanceBenchmark:
    """Measures one model variant on the test split and returns one flat record (a dict)."""

    def __init__(self, model, tokenizer, test_df: pd.DataFrame, name: str, *, role: str = "",
                 mode: str = "", variant: str = "fp32", max_length: int = 128,
                 latency_runs: int = 200, throughput_batches: int = 10, throughput_batch_size: int = 32,
                 threads: int | None = None, checkpoint_dir: str | Path | None = None,
                 export_dir: str | Path | None = None, peaks: dict[str, float | None] | None = None):
        self.model, self.tokenizer, self.test_df = model.eval(), tokenizer, test_df
        self.name, self.role, self.mode, self.variant = name, role, mode, variant
        self.max_length, self.latency_runs = max_length, latency_runs
        self.throughput_batches, self.throughput_batch_size = throughput_batches, throughput_batch_size
        self.threads, self.checkpoint_dir, self.export_dir = threads, checkpoint_dir, export_dir
        self.peaks = peaks or {}
        self.runner: Variant | None = None
        self.logits: np.ndarray | None = None
        self._inputs: dict[str, list[dict]] = {}

    def _encode(self, sentences: list[str]) -> dict:
        return dict(self.tokenizer(sentences, padding=True, truncation=True,
                                   max_length=self.max_length, return_tensors="pt"))

    def compute_accuracy(self) -> dict:
        sentences = list(self.test_df["sentence"])
        order = np.argsort([len(s) for s in sentences], kind="stable")
        logits = np.zeros((len(sentences), self.model.config.num_labels), dtype=np.float32)
        for start in range(0, len(order), 64):
            index = order[start:start + 64]
            logits[index] = self.runner.forward(self._encode([sentences[i] for i in index]))
        self.logits = logits
        labels = self.test_df["label"].to_numpy()
        metrics = classification_metrics(labels, logits)
        return {**{k: metrics[k] for k in ("accuracy", "macro_f1", "n_correct", "n", "confusion_matrix")},
                "ece": expected_calibration_error(labels, logits)}

    def compute_size(self) -> dict:
        return {"parameters": count_parameters(self.model),
                "size_mb": sum(p.numel() * 4 for p in self.model.parameters()) / 2**20,
                "disk_mb": self.runner.disk_mb}

    def latency_inputs(self) -> list[dict]:
        """Batch-1 inputs for the interleaved timing (`latency.time_interleaved`): the test
        sentences in order, as many as ``latency_runs``, through this model's tokenizer."""
        if "batch1" not in self._inputs:  # tokenized once: counted for FLOPs, then timed
            sentences = list(self.test_df["sentence"])
            self._inputs["batch1"] = [self._encode([sentences[i % len(sentences)]]) for i in range(self.latency_runs)]
        return self._inputs["batch1"]

    def throughput_inputs(self) -> list[dict]:
        if "batch32" not in self._inputs:
            sentences, size = list(self.test_df["sentence"]), self.throughput_batch_size
            self._inputs["batch32"] = [self._encode([sentences[(b * size + i) % len(sentences)] for i in range(size)])
                                       for b in range(self.throughput_batches)]
        return self._inputs["batch32"]

    def flop_counts(self) -> dict:
        """FLOPs per sentence at the real token lengths of the timed batch-1 inputs (and of the
        throughput batches), from the model's shapes (`forward_flops`)."""
        tokens = [int(b["input_ids"].shape[1]) for b in self.latency_inputs()]
        batch_flops = [forward_flops(self.model.config, b["input_ids"].shape[1], self.throughput_batch_size)
                       for b in self.throughput_inputs()]
        return {"mean_tokens_batch1": float(np.mean(tokens)),
                "gflop_per_sample": float(np.mean([forward_flops(self.model.config, n) for n in tokens]) / 1e9),
                "gflop_per_batch32": float(np.mean(batch_flops) / 1e9)}

    def run_accuracy(self) -> dict:
        """Accuracy, macro-F1 and ECE of this variant only (no timing): for the other seeds."""
        record = {"model": self.name, "mode": self.mode, "variant": self.variant, "skipped": None}
        with torch_threads(self.threads) as threads:
            try:
                self.runner = build_variant(self.model, self.tokenizer, self.variant, self.export_dir,
                                            threads, self.checkpoint_dir)
            except VariantUnavailable as reason:
                return {**record, "skipped": str(reason)}
            record.update(self.compute_accuracy())
        return record

    def run_benchmark(self) -> dict:
        """Size, accuracy and FLOP counts of this variant; the runner stays
        built for the interleaved timing that `benchmark_profile` does later."""
        record = {"model": self.name, "role": self.role, "mode": self.mode,
                  "variant": self.variant, "skipped": None,
                  "engine": VARIANT_ENGINE.get(self.variant),
                  "dtype": VARIANT_DTYPE.get(self.variant)}
        with torch_threads(self.threads) as threads:
            try:
                self.runner = build_variant(
                    self.model, self.tokenizer, self.variant, self.export_dir,
                    threads, self.checkpoint_dir)
            except VariantUnavailable as reason:
                record.update({"skipped": str(reason), "threads": threads,
                               "parameters": count_parameters(self.model)})
                return record
            record.update(self.compute_size())
            record.update(self.compute_accuracy())
            record.update(self.flop_counts())
        record.update({
            "threads": threads, **ceiling(self.variant, self.peaks),
            "throughput_batch_size": self.throughput_batch_size,
            "throughput_batches": self.throughput_batches,
            "sequence_length":
                f"dynamic padding, truncation at {self.max_length}",
            "cpu": cpu_name(), "cpu_flags": cpu_flags(),
            "torch": torch.__version__, "onnxruntime": _version("onnxruntime"),
        })
        return record


def ceiling(variant: str, peaks: dict[str, float | None]) -> dict:
    """The measured matmul ceiling a variant's GFLOP/s is set against. It was measured for torch's
    own fp32 and bf16 kernels (`PEAK_BASIS`): no yardstick for int8 kernels (VNNI, AMX-INT8) or
    ONNX Runtime's, which may exceed it, so those rows carry none."""
    basis = PEAK_BASIS.get(variant)
    return {"peak_gflops": peaks.get(basis) if basis else None,
            "peak_basis": f"{basis} matmul" if basis else "none measured for this engine and dtype"}


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def architecture_of(model, tokenizer) -> str:
    """What decides a model's speed: encoder type and shape, and the tokenizer (token counts)."""
    c = model.config
    return (f"{c.model_type} {c.num_hidden_layers} x {c.hidden_size} (feed-forward "
            f"{getattr(c, 'intermediate_size', '?')}, {type(tokenizer).__name__} {len(tokenizer)})")


def benchmark_profile(cfg, art: Artifacts, test_df: pd.DataFrame, student_dirs: list[Path], *,
                      variants: tuple[str, ...] = VARIANTS, fp32_only_modes: tuple[str, ...] = (PLAIN_MODE,),
                      per_round: int = 5) -> pd.DataFrame:
    """Benchmark the run's teacher and the given students, every variant, in this process: one
    row each. ONNX exports are cached in ``art.onnx_export(checkpoint)``.

    Accuracy is scored for every row. Speed is timed once per architecture and variant, all of them
    interleaved (`latency.time_interleaved`: ``latency_runs`` batch-1 passes in rounds of
    ``per_round``, and ``throughput_batches`` rounds of one batch of 32); a row whose architecture
    was timed already says so in ``timed_as``. Students whose mode is in ``fp32_only_modes`` (the
    plain controls) are scored in fp32 only. Ratios are against the fp32 teacher, with 95% intervals
    by bootstrap over rounds.
    """
    parse_variants(variants)
    peaks = {"fp32": matmul_peak_gflops(torch.float32, threads=cfg.threads),
             "bf16": matmul_peak_gflops(torch.bfloat16, threads=cfg.threads)}
    teacher_dir = art.require_teacher()
    records = {Path(directory): read_run(directory) for directory in [teacher_dir, *student_dirs]}
    check_same_teacher(teacher_dir, list(records.values())[1:], "the benchmark")
    check_splits(list(records.values()), read_splits(art.require_splits()), "the benchmark")
    rows, timed, first_of = [], {}, {}
    for directory, info in records.items():
        mode = info.get("mode", TEACHER)
        model, tokenizer = load_checkpoint(directory)
        architecture = architecture_of(model, tokenizer)
        name = info["model"] if info["role"] == "teacher" else f"{info['model']} ({mode})"
        for variant in variants:
            if variant != "fp32" and mode in fp32_only_modes:
                continue
            bench = PerformanceBenchmark(
                model, tokenizer, test_df, name, role=info["role"], mode=mode, variant=variant,
                max_length=cfg.max_length, latency_runs=cfg.latency_runs,
                throughput_batches=cfg.throughput_batches, threads=cfg.threads,
                checkpoint_dir=directory, export_dir=art.onnx_export(directory), peaks=peaks)
            row = {**bench.run_benchmark(), "seed": info["seed"], "base_model": info["model"],
                   "architecture": architecture, "timed_as": None,
                   "weights_sha256": checkpoint_fingerprint(directory)}  # what chapter 6 checks
            if row["skipped"] is None:
                twin = first_of.setdefault((architecture, variant), len(rows))
                if twin == len(rows):
                    timed[len(rows)] = bench
                else:
                    row["timed_as"] = f"{rows[twin]['model']} [{variant}]"
            rows.append(row)
    _time_side_by_side(rows, timed, first_of, cfg, per_round)
    table = pd.DataFrame(rows)
    teacher = table[(table["role"] == "teacher") & (table["variant"] == "fp32")].iloc[0]
    table["size_ratio_vs_teacher"] = table["size_mb"] / teacher["size_mb"]
    table["disk_ratio_vs_teacher"] = table["disk_mb"] / teacher["disk_mb"]
    fp32 = table[table["variant"] == "fp32"].set_index("model")["accuracy"]
    table["accuracy_change_vs_fp32"] = table["accuracy"] - table["model"].map(fp32)
    table["accuracy_gap_vs_teacher"] = teacher["accuracy"] - table["accuracy"]
    table["pareto"] = pareto_front(table)
    return table


def _time_side_by_side(rows: list[dict], timed: dict, first_of: dict, cfg, per_round: int) -> None:
    """Time every variant in ``timed`` interleaved, at batch 1 and at batch 32, and write the
    figures (with intervals against the fp32 teacher, row 0) into its row and its twins' rows."""
    if 0 not in timed:
        raise RuntimeError("the fp32 teacher could not be run: nothing to measure speed-ups against")
    forwards = {i: bench.runner.forward for i, bench in timed.items()}
    with torch_threads(cfg.threads):
        batch1 = time_interleaved(forwards, {i: b.latency_inputs() for i, b in timed.items()},
                                  rounds=max(2, cfg.latency_runs // per_round), per_round=per_round)
        batch32 = time_interleaved(forwards, {i: b.throughput_inputs() for i, b in timed.items()},
                                   rounds=max(2, cfg.throughput_batches), per_round=1, warmup=1)
    latency = latency_summary(batch1, baseline=0).set_index("name")
    throughput = latency_summary(batch32, baseline=0).set_index("name")
    for i, row in enumerate(rows):
        if row["skipped"] is not None:
            continue
        source = first_of[(row["architecture"], row["variant"])]
        lat, thr = latency.loc[source], throughput.loc[source]
        batch_s = thr["latency_ms_median"] / 1000
        row.update(lat.to_dict())  # median, interval, p95 and speed-up of this architecture
        row.update({
            "throughput_samples_per_s": row["throughput_batch_size"] / batch_s,
            "throughput_ratio_vs_teacher": thr["speedup_vs_teacher"],
            "throughput_ratio_ci_low": thr["speedup_ci_low"], "throughput_ratio_ci_high": thr["speedup_ci_high"],
            "gflops_batch1": row["gflop_per_sample"] / (row["latency_ms_median"] / 1000),
            "gflops_batch32": row["gflop_per_batch32"] / batch_s,
        })
        peak = row["peak_gflops"]
        row["pct_of_peak_batch32"] = None if not peak else 100 * row["gflops_batch32"] / peak


def seed_accuracy(cfg, art: Artifacts, test_df: pd.DataFrame, student_dirs: list[Path], *,
                  variants: tuple[str, ...] = VARIANTS,
                  fp32_only_modes: tuple[str, ...] = (PLAIN_MODE,)) -> pd.DataFrame:
    """Accuracy, macro-F1 and ECE of every variant of more student runs (other seeds), untimed.

    Latency does not depend on the seed, accuracy does: with these rows every variant's accuracy
    gets a spread over seeds, while `benchmark_profile` times one seed's models.
    """
    rows = []
    check_splits([read_run(d) for d in student_dirs], read_splits(art.require_splits()), "the benchmark")
    for directory in [Path(d) for d in student_dirs]:
        info = read_run(directory)
        model, tokenizer = load_checkpoint(directory)
        export_dir = art.onnx_export(directory)
        for variant in variants:
            if variant != "fp32" and info["mode"] in fp32_only_modes:
                continue
            bench = PerformanceBenchmark(model, tokenizer, test_df, f"{info['model']} ({info['mode']})",
                                         role=info["role"], mode=info["mode"], variant=variant,
                                         max_length=cfg.max_length, threads=cfg.threads,
                                         checkpoint_dir=directory, export_dir=export_dir)
            rows.append({**bench.run_accuracy(), "seed": info["seed"], "base_model": info["model"],
                         "weights_sha256": checkpoint_fingerprint(directory)})
    return pd.DataFrame(rows)


def pareto_front(table: pd.DataFrame) -> pd.Series:
    """True for every measured variant that no other is both faster than and as accurate as."""
    measured = table["skipped"].isna() if "skipped" in table else pd.Series(True, index=table.index)
    front = pd.Series(False, index=table.index)
    for i, row in table[measured].iterrows():
        others = table[measured & (table.index != i)]
        dominated = ((others["latency_ms_median"] <= row["latency_ms_median"])
                     & (others["accuracy"] >= row["accuracy"])
                     & ((others["latency_ms_median"] < row["latency_ms_median"])
                        | (others["accuracy"] > row["accuracy"]))).any()
        front[i] = not dominated
    return front


SUMMARY_COLUMNS = ["model", "variant", "accuracy", "macro_f1", "parameters", "size_mb", "disk_mb",
                   "latency_ms_median", "latency_ms_p95", "throughput_samples_per_s",
                   "speedup_vs_teacher", "speedup_ci_low", "speedup_ci_high", "disk_ratio_vs_teacher", "timed_as"]
FLOP_COLUMNS = ["model", "variant", "gflop_per_sample", "mean_tokens_batch1", "gflops_batch1",
                "gflops_batch32", "peak_basis", "peak_gflops", "pct_of_peak_batch32"]


def format_table(table: pd.DataFrame, columns: list[str]) -> str:
    """Plain-text table for the command line, sorted by latency, skipped variants last with reasons."""
    shown = table.sort_values("latency_ms_median", na_position="last")
    text = shown[columns].to_string(index=False, float_format=lambda v: f"{v:,.2f}")
    skipped = shown[shown["skipped"].notna()]
    for _, row in skipped.iterrows():
        text += f"\nskipped {row['model']} [{row['variant']}]: {row['skipped']}"
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default=None, help="profile name (default: $DISTILL_PROFILE or cpu)")
    parser.add_argument("--artifacts-dir", default=None)
    parser.add_argument("--seed", type=int, default=None, help="which seed's students (default: the profile's first)")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"comma-separated subset of {','.join(VARIANTS)} (fp32 is required)")
    parser.add_argument("--threads", type=int, default=None, help="threads (>= 1; default: all cores)")
    parser.add_argument("--latency-runs", type=int, default=None)
    parser.add_argument("--output", default=None, help="also write the records as JSON here")
    args = parser.parse_args(argv)
    try:
        cfg = resolve_config(args.profile, threads=args.threads, latency_runs=args.latency_runs,
                             artifacts_dir=args.artifacts_dir, seed=args.seed)
        art = Artifacts.of(cfg)
        # chapter 1's test split, exactly as chapter 5 scores it; the seed's students must all exist
        test = read_splits(art.require_splits())["test"]
        variants = parse_variants(args.variants)
        try:
            students = benchmarked_runs(cfg, art, [cfg.seed])
        except FileNotFoundError as error:  # name what does exist
            raise FileNotFoundError(f"{error}. Trained students: {', '.join(art.existing_students()) or 'none'}") from None
        table = benchmark_profile(cfg, art, test, students, variants=variants)
    except (ValueError, OSError, RuntimeError) as error:  # the code's own message, with no traceback before it
        parser.error(str(error))
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(format_table(table, SUMMARY_COLUMNS))
        print()
        print(format_table(table, FLOP_COLUMNS))
    first = table[table["skipped"].isna()].iloc[0]
    print(f"\nthreads={first['threads']} batch=1 (latency) / {first['throughput_batch_size']} (throughput) "
          f"sequence={first['sequence_length']} cpu={first['cpu']} torch={first['torch']} "
          f"onnxruntime={first['onnxruntime']}")
    if args.output:
        write_json(args.output, table.to_dict(orient="records"))


if __name__ == "__main__":
    main()
