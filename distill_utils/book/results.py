"""One machine-readable summary of a whole recorded run: what the results page shows.

`build_results` gathers what the chapters wrote (`artifacts.Artifacts`: the teacher's and every
student's run record, chapter 5's benchmark records) into one dict: for every model, mode
and variant, accuracy over seeds (mean, std, 95% CI), macro-F1 and ECE, parameters, size, latency
at batch size 1 (median, p95) and throughput at batch size 32; the paired tests between students,
controls and teacher; and the run's provenance (profile, seeds, agreement, packages, CPU, threads,
`distill_utils` hash). Chapter 6 writes it to ``Artifacts.results`` and reads its tables from it;
a recorded cpu run (``make reference``) copies it to ``results/reference.json``.
"""
from __future__ import annotations

import math

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .._io import read_json
from ..artifacts import Artifacts, display_path, notebook_path, read_run
from ..latency import speedup_text
from ..machine import cpu_flags, cpu_name
from ..data import read_splits, split_agreement
from .goals import goal_checks
from ..metrics import interval_span, runs_frame, seed_summary, summarise_runs
from ..profiles import within_points
from ..record.provenance import library_hash, run_metadata
from ..lineage import check_benchmark, check_loss_settings, check_same_teacher, check_splits
from ..pool_recipe import pool_modes, recipe_students
from ..transfer_curve import RECIPE_MODE
from ..reference import FINBERT, REFERENCE
from ..modes import DISTILLED, HIDDEN, PLAIN_MODE

SCHEMA_VERSION = 1
REQUIRED_KEYS = ("schema", "run", "settings", "models", "training_runs", "comparisons", "goals", "reference")
FIRST_STUDENT_MODES = (DISTILLED, PLAIN_MODE)  # trained for every student and seed
EXTRA_MODES = (HIDDEN,)  # optional variant of chapter 4, on one student


def _stats(values) -> dict:
    values = [float(v) for v in values]
    return {**seed_summary(values), "per_seed": values}


def _opt(row, key: str) -> float | None:
    """A float field a row may lack: the teacher has no speed-up interval against itself, and a
    variant that was not timed no latency."""
    value = row.get(key)
    return None if value is None or pd.isna(value) else float(value)


def variant_summary(records: list[dict], seed_records: list[dict] | None = None) -> list[dict]:
    """Per model and variant: accuracy, macro-F1 and ECE over every seed that was evaluated.

    ``records`` are chapter 5's timed benchmark rows (one seed), ``seed_records`` its untimed
    accuracy rows for the other seeds. Size and speed come from the timed rows.
    """
    rows = pd.DataFrame(list(records) + list(seed_records or []))
    measured = rows[rows["skipped"].isna()] if "skipped" in rows else rows
    timed = pd.DataFrame(list(records)).set_index(["model", "variant"])
    out = []
    for (model, variant), group in measured.groupby(["model", "variant"], sort=False):
        group = group.drop_duplicates("seed").sort_values("seed")  # a timed row wins over a repeat
        first = timed.loc[(model, variant)]
        out.append({
            "model": first["base_model"], "label": model, "role": first["role"],
            "mode": first["mode"], "variant": variant, "engine": first.get("engine"),
            "dtype": first.get("dtype"), "seeds": [int(s) for s in group["seed"]],
            "accuracy": _stats(group["accuracy"]), "macro_f1": _stats(group["macro_f1"]),
            "ece": _stats(group["ece"]), "n_test": int(first["n"]),
            "correct_per_seed": [int(c) for c in group["n_correct"]],
            "parameters": int(first["parameters"]), "size_mb": float(first["size_mb"]),
            "disk_mb": None if pd.isna(first["disk_mb"]) else float(first["disk_mb"]),
            "latency_ms": {"median": float(first["latency_ms_median"]), "ci_low": _opt(first, "latency_ms_ci_low"),
                           "ci_high": _opt(first, "latency_ms_ci_high"), "p95": float(first["latency_ms_p95"]),
                           "batch_size": 1, "runs": int(first["latency_runs"]), "seed": int(first["seed"]),
                           "timed_as": first.get("timed_as") if isinstance(first.get("timed_as"), str) else None},
            "throughput": {"samples_per_s": float(first["throughput_samples_per_s"]),
                           "batch_size": int(first["throughput_batch_size"])},
            "gflop_per_sample": _opt(first, "gflop_per_sample"),  # at the timed sentences' token counts
            "speedup_vs_teacher": float(first["speedup_vs_teacher"]),
            "speedup_ci": [_opt(first, "speedup_ci_low"), _opt(first, "speedup_ci_high")],
            "disk_ratio_vs_teacher": None if pd.isna(first["disk_ratio_vs_teacher"])
            else float(first["disk_ratio_vs_teacher"]),
        })
    skipped = rows[rows["skipped"].notna()] if "skipped" in rows else rows.iloc[0:0]
    for _, row in skipped.drop_duplicates(["model", "variant"]).iterrows():
        out.append({"model": row["base_model"], "label": row["model"], "mode": row["mode"],
                    "variant": row["variant"], "skipped": row["skipped"]})
    return _records(pd.DataFrame(out))


