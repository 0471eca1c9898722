"""Distil your own classifier from the command line: a labelled CSV (or a dataset on the Hugging
Face Hub) in, a report and a student out.

    python -m distill_utils.distil_csv reviews.csv --text-column text --label-column label \\
        --out runs/reviews
    python -m distill_utils.distil_csv --dataset NAME [--dataset-config CONFIG] ...   # Hub reachable

The data is read and checked before anything trains (`own_data`: every bad input is named with
its fix), split stratified 70/10/20 (or as its own split column, or the dataset's own train,
validation and test splits, say), and run through
`recipe.distil`: the teacher fine-tuned (or
read from ``--teacher-checkpoint``), the student trained distilled and plain on the same
schedule and seed. Every training run is keyed by its `run_spec.RunSpec` and kept under
the output folder (laid out by `artifacts.Artifacts`, like the book's): a rerun, after an
interruption or with one setting changed, trains only the runs that are missing. Written there:
``report.md`` and ``report.json`` (accuracy with 95% intervals over sentences, the paired test,
size, latency at batch size 1), the distilled student and its ONNX Runtime int8 export.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
from transformers import AutoConfig
from transformers.utils import logging as hf_logging

from ._io import write_json
from .artifacts import (RUN_FILE, WEIGHTS_FILE, Artifacts, checkpoint_fingerprint,
                        is_checkpoint, read_run, repo_root)
from .latency import latency_summary, ratio_text, time_interleaved
from .losses import PLAIN, LossSettings
from .machine import mixed_precision, training_machine
from .metrics import format_p, interval_span
from .models import MODELS, check_model_name, load_checkpoint, model_key
from .modes import DISTILLED, PLAIN_MODE, TEACHER, run_label
from .record.progress import PROGRESS_ENV, TO_STDERR, tell
from .own_data import DataError, check_teacher_labels, load_hub_dataset, read_labelled_csv, split_labelled
from .recipe import (DEFAULT_LOSS, STUDENT_MODEL, STUDENT_SCHEDULE, TEACHER_MODEL, TEACHER_SCHEDULE, Outcome,
                     distil, fine_tune)
from .run_spec import RunSpec, Schedule, array_fingerprint, frame_fingerprint
from .record.runs import RunCache
from .trainer import save_checkpoint
from .variants import export_onnx, quantize_onnx, state_dict_mb, torch_forward

# timing at batch size 1: rounds of interleaved passes (`latency.time_interleaved`)
TIMING_ROUNDS, PASSES_PER_ROUND = 20, 5
# the project's own small labelled set (tools/make_bank_requests.py), for the last chapter
EXAMPLE_CSV = repo_root() / "examples" / "bank_requests.csv"
COMMAND = "python -m distill_utils.distil_csv"


def cached_fit(art: Artifacts, teacher_checkpoint: Path | None = None, teacher: str | None = None,
               rerun: str = COMMAND):
    """`recipe.fine_tune`, keyed: each run goes through the run cache (`record.runs.RunCache`), so
    a finished run with the same `RunSpec` is read back from ``art.run_checkpoint`` instead of
    trained again (a damaged one names ``rerun`` as what trains it again); a given teacher
    checkpoint is read, not trained. ``teacher`` (its model's name) is how the terminal tells the
    teacher's run from the students'."""
    art = art.with_runs(RunCache(rerun=rerun))

    def fit(name, splits, labels, schedule, scratch, loss=PLAIN, teacher_logits=None):
        if teacher_checkpoint is not None and name == str(teacher_checkpoint):
            return load_checkpoint(teacher_checkpoint)  # its labels were checked before training
        spec = RunSpec(role="student", model=model_key(name), schedule=schedule,
                       data={part: frame_fingerprint(splits[part]) for part in ("train", "validation")},
                       processes=1, machine=training_machine(), loss=loss,
                       mode=PLAIN_MODE if teacher_logits is None else DISTILLED,
                       teacher_logits=array_fingerprint(teacher_logits), extra={"labels": list(labels)})
        trained = []

        def train(key, sha, folder):
            trained.extend(fine_tune(name, splits, labels, schedule, scratch, loss=loss,
                                     teacher_logits=teacher_logits))
            save_checkpoint(*trained, folder, {"model": name, "mode": spec.mode, "run_key": key, "run_key_sha": sha})
            return read_run(folder)

        record = art.run(spec, train, label=run_label(name, TEACHER if name == teacher else spec.mode,
                                                      schedule.seed), keep=True)
        return tuple(trained) or load_checkpoint(art.run_checkpoint(record["run_key_sha"]))
    return fit


def time_batch_one(models: dict, sentences: list[str], max_length: int):
    """Median latency at batch size 1 with 95% intervals over rounds, and each speed-up against the
    teacher, timed interleaved in one process (fp32)."""
    passes = TIMING_ROUNDS * PASSES_PER_ROUND
    chosen = [sentences[i % len(sentences)] for i in range(passes)]
    inputs = {name: [tokenizer(s, truncation=True, max_length=max_length, return_tensors="pt") for s in chosen]
              for name, (_, tokenizer) in models.items()}
    forwards = {name: torch_forward(model.eval()) for name, (model, _) in models.items()}
    times = time_interleaved(forwards, inputs, rounds=TIMING_ROUNDS, per_round=PASSES_PER_ROUND)
    return latency_summary(times, baseline="teacher").set_index("name")


def report(outcome: Outcome, timing, settings: dict) -> tuple[str, dict]:
    """The report as Markdown and as JSON fields."""
    rows, fields = [], {"settings": settings, "models": {}}
    for name in ("teacher", "distilled", "plain"):
        scored, (model, _) = getattr(outcome, name), outcome.models[name]
        low, high = scored["interval"]
        size_mb = state_dict_mb(model)
        timed = timing.loc[name]
        speed = ratio_text(timed["speedup_vs_teacher"], timed["speedup_ci_low"], timed["speedup_ci_high"])
        rows.append(f"| {name} | {scored['correct']} of {scored['n']} | {100 * scored['accuracy']:.2f} "
                    f"| {interval_span(low, high, scale=100)} | {size_mb:.1f} | "
                    f"{timed['latency_ms_median']:.2f} | {speed} |")
        fields["models"][name] = {"correct": scored["correct"], "n": scored["n"], "accuracy": scored["accuracy"],
                                  "interval": [low, high], "size_mb": size_mb,
                                  "latency_ms_median": float(timed["latency_ms_median"]),
                                  "speedup_vs_teacher": float(timed["speedup_vs_teacher"]),
                                  "speedup_interval": [float(timed["speedup_ci_low"]), float(timed["speedup_ci_high"])]}
    paired = outcome.distilled_vs_plain
    stuck = [name for name in ("distilled", "plain") if len(set(getattr(outcome, name)["predictions"])) == 1]
    fields["distilled_vs_plain"] = None if stuck else paired
    fields["one_class"] = stuck
    text = "\n".join([
        f"# Distilled {settings['student']} from {settings['teacher']} on {settings['data']}", "",
        "| model | correct | accuracy % | 95% interval over sentences (Wilson) | fp32 size MB "
        "| latency ms, batch 1 (median) | speed-up vs teacher (95% interval over rounds) |",
        "|---|---|---|---|---|---|---|", *rows, "",
        (f"No verdict: the {' and the '.join(stuck)} student answers one class for every sentence, so it "
         "did not learn the task (more epochs, a higher learning rate, or more rows)." if stuck else
         f"Distilled against plain, paired over the same {outcome.plain['n']} test sentences (exact McNemar): "
         f"only the distilled student right on {paired['only_a_right']}, only the plain one on "
         f"{paired['only_b_right']}, {format_p(paired['p_value'])}."), "",
        f"One seed ({settings['seed']}): one sample of each run. Settings: alpha {settings['alpha']:g}, "
        f"T {settings['temperature']:g} (not tuned: choose them on the validation split), "
        f"{settings['threads']} thread(s), sequence length up to {settings['max_length']} tokens, "
        f"training in {settings['precision']}, timing in fp32.", ""])
    return text, fields


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=COMMAND,
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("csv", type=Path, nargs="?", default=None,
                        help="a CSV with a header row: one sentence and its label per row")
    parser.add_argument("--dataset", default=None,
                        help="instead of a CSV, a dataset of the Hugging Face Hub (needs the Hub): its own "
                             "train, validation and test splits are kept when it has all three")
    parser.add_argument("--dataset-config", default=None, help="the dataset's configuration, when it has several")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="label")
    parser.add_argument("--split-column", default=None,
                        help="a column giving each row's split (train, validation, test); "
                             "without it the rows are split stratified 70/10/20")
    parser.add_argument("--teacher", default=TEACHER_MODEL, help=f"a model of {', '.join(MODELS)}")
    parser.add_argument("--teacher-checkpoint", type=Path, default=None,
                        help="a classifier fine-tuned on these labels (a saved folder) instead of --teacher")
    parser.add_argument("--student", default=STUDENT_MODEL)
    parser.add_argument("--alpha", type=float, default=DEFAULT_LOSS.alpha, help="weight of the hard-label term")
    parser.add_argument("--temperature", type=float, default=DEFAULT_LOSS.temperature)
    parser.add_argument("--teacher-epochs", type=float, default=TEACHER_SCHEDULE.epochs)
    parser.add_argument("--student-epochs", type=float, default=STUDENT_SCHEDULE.epochs)
    parser.add_argument("--teacher-lr", type=float, default=TEACHER_SCHEDULE.learning_rate)
    parser.add_argument("--student-lr", type=float, default=STUDENT_SCHEDULE.learning_rate)
    parser.add_argument("--batch-size", type=int, default=STUDENT_SCHEDULE.batch_size)
    parser.add_argument("--max-length", type=int, default=STUDENT_SCHEDULE.max_length)
    parser.add_argument("--seed", type=int, default=STUDENT_SCHEDULE.seed)
    parser.add_argument("--out", type=Path, default=None, help="default: runs/<the CSV's or dataset's name>")
    parser.add_argument("--no-export", action="store_true", help="skip the ONNX int8 export")
    args = parser.parse_args(argv)
    if (args.csv is None) == (args.dataset is None):
        parser.error("give a CSV or --dataset NAME (one of them)")
    if args.dataset is not None and args.split_column is not None:
        parser.error("--split-column is for a CSV: a dataset's own splits are kept when it has all three")
    return args


def read_data(args: argparse.Namespace):
    """The checked rows and label names, from the CSV or the Hub dataset the arguments name."""
    if args.dataset is not None:
        return load_hub_dataset(args.dataset, config=args.dataset_config, text_column=args.text_column,
                                label_column=args.label_column)
    return read_labelled_csv(args.csv, text_column=args.text_column, label_column=args.label_column,
                             split_column=args.split_column)


def data_name(args: argparse.Namespace) -> str:
    """What the data is called in the report and the default output folder."""
    if args.dataset is not None:
        return args.dataset + (f"-{args.dataset_config}" if args.dataset_config else "")
    return args.csv.name


def main(argv=None) -> int:
    args = parse_args(argv)
    hf_logging.disable_progress_bar()
    os.environ.setdefault(PROGRESS_ENV, TO_STDERR)  # each run and epoch, on this terminal
    try:
        for name in (args.student, *(() if args.teacher_checkpoint else (args.teacher,))):
            check_model_name(name)
        loss = LossSettings(args.alpha, args.temperature)
        frame, labels = read_data(args)
        splits = split_labelled(frame, labels, seed=args.seed)
        if args.teacher_checkpoint is not None:
            if not is_checkpoint(args.teacher_checkpoint):
                raise DataError(f"--teacher-checkpoint {args.teacher_checkpoint} holds no saved classifier "
                                f"({WEIGHTS_FILE} and {RUN_FILE}): give the folder a fine-tuning run saved")
            config = AutoConfig.from_pretrained(args.teacher_checkpoint)
            check_teacher_labels([config.id2label[i] for i in range(config.num_labels)], labels)
    except (DataError, ValueError, KeyError) as error:
        print(f"[distil_csv] {error}", file=sys.stderr)
        return 2
    out = args.out or Path("runs") / (args.csv.stem if args.csv else data_name(args).replace("/", "_"))
    art = Artifacts(out)
    art.root.mkdir(parents=True, exist_ok=True)
    precision = mixed_precision(True)
    common = dict(batch_size=args.batch_size, max_length=args.max_length, seed=args.seed, precision=precision)
    teacher = str(args.teacher_checkpoint) if args.teacher_checkpoint else args.teacher
    outcome = distil(splits, labels, teacher, args.student, loss=loss, scratch=str(art.scratch),
                     teacher_schedule=Schedule(epochs=args.teacher_epochs, learning_rate=args.teacher_lr, **common),
                     student_schedule=Schedule(epochs=args.student_epochs, learning_rate=args.student_lr, **common),
                     fit=cached_fit(art, args.teacher_checkpoint, teacher=teacher))
    tell("timing at batch size 1")
    timing = time_batch_one(outcome.models, list(splits["test"]["sentence"]), args.max_length)
    settings = {"data": data_name(args), "teacher": args.teacher_checkpoint.name if args.teacher_checkpoint
                else args.teacher, "student": args.student, "labels": labels, "alpha": loss.alpha,
                "temperature": loss.temperature, "seed": args.seed, "max_length": args.max_length,
                "threads": torch.get_num_threads(), "precision": precision,
                "split_sizes": {part: len(rows) for part, rows in splits.items()}}
    text, fields = report(outcome, timing, settings)
    model, tokenizer = outcome.models["distilled"]
    student = art.student(args.student, DISTILLED, args.seed)
    save_checkpoint(model, tokenizer, student, {"model": args.student, "mode": DISTILLED, "labels": labels,
                                                "settings": settings})
    if not args.no_export:
        folder = art.onnx_export(student)
        onnx = export_onnx(model, tokenizer, folder / "model.onnx", made_from=checkpoint_fingerprint(student))
        quantize_onnx(onnx, folder / "model-int8.onnx")
        tell(f"the student: {art.show(student)}; ONNX int8: {art.show(folder / 'model-int8.onnx')}")
    (art.root / "report.md").write_text(text)
    write_json(art.root / "report.json", fields)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
