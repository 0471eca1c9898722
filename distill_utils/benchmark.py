"""One uniform benchmark record per model: accuracy, size and speed, measured side by side.

In the spirit of NLP with Transformers (ch. 8): `PerformanceBenchmark` measures one model;
`benchmark_profile` measures the teacher and every student of a profile in one process, with the
same sentences and threads, so ratios between them are meaningful. Latency is the model's forward
pass on pre-tokenized inputs (tokenization excluded), after a warm-up.

Command line (prints the table): ``python -m distill_utils.benchmark --profile cpu``
"""
from __future__ import annotations

import argparse
import contextlib
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .metrics import classification_metrics
from .models import count_parameters, predict_logits


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@contextlib.contextmanager
def torch_threads(threads: int | None):
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)


class PerformanceBenchmark:
    """Measures one model on the test split and returns one flat record (a dict)."""

    def __init__(self, model, tokenizer, test_df: pd.DataFrame, name: str, *, role: str = "",
                 variant: str = "fp32", max_length: int = 128, latency_runs: int = 200,
                 throughput_batches: int = 10, throughput_batch_size: int = 32,
                 threads: int | None = None, checkpoint_dir: str | Path | None = None):
        self.model, self.tokenizer, self.test_df = model.eval(), tokenizer, test_df
        self.name, self.role, self.variant = name, role, variant
        self.max_length, self.latency_runs = max_length, latency_runs
        self.throughput_batches, self.throughput_batch_size = throughput_batches, throughput_batch_size
        self.threads, self.checkpoint_dir = threads, checkpoint_dir
        self.logits: np.ndarray | None = None

    def compute_accuracy(self) -> dict:
        self.logits = predict_logits(self.model, self.tokenizer, list(self.test_df["sentence"]),
                                     max_length=self.max_length)
        metrics = classification_metrics(self.test_df["label"].to_numpy(), self.logits)
        return {k: metrics[k] for k in ("accuracy", "macro_f1", "n_correct", "n", "confusion_matrix")}

    def compute_size(self) -> dict:
        params = count_parameters(self.model)
        size = {"parameters": params,
                "size_mb": sum(p.numel() * 4 for p in self.model.parameters()) / 2**20}
        if self.checkpoint_dir is not None:
            weights = Path(self.checkpoint_dir) / "model.safetensors"
            size["disk_mb"] = weights.stat().st_size / 2**20 if weights.is_file() else None
        return size

    def _encode(self, sentences: list[str]) -> dict:
        return self.tokenizer(sentences, padding=True, truncation=True,
                              max_length=self.max_length, return_tensors="pt")

    @torch.inference_mode()
    def time_latency(self, warmup: int = 10) -> dict:
        sentences = list(self.test_df["sentence"])
        inputs = [self._encode([sentences[i % len(sentences)]]) for i in range(self.latency_runs)]
        for batch in inputs[:warmup]:
            self.model(**batch)
        times = []
        for batch in inputs:
            start = time.perf_counter()
            self.model(**batch)
            times.append((time.perf_counter() - start) * 1000)
        times = np.asarray(times)
        tokens = [int(b["input_ids"].shape[1]) for b in inputs]
        return {"latency_ms_median": float(np.median(times)), "latency_ms_p95": float(np.percentile(times, 95)),
                "latency_ms_mean": float(times.mean()), "latency_ms_std": float(times.std(ddof=1)),
                "latency_runs": len(times), "mean_tokens_batch1": float(np.mean(tokens))}

    @torch.inference_mode()
    def time_throughput(self) -> dict:
        sentences = list(self.test_df["sentence"])
        size = self.throughput_batch_size
        batches = [self._encode([sentences[(b * size + i) % len(sentences)] for i in range(size)])
                   for b in range(self.throughput_batches)]
        self.model(**batches[0])  # warm-up
        start = time.perf_counter()
        for batch in batches:
            self.model(**batch)
        elapsed = time.perf_counter() - start
        return {"throughput_samples_per_s": size * len(batches) / elapsed,
                "throughput_batch_size": size, "throughput_batches": len(batches)}

    def run_benchmark(self) -> dict:
        record = {"model": self.name, "role": self.role, "variant": self.variant}
        with torch_threads(self.threads) as threads:
            record.update(self.compute_size())
            record.update(self.compute_accuracy())
            record.update(self.time_latency())
            record.update(self.time_throughput())
        record.update({"threads": threads, "dtype": "float32" if self.variant == "fp32" else self.variant,
                       "sequence_length": f"dynamic padding, truncation at {self.max_length}",
                       "cpu": cpu_name(), "torch": torch.__version__})
        return record