def _student_records(cfg, art: Artifacts, experiments: dict) -> list[dict]:
    """Every student run of the profile: distilled and plain are required (the compression
    students distilled only), and so are the pool recipe's runs chapter 4 says it trained (the
    compression students from the chosen teacher alone); extras optional."""
    runs = art.student_runs(cfg.students, FIRST_STUDENT_MODES, cfg.seeds)
    runs += art.student_runs(cfg.compression_students, (DISTILLED,), cfg.seeds)
    modes = pool_modes(art, experiments)
    if modes:
        runs += art.student_runs(experiments["pool"]["students"], tuple(modes), cfg.seeds)
        runs += art.student_runs(experiments["pool"]["compression_students"], tuple(modes[:1]), cfg.seeds)
    runs += art.student_runs(recipe_students(art), (RECIPE_MODE,), cfg.seeds)
    runs += art.student_runs(cfg.students, EXTRA_MODES, cfg.seeds, required=False)
    return [read_run(directory) for directory in runs]


def build_results(cfg, art: Artifacts) -> dict:
    """The summary of one profile's run, from the artifacts chapters 1 to 5 wrote."""
    splits = read_splits(art.require_splits())
    labels = splits["test"]["label"].to_numpy()
    teachers = art.teacher_records()
    check_splits(teachers, splits, "chapter 6")
    bench = read_json(art.require_benchmark())
    experiments = read_json(art.require_experiments())
    students = _student_records(cfg, art, experiments)
    check_same_teacher(art.teacher, students + [{"model": "the budget curve", **experiments}], "chapter 6")
    check_splits(students, splits, "chapter 6")
    check_benchmark(art, bench)  # every row measured on the weights there now
    check_loss_settings(experiments, students)  # the alpha and T reported are the runs' own
    runs = runs_frame(teachers + students, labels)
    training = summarise_runs(runs)
    # Holm-adjusted once, by chapter 4, over all its comparisons (the budget curve's too)
    comparisons = [test for experiment in ("students", "pool", "recipe") for test in chapter4_tests(experiments, experiment)]
    variants = variant_summary(bench["records"], bench.get("seed_accuracy", []))
    kd = next(r for r in students if r["mode"] == DISTILLED)
    metadata = run_metadata(cfg)
    benchmark_sha = bench.get("run", {}).get("distill_utils_sha")
    return {
        "schema": SCHEMA_VERSION,
        "run": {
            "profile": cfg.profile, "agreement": split_agreement(splits, cfg.agreement), "seeds": list(cfg.seeds),
            "split_seed": cfg.split_seed, "split_sizes": {k: len(v) for k, v in splits.items()},
            # the CPU that timed chapter 5 (and, in a recorded run, trained every model)
            "cpu": bench["records"][0].get("cpu") or cpu_name(),
            "cpu_flags": bench["records"][0].get("cpu_flags") or cpu_flags(),
            "threads": int(bench["records"][0].get("threads") or metadata["threads"]),
            "latency_batch_size": 1, "throughput_batch_size": int(bench["records"][0].get("throughput_batch_size") or 32),
            "device": _device(), "python": metadata["python"], "packages": metadata["packages"],
            "distill_utils_sha": library_hash(), "benchmark_distill_utils_sha": benchmark_sha,
            "sequence_length": f"dynamic padding, truncation at {cfg.max_length}",
        },
        "settings": {
            "teacher": cfg.teacher, "students": list(cfg.students), "headline_student": cfg.headline_student,
            "teacher_seeds": [int(t["seed"]) for t in teachers],
            "teacher_epochs": cfg.teacher_epochs, "teacher_lr": cfg.teacher_lr,
            "student_epochs": cfg.student_epochs, "student_lr": cfg.student_lr,
            "batch_size": cfg.batch_size, "max_length": cfg.max_length,
            "alpha": kd["alpha"], "temperature": kd["temperature"],
            "loss_sources": _loss_sources(art, experiments),  # "sweep" or "parameter", per setting
        },
        "models": variants,
        "training_runs": _records(training),
        "comparisons": comparisons,
        "budget": experiments["budget"],
        # the teacher's seeds together (chapter 2's ensemble and shared errors, as chapter 4 used them)
        # and the best recipe: every label + the pool's soft labels (chapter 4)
        "ensemble": experiments["ensemble"], "pool": experiments["pool"],
        # with every label, the teacher's answers on a transfer set of growing size, the recipe it
        # chose, and the budget curve at one fraction with a teacher that saw only those labels
        # (None where chapter 4 ran none of them)
        "transfer": experiments.get("transfer"), "recipe": experiments.get("recipe"),
        "low_resource": experiments.get("low_resource"),
        "training_cost": experiments["cost"],
        # measured training minutes per experiment, and how the recording was trained (chapter 4)
        "training_time": experiments.get("training_time"), "recording": experiments.get("recording"),
        "goals": goal_checks(cfg, training, comparisons, variants, experiments,
                             best_compressed(models_table(variants), within_points(cfg), teacher_mean_accuracy(teachers))
                             if cfg.goals else None),
        "reference": {"experiment": REFERENCE, "finbert": FINBERT},
    }


def chapter4_tests(experiments: dict, experiment: str) -> list[dict]:
    """The paired tests of one experiment ("students", "budget") as chapter 4 wrote them to
    ``experiments.json``: one Holm family over all of chapter 4's comparisons, so a p-value read
    here is the one chapter 4 states (never adjusted again over a smaller set)."""
    tests = experiments.get("tests")
    if not isinstance(tests, list):
        raise ValueError("experiments.json holds no paired tests (written by an older chapter 4): "
                         f"re-run {notebook_path('students')}, then this notebook")
    return [test for test in tests if test.get("experiment") == experiment]


def _device() -> str:
    return f"cuda: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "cpu"


def _records(table: pd.DataFrame) -> list[dict]:
    """DataFrame rows as JSON-ready dicts: NaN becomes None."""
    return [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
            for row in table.to_dict(orient="records")]


def load_results(path: str | Path) -> dict:
    """Read a results file, checking it is one this code understands."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no results file at {path.name}: run {notebook_path('results')} "
                                "(or `make reference` for the recorded cpu run)")
    try:
        results = read_json(path)
    except ValueError as error:
        raise ValueError(f"{path.name} is not valid JSON (truncated?): {error}; write it again with "
                         f"{notebook_path('results')}") from None
    if not isinstance(results, dict):
        raise ValueError(f"{path.name} is not a results summary: a {type(results).__name__}, not an object")
    missing = [key for key in REQUIRED_KEYS if key not in results]
    if missing:
        raise ValueError(f"{path.name} is not a results summary: missing {', '.join(missing)}")
    if results["schema"] != SCHEMA_VERSION:
        raise ValueError(f"{path.name} has schema {results['schema']}, this code reads {SCHEMA_VERSION}")
    _check_models(path.name, results["models"])
    _check_training_runs(path.name, results["training_runs"])
    _check_comparisons(path.name, results["comparisons"])
    _check_ensemble(path.name, results.get("ensemble"))
    return results


def _number(name: str, where: str, value, low: float, high: float, *, optional: bool = False) -> None:
    """A figure of the summary that must be a number in [low, high]: the error names the field."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"{name}: {where} must be a number in [{low:g}, {high:g}], got {value!r}; write the "
                         f"summary again with {notebook_path('results')}")