def student_checkpoints(students_dir: Path, seed: int, modes: tuple[str, ...] = ("kd", "plain")) -> list[Path]:
    """The saved student runs of one seed and the given modes (chapter 4's layout)."""
    return sorted(p for mode in modes for p in students_dir.glob(f"*/{mode}-seed{seed}")
                  if (p / "run.json").is_file())


def benchmark_profile(cfg, test_df: pd.DataFrame, teacher_dir: Path, student_dirs: list[Path],
                      progress: bool = True) -> pd.DataFrame:
    """Benchmark the teacher and the given student checkpoints in this process, one row each."""
    from tqdm.auto import tqdm

    from ._io import read_json
    from .models import load_checkpoint

    rows = []
    for directory in tqdm([teacher_dir, *student_dirs], desc="benchmark", disable=not progress):
        info = read_json(directory / "run.json")
        model, tokenizer = load_checkpoint(directory)
        name = info["model"] if info["role"] == "teacher" else f"{info['model']} ({info['mode']})"
        bench = PerformanceBenchmark(
            model, tokenizer, test_df, name, role=info["role"], max_length=cfg.max_length,
            latency_runs=cfg.latency_runs, throughput_batches=cfg.throughput_batches,
            threads=cfg.threads, checkpoint_dir=directory,
        )
        rows.append({**bench.run_benchmark(), "seed": info["seed"], "mode": info.get("mode", "teacher")})
        del model
    table = pd.DataFrame(rows)
    teacher = table[table["role"] == "teacher"].iloc[0]
    table["speedup_vs_teacher"] = teacher["latency_ms_median"] / table["latency_ms_median"]
    table["size_ratio_vs_teacher"] = table["size_mb"] / teacher["size_mb"]
    return table


# The reference experiment this book answers (BERT-base-uncased -> DistilBERT-base-uncased),
# as it reported them: test accuracy, correct answers out of 340, size in MB, ms per sample.
REFERENCE = {
    "teacher": {"model": "bert-base-uncased", "accuracy": 0.9441, "correct": 321, "n": 340,
                "size_mb": 417.65, "latency_ms": 7.66},
    "student": {"model": "distilbert-base-uncased", "accuracy": 0.9529, "correct": 324, "n": 340,
                "size_mb": 255.42, "latency_ms": 3.98},
}

SUMMARY_COLUMNS = ["model", "accuracy", "macro_f1", "parameters", "size_mb", "latency_ms_median",
                   "latency_ms_p95", "throughput_samples_per_s", "speedup_vs_teacher"]


def main(argv: list[str] | None = None) -> None:
    from .artifacts import artifacts_root, require
    from .data import load_phrasebank, split_phrasebank
    from .profiles import resolve_config

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default=None, help="profile name (default: $DISTILL_PROFILE or cpu)")
    parser.add_argument("--artifacts-dir", default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--latency-runs", type=int, default=None)
    parser.add_argument("--output", default=None, help="also write the records as JSON here")
    args = parser.parse_args(argv)
    cfg = resolve_config(args.profile, threads=args.threads, latency_runs=args.latency_runs,
                         artifacts_dir=args.artifacts_dir)
    root = artifacts_root(cfg.profile, cfg.artifacts_dir)
    teacher_dir = require(root / "teacher", "teacher")
    students = student_checkpoints(require(root / "students", "students"), cfg.seed)
    test = split_phrasebank(load_phrasebank(cfg.agreement), seed=cfg.split_seed,
                            test_size=cfg.test_size, val_size=cfg.val_size)["test"]
    table = benchmark_profile(cfg, test, teacher_dir, students, progress=False)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.sort_values("latency_ms_median")[SUMMARY_COLUMNS].to_string(index=False))
    first = table.iloc[0]
    print(f"\nthreads={first['threads']} batch=1 (latency) / {first['throughput_batch_size']} (throughput) "
          f"dtype={first['dtype']} sequence={first['sequence_length']} cpu={first['cpu']}")
    if args.output:
        from ._io import write_json

        write_json(args.output, table.to_dict(orient="records"))


if __name__ == "__main__":
    main()