def _positive(name: str, where: str, value, *, optional: bool = False) -> None:
    """A measured size or speed: a finite number above zero."""
    _number(name, where, value, math.ulp(0.0), math.inf, optional=optional)
    if not math.isfinite(value if value is not None else 1.0):
        raise ValueError(f"{name}: {where} must be finite, got {value!r}; write the summary again with "
                         f"{notebook_path('results')}")


def _objects(name: str, key: str, items, *, non_empty: bool = False) -> list[dict]:
    if not isinstance(items, list) or (non_empty and not items):
        raise ValueError(f"{name}: {key} must be a{' non-empty' if non_empty else ''} list, got {items!r:.60}")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValueError(f"{name}: {key}[{i}] is not an object")
    return items


def _check_models(name: str, models) -> None:
    """Every measured model carries accuracy, macro-F1 and ECE as fractions in [0, 1]: the mean, the
    interval over seeds and every seed's value. An error names the field."""
    for i, model in enumerate(_objects(name, "models", models, non_empty=True)):
        if model.get("skipped"):
            continue
        label = f"({model.get('label', '?')} [{model.get('variant', '?')}])"
        for field in ("accuracy", "macro_f1", "ece"):
            stats = model.get(field) if isinstance(model.get(field), dict) else {}
            _number(name, f"models[{i}].{field}.mean {label}", stats.get("mean"), 0, 1)
            for key in ("ci_low", "ci_high"):
                _number(name, f"models[{i}].{field}.{key} {label}", stats.get(key), 0, 1, optional=True)
            per_seed = stats.get("per_seed", [])
            if not isinstance(per_seed, list):
                raise ValueError(f"{name}: models[{i}].{field}.per_seed must be a list {label}")
            for j, value in enumerate(per_seed):
                _number(name, f"models[{i}].{field}.per_seed[{j}] {label}", value, 0, 1)
        # size and speed: finite and above zero (a NaN, a negative or a zero latency is no measurement)
        latency = model.get("latency_ms") if isinstance(model.get("latency_ms"), dict) else {}
        for key in ("median", "p95", "ci_low", "ci_high"):
            _positive(name, f"models[{i}].latency_ms.{key} {label}", latency.get(key), optional=key.startswith("ci"))
        throughput = model.get("throughput") if isinstance(model.get("throughput"), dict) else {}
        _positive(name, f"models[{i}].throughput.samples_per_s {label}", throughput.get("samples_per_s"))
        for key in ("size_mb", "parameters"):
            _positive(name, f"models[{i}].{key} {label}", model.get(key))


def _check_training_runs(name: str, runs) -> None:
    for i, run in enumerate(_objects(name, "training_runs", runs)):
        for key in ("accuracy_mean", "macro_f1_mean", "ece_mean"):
            _number(name, f"training_runs[{i}].{key}", run.get(key), 0, 1)
        for key in ("accuracy_ci_low", "accuracy_ci_high", "macro_f1_ci_low", "macro_f1_ci_high", "accuracy_std"):
            _number(name, f"training_runs[{i}].{key}", run.get(key), 0, 1, optional=True)


def _check_comparisons(name: str, comparisons) -> None:
    for i, test in enumerate(_objects(name, "comparisons", comparisons)):
        for key in ("difference_points", "ci_low_points", "ci_high_points"):
            _number(name, f"comparisons[{i}].{key}", test.get(key), -100, 100)
        for key in ("bootstrap_p", "holm_p", "ece_p", "ece_holm_p"):
            _number(name, f"comparisons[{i}].{key}", test.get(key), 0, 1, optional=key != "bootstrap_p")


def _check_ensemble(name: str, ensemble) -> None:
    """The ensemble's accuracy, interval and calibration are fractions; its error counts whole."""
    if ensemble is None:
        return
    if not isinstance(ensemble, dict):
        raise ValueError(f"{name}: ensemble must be an object, got {ensemble!r:.60}")
    for key in ("accuracy", "wilson_low", "wilson_high", "ece"):
        _number(name, f"ensemble.{key}", ensemble.get(key), 0, 1)
    n = ensemble.get("n")
    _number(name, "ensemble.n", n, 1, 10**9)
    for i, index in enumerate(ensemble.get("shared_errors") or []):
        _number(name, f"ensemble.shared_errors[{i}]", index, 0, n - 1)
    for i, row in enumerate(_objects(name, "ensemble.repeated", ensemble.get("repeated") or [])):
        for j, count in enumerate(row.get("per_seed") or []):
            _number(name, f"ensemble.repeated[{i}].per_seed[{j}]", count, 0, len(ensemble.get("shared_errors")))


def models_table(models: list[dict]) -> pd.DataFrame:
    """One flat row per measured model variant (``results["models"]``), for display and plotting."""
    rows = []
    for m in models:
        if m.get("skipped"):
            continue
        rows.append({
            "model": m["label"], "base_model": m["model"], "mode": m["mode"], "variant": m["variant"],
            "seeds": len(m["seeds"]), "accuracy": m["accuracy"]["mean"],
            "accuracy_std": m["accuracy"]["std"], "accuracy_ci_low": m["accuracy"]["ci_low"],
            "accuracy_ci_high": m["accuracy"]["ci_high"], "macro_f1": m["macro_f1"]["mean"],
            "ece": m["ece"]["mean"], "parameters": m["parameters"], "size_mb": m["size_mb"],
            "disk_mb": m["disk_mb"], "latency_ms_median": m["latency_ms"]["median"],
            "latency_ms_p95": m["latency_ms"]["p95"], "throughput_samples_per_s": m["throughput"]["samples_per_s"],
            "speedup_vs_teacher": m["speedup_vs_teacher"], "role": m["role"],
            "latency_ms_ci_low": m["latency_ms"].get("ci_low"), "latency_ms_ci_high": m["latency_ms"].get("ci_high"),
            "speedup_ci_low": (m.get("speedup_ci") or [None, None])[0],
            "speedup_ci_high": (m.get("speedup_ci") or [None, None])[1],
            "timed_as": m["latency_ms"].get("timed_as"),
            "correct_per_seed": ", ".join(str(c) for c in m["correct_per_seed"]),
        })
    return pd.DataFrame(rows).astype({"accuracy_std": float, "accuracy_ci_low": float, "accuracy_ci_high": float})


def _loss_sources(art: Artifacts, experiments: dict) -> dict[str, str]:
    """Where chapter 4's alpha and T came from, as it recorded them."""
    sources = experiments.get("loss_sources")
    if not isinstance(sources, dict) or set(sources) != {"alpha", "temperature"}:
        raise ValueError(f"{display_path(art.experiments)} does not say where alpha and T came from "
                         f"(written by an older chapter 4): re-run {notebook_path('students')}")
    return sources


def teacher_mean_accuracy(teacher_records: list[dict]) -> float:
    """The teacher's test accuracy, mean over its seeds (`Artifacts.teacher_records`): what "within
    reach of the teacher" is measured from, in chapters 5 and 6 and the goals."""
    if not teacher_records:
        raise ValueError(f"no teacher run records: run {notebook_path('teacher')}")
    return float(np.mean([record["test"]["accuracy"] for record in teacher_records]))


def best_compressed(table: pd.DataFrame, within_points: float, teacher_accuracy: float) -> dict | None:
    """The fastest student variant whose mean accuracy over seeds is within ``within_points`` of
    ``teacher_accuracy`` (`teacher_mean_accuracy`), or None when no student variant is. ``table``
    is `models_table`'s (the one definition of "the fastest variant within reach", read by
    chapters 5 and 6 and the goals; ``within_points`` comes from `profiles.within_points`)."""
    close = table[(table["role"] == "student")
                  & (100 * (teacher_accuracy - table["accuracy"]) <= within_points + 1e-9)]
    if close.empty:
        return None
    best = close.sort_values("latency_ms_median").iloc[0].to_dict()
    return {**best, "accuracy_gap_vs_teacher": teacher_accuracy - best["accuracy"]}


def reference_comparison(results: dict) -> pd.DataFrame:
    """Our teacher and DistilBERT-shaped distilled student (fp32) beside the reference experiment's
    and FinBERT's published all-agree accuracy; latency compared as speed-ups over each one's own
    teacher, not milliseconds. Ours carries its interval over timing rounds; the reference's is one
    timing, with none."""
    table = models_table(results["models"])
    fp32 = table[table["variant"] == "fp32"]
    teacher = fp32[fp32["role"] == "teacher"].iloc[0]
    student_name = results["settings"]["headline_student"]
    student = fp32[(fp32["base_model"] == student_name) & (fp32["mode"] == DISTILLED)].iloc[0]
    ref = results["reference"]["experiment"]
    n_test = results["run"]["split_sizes"]["test"]
    rows = [
        {"experiment": "reference (one run)", "role": "teacher", "model": ref["teacher"]["model"],
         "test sentences": ref["teacher"]["n"], "accuracy %": 100 * ref["teacher"]["accuracy"],
         "95% CI": None, "size MB": ref["teacher"]["size_mb"], "speed-up vs its own teacher": "1x"},
        {"experiment": "reference (one run)", "role": "student", "model": ref["student"]["model"],
         "test sentences": ref["student"]["n"], "accuracy %": 100 * ref["student"]["accuracy"],
         "95% CI": None, "size MB": ref["student"]["size_mb"],
         "speed-up vs its own teacher": f"{ref['teacher']['latency_ms'] / ref['student']['latency_ms']:.2f}x (one timing)"},
        {"experiment": f"this book ({results['run']['profile']})", "role": "teacher", "model": teacher["base_model"],
         "test sentences": n_test, "accuracy %": 100 * teacher["accuracy"], "95% CI": None,
         "size MB": teacher["size_mb"], "speed-up vs its own teacher": "1x"},
        {"experiment": f"this book ({results['run']['profile']})", "role": "student (kd)",
         "model": student["base_model"], "test sentences": n_test,
         "accuracy %": 100 * student["accuracy"], "95% CI": _ci_text(student),
         "size MB": student["size_mb"],
         "speed-up vs its own teacher": speedup_text(student)},  # with its 95% interval over timing rounds
        {"experiment": "FinBERT (published)", "role": "domain BERT-base", "model": results["reference"]["finbert"]["model"],
         "test sentences": None, "accuracy %": 100 * results["reference"]["finbert"]["accuracy"],
         "95% CI": None, "size MB": None, "speed-up vs its own teacher": None},
    ]
    return pd.DataFrame(rows)


def _ci_text(row) -> str | None:
    return interval_span(row["accuracy_ci_low"], row["accuracy_ci_high"], scale=100)
