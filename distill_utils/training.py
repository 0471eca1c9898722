"""Teacher fine-tuning and student distillation through the Hugging Face Trainer.

The Trainer (on Accelerate) gives mixed precision, length-grouped batches, progress bars and
multi-GPU scaling with ``accelerate launch``; this module adds only the distillation loss, a
teacher-logit cache and atomic checkpoints.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from transformers import DataCollatorWithPadding, Trainer, TrainerCallback, TrainingArguments

from ._io import atomic_path, read_json, write_json
from .artifacts import display_path
from .data import sentences_fingerprint
from .losses import check_distillation_params, distillation_loss
from .metrics import classification_metrics
from .models import checkpoint_fingerprint, load_checkpoint, predict_logits

logger = logging.getLogger(__name__)


def mixed_precision(requested: bool = True) -> str:
    """'bf16', 'fp16' or 'no': the autocast dtype this machine runs fast and safely."""
    if not requested:
        return "no"
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    cpu = torch.cpu
    if cpu._is_amx_tile_supported() or cpu._is_avx512_bf16_supported():
        return "bf16"
    return "no"


def tokenize_frame(df: pd.DataFrame, tokenizer, max_length: int, *, with_rows: bool = False,
                   teacher_tokenizer=None):
    """A datasets.Dataset of token ids and labels.

    ``with_rows`` adds each sentence's row number, which the collator uses to attach cached
    teacher outputs; ``teacher_tokenizer`` adds the teacher's own token ids (for distillation that
    runs the teacher in every step: each model reads text through its own tokenizer).
    """
    from datasets import Dataset

    sentences = list(df["sentence"])
    encoded = tokenizer(sentences, truncation=True, max_length=max_length)
    columns = {key: encoded[key] for key in encoded.keys()}
    columns["labels"] = df["label"].astype(int).tolist()
    if with_rows:
        columns["row"] = list(range(len(df)))
    if teacher_tokenizer is not None:
        teacher_encoded = teacher_tokenizer(sentences, truncation=True, max_length=max_length)
        columns["teacher_input_ids"] = teacher_encoded["input_ids"]
        columns["teacher_attention_mask"] = teacher_encoded["attention_mask"]
    return Dataset.from_dict(columns)


class DistillationCollator:
    """Pads token ids like DataCollatorWithPadding and attaches the teacher's cached outputs.

    Training rows carry a ``row`` number; the collator looks up the teacher's logits (and, for
    hidden-state distillation, its hidden states) for those rows. Evaluation rows carry none.
    """

    def __init__(self, tokenizer, teacher_logits: np.ndarray | None = None,
                 teacher_hidden: np.ndarray | None = None, teacher_tokenizer=None):
        self.pad = DataCollatorWithPadding(tokenizer)
        self.teacher_pad = DataCollatorWithPadding(teacher_tokenizer) if teacher_tokenizer else None
        self.teacher_logits = None if teacher_logits is None else np.asarray(teacher_logits, np.float32)
        self.teacher_hidden = None if teacher_hidden is None else np.asarray(teacher_hidden, np.float32)

    def __call__(self, features: list[dict]) -> dict:
        features = [dict(f) for f in features]
        rows = [f.pop("row") for f in features] if "row" in features[0] else None
        teacher_features = None
        if "teacher_input_ids" in features[0]:
            teacher_features = [{"input_ids": f.pop("teacher_input_ids"),
                                 "attention_mask": f.pop("teacher_attention_mask")} for f in features]
        batch = self.pad(features)
        if rows is not None and self.teacher_logits is not None:
            batch["teacher_logits"] = torch.from_numpy(self.teacher_logits[rows])
        if rows is not None and self.teacher_hidden is not None:
            batch["teacher_hidden"] = torch.from_numpy(self.teacher_hidden[rows])
        if teacher_features is not None and self.teacher_pad is not None:
            padded = self.teacher_pad(teacher_features)
            batch["teacher_input_ids"] = padded["input_ids"]
            batch["teacher_attention_mask"] = padded["attention_mask"]
        return batch


class StudentWithProjection(torch.nn.Module):
    """A student plus the learned projection of its hidden states into the teacher's width.

    Only used while training with the hidden-state term; the projection is dropped afterwards,
    so the saved student is an ordinary model of its class.
    """

    def __init__(self, student: torch.nn.Module, teacher_width: int):
        super().__init__()
        self.student = student
        self.config = student.config
        self.projection = torch.nn.Linear(student.config.hidden_size, teacher_width)

    def forward(self, **inputs):
        return self.student(**inputs, output_hidden_states=self.training)


def hidden_layer_map(student_layers: int, teacher_layers: int) -> list[int]:
    """Teacher layer matched to each student layer (1-based hidden-state indices), evenly spaced."""
    if student_layers > teacher_layers:
        raise ValueError(f"a student with {student_layers} layers cannot map onto {teacher_layers}")
    return [round(k * teacher_layers / student_layers) for k in range(1, student_layers + 1)]


def hidden_state_loss(student_hidden: torch.Tensor, teacher_hidden: torch.Tensor) -> torch.Tensor:
    """Patient-KD style: squared distance between length-normalised first-token vectors.

    Shapes (batch, layers, width), the student's already projected to the teacher's width;
    summed over the width, averaged over layers and batch. Ranges from 0 to 4.
    """
    student = F.normalize(student_hidden.float(), dim=-1)
    teacher = F.normalize(teacher_hidden.float(), dim=-1)
    return ((student - teacher) ** 2).sum(-1).mean()


class DistillationTrainer(Trainer):
    """Trainer whose loss is `distillation_loss` when the batch carries teacher outputs.

    Teacher logits come either from the cache (``teacher_logits`` in the batch) or, when a
    ``teacher`` model is given, from running it on the batch (the costly way, kept to measure
    what the cache saves). With ``hidden_weight > 0`` the model is a `StudentWithProjection` and
    the batch carries the teacher's hidden states. Without teacher outputs (teacher fine-tuning,
    evaluation) the loss is plain cross-entropy. A non-finite loss stops training with its step.
    """

    loss_is_scaled_for_ga = False  # our loss is a per-batch mean

    def __init__(self, *args, alpha: float = 1.0, temperature: float = 1.0, teacher=None,
                 hidden_weight: float = 0.0, hidden_layers: list[int] | None = None, **kwargs):
        check_distillation_params(alpha, temperature)
        super().__init__(*args, **kwargs)
        self.alpha = float(alpha)
        self.temperature = float(temperature)
        self.teacher = teacher.eval() if teacher is not None else None
        self.hidden_weight = float(hidden_weight)
        self.hidden_layers = hidden_layers

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        teacher_logits = inputs.pop("teacher_logits", None)
        teacher_hidden = inputs.pop("teacher_hidden", None)
        teacher_inputs = {key[len("teacher_"):]: inputs.pop(key)
                          for key in ("teacher_input_ids", "teacher_attention_mask") if key in inputs}
        if self.teacher is not None and teacher_inputs:
            with torch.no_grad(), self.accelerator.autocast():
                teacher_logits = self.teacher(**teacher_inputs).logits.float()
        outputs = model(**inputs)
        if teacher_logits is not None:
            loss = distillation_loss(outputs.logits, teacher_logits, labels, self.alpha, self.temperature)
        elif model.training and self.alpha < 1.0:
            raise ValueError("alpha < 1 needs teacher logits in the training data")
        else:
            loss = F.cross_entropy(outputs.logits.float(), labels)
        if teacher_hidden is not None and self.hidden_weight > 0:
            unwrapped = self.accelerator.unwrap_model(model)
            student_hidden = torch.stack([outputs.hidden_states[i][:, 0] for i in
                                          range(1, len(outputs.hidden_states))], dim=1)
            projected = unwrapped.projection(student_hidden.to(unwrapped.projection.weight.dtype))
            loss = loss + self.hidden_weight * hidden_state_loss(projected, teacher_hidden)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"non-finite loss ({loss.item()}) at training step {self.state.global_step + 1} "
                f"(epoch {self.state.epoch or 0:.2f}); lower the learning rate or check the inputs"
            )
        return (loss, outputs) if return_outputs else loss


class TrainingTimer(TrainerCallback):
    """Wall time of each training epoch and each optimisation step (evaluation excluded: it runs
    after on_epoch_end)."""

    def __init__(self):
        self.epoch_seconds: list[float] = []
        self.step_seconds: list[float] = []
        self._epoch_start = self._step_start = 0.0

    def on_epoch_begin(self, args, state, control, **kwargs):
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, args, state, control, **kwargs):
        self.epoch_seconds.append(time.perf_counter() - self._epoch_start)

    def on_step_begin(self, args, state, control, **kwargs):
        self._step_start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.step_seconds.append(time.perf_counter() - self._step_start)


def _compute_metrics(prediction) -> dict:
    result = classification_metrics(prediction.label_ids, prediction.predictions)
    return {"accuracy": result["accuracy"], "macro_f1": result["macro_f1"]}


@dataclass
class TrainResult:
    model: torch.nn.Module
    epoch_seconds: list[float]
    precision: str
    log_history: list[dict] = field(default_factory=list)
    train_samples: int = 0
    step_seconds: list[float] = field(default_factory=list)


def train_classifier(model, tokenizer, train_df: pd.DataFrame, eval_df: pd.DataFrame | None, *,
                     epochs: float, learning_rate: float, batch_size: int, seed: int,
                     max_length: int, scratch_dir: str | Path, bf16: bool = True,
                     warmup_ratio: float = 0.1, weight_decay: float = 0.01,
                     alpha: float = 1.0, temperature: float = 1.0,
                     teacher_logits: np.ndarray | None = None,
                     teacher_hidden: np.ndarray | None = None, hidden_weight: float = 0.0,
                     teacher=None, teacher_tokenizer=None,
                     max_steps: int | None = None) -> TrainResult:
    """Fine-tune ``model`` on ``train_df``, evaluating on ``eval_df`` after every epoch.

    Distils when teacher outputs are given: cached ``teacher_logits`` (rows of train_df), or a
    ``teacher`` model run in every step (with its ``teacher_tokenizer``). ``teacher_hidden``
    (rows of train_df, shape (n, student layers, teacher width)) adds the hidden-state term.
    ``max_steps`` stops early (the cost comparison times a few steps of each kind).
    """
    from transformers import set_seed

    set_seed(seed)
    precision = mixed_precision(bf16)
    args = TrainingArguments(
        output_dir=str(scratch_dir),
        num_train_epochs=epochs,
        max_steps=max_steps if max_steps else -1,
        learning_rate=learning_rate,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=64,
        warmup_steps=warmup_ratio,
        weight_decay=weight_decay,
        lr_scheduler_type="linear",
        eval_strategy="epoch" if eval_df is not None else "no",
        save_strategy="no",
        logging_strategy="epoch",
        report_to="none",
        seed=seed,
        data_seed=seed,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=not torch.cuda.is_available(),
        train_sampling_strategy="group_by_length",
        remove_unused_columns=False,
        label_names=["labels"],  # also when the model is wrapped with a projection
        dataloader_num_workers=0,
        disable_tqdm=False,
    )
    for name, array in (("teacher logit", teacher_logits), ("teacher hidden-state", teacher_hidden)):
        if array is not None and len(array) != len(train_df):
            raise ValueError(f"{len(array)} {name} rows for {len(train_df)} training sentences")
    if teacher_hidden is not None and hidden_weight > 0:
        model = StudentWithProjection(model, teacher_width=teacher_hidden.shape[-1])
    timer = TrainingTimer()
    trainer = DistillationTrainer(
        model=model,
        args=args,
        train_dataset=tokenize_frame(train_df, tokenizer, max_length, with_rows=True,
                                     teacher_tokenizer=teacher_tokenizer if teacher is not None else None),
        eval_dataset=None if eval_df is None else tokenize_frame(eval_df, tokenizer, max_length),
        data_collator=DistillationCollator(tokenizer, teacher_logits, teacher_hidden, teacher_tokenizer),
        compute_metrics=_compute_metrics,
        callbacks=[timer],
        alpha=alpha,
        temperature=temperature,
        teacher=teacher,
        hidden_weight=hidden_weight,
    )
    trainer.train()
    trained = trainer.model.student if isinstance(trainer.model, StudentWithProjection) else trainer.model
    return TrainResult(trained, timer.epoch_seconds, precision, trainer.state.log_history,
                       len(train_df), timer.step_seconds)


def save_checkpoint(model, tokenizer, directory: str | Path, info: dict) -> Path:
    """Save weights (safetensors), tokenizer and run info; the folder appears only when complete."""
    directory = Path(directory)
    with atomic_path(directory) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if not (tmp / "model.safetensors").is_file():
            raise RuntimeError("expected a single model.safetensors file in the checkpoint")
        write_json(tmp / "run.json", info)
    return directory


def evaluate_checkpoint(model, tokenizer, df: pd.DataFrame, max_length: int) -> tuple[dict, np.ndarray]:
    """Test metrics and fp32 logits of a model on one split (logits kept for paired tests)."""
    logits = predict_logits(model, tokenizer, list(df["sentence"]), max_length=max_length)
    return classification_metrics(df["label"].to_numpy(), logits), logits


def _finish_run(result: TrainResult, tokenizer, splits, cfg, out_dir: Path | None, info: dict) -> dict:
    """Score the trained model on validation and test; save it when ``out_dir`` is given."""
    validation, _ = evaluate_checkpoint(result.model, tokenizer, splits["validation"], cfg.max_length)
    metrics, test_logits = evaluate_checkpoint(result.model, tokenizer, splits["test"], cfg.max_length)
    info = {
        **info,
        "precision": result.precision,
        "epoch_seconds": result.epoch_seconds,
        "train_samples": result.train_samples,
        "validation": validation,
        "test": metrics,
        "test_logits": test_logits.round(6).tolist(),
        "log_history": result.log_history,
    }
    if out_dir is not None:
        save_checkpoint(result.model, tokenizer, out_dir, info)
    return info


def fine_tune_teacher(cfg, splits: dict[str, pd.DataFrame], out_dir: str | Path) -> dict:
    """Fine-tune the profile's teacher, save it to ``out_dir`` and return its run record."""
    from .models import load_pretrained

    model, tokenizer = load_pretrained(cfg.teacher, seed=cfg.seed)
    result = train_classifier(
        model, tokenizer, splits["train"], splits["validation"],
        epochs=cfg.teacher_epochs, learning_rate=cfg.teacher_lr, batch_size=cfg.batch_size,
        seed=cfg.seed, max_length=cfg.max_length, scratch_dir=Path(out_dir).parent / ".trainer",
        bf16=cfg.bf16, warmup_ratio=cfg.warmup_ratio, weight_decay=cfg.weight_decay,
    )
    info = {"role": "teacher", "model": cfg.teacher, "profile": cfg.profile, "seed": cfg.seed,
            "epochs": cfg.teacher_epochs, "learning_rate": cfg.teacher_lr,
            "batch_size": cfg.batch_size, "max_length": cfg.max_length, "agreement": cfg.agreement}
    return _finish_run(result, tokenizer, splits, cfg, Path(out_dir), info)


def cache_teacher_logits(teacher_dir: str | Path, splits: dict[str, pd.DataFrame],
                         max_length: int, cache_dir: str | Path) -> dict[str, np.ndarray]:
    """The teacher's logits for every split, computed once and cached on disk.

    Each model tokenizes with its own tokenizer, so the cache is keyed by sentence. A cache file
    is reused only if it was written for the same teacher weights (sha256), the same sentences and
    the same max length; otherwise it is recomputed and replaced.
    """
    teacher_dir, cache_dir = Path(teacher_dir), Path(cache_dir)
    fingerprint = checkpoint_fingerprint(teacher_dir)
    out: dict[str, np.ndarray] = {}
    model = tokenizer = None
    for split, df in splits.items():
        sentences = list(df["sentence"])
        key = {"teacher_sha256": fingerprint, "split": split, "max_length": max_length,
               "sentences_sha256": sentences_fingerprint(sentences), "n": len(sentences)}
        path = cache_dir / f"{split}.json"
        if path.is_file():
            cached = read_json(path)
            if cached.get("key") == key:
                by_sentence = dict(zip(cached["sentences"], cached["logits"]))
                out[split] = np.asarray([by_sentence[s] for s in sentences], dtype=np.float32)
                logger.info("teacher logits for %s read from %s", split, display_path(path))
                continue
            logger.info("cache %s was written for another teacher or split: recomputing", display_path(path))
        if model is None:
            model, tokenizer = load_checkpoint(teacher_dir)
        logits = predict_logits(model, tokenizer, sentences, max_length=max_length)
        write_json(path, {"key": key, "sentences": sentences, "logits": logits.tolist()})
        out[split] = logits
    return out


def cache_teacher_hidden(teacher_dir: str | Path, df: pd.DataFrame, layers: list[int],
                         max_length: int, cache_path: str | Path) -> np.ndarray:
    """The teacher's first-token hidden states at ``layers`` for every sentence, cached on disk.

    Shape (sentences, len(layers), teacher width); keyed like `cache_teacher_logits`.
    """
    teacher_dir, cache_path = Path(teacher_dir), Path(cache_path)
    sentences = list(df["sentence"])
    key = {"teacher_sha256": checkpoint_fingerprint(teacher_dir), "layers": list(layers),
           "max_length": max_length, "sentences_sha256": sentences_fingerprint(sentences)}
    key_path = cache_path.with_suffix(".json")
    if cache_path.is_file() and key_path.is_file() and read_json(key_path) == key:
        return np.load(cache_path)
    model, tokenizer = load_checkpoint(teacher_dir)
    model.eval()
    order = np.argsort([len(s) for s in sentences], kind="stable")
    out = np.zeros((len(sentences), len(layers), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(order), 64):
            index = order[start:start + 64]
            batch = tokenizer([sentences[i] for i in index], padding=True, truncation=True,
                              max_length=max_length, return_tensors="pt")
            hidden = model(**batch, output_hidden_states=True).hidden_states
            out[index] = torch.stack([hidden[layer][:, 0] for layer in layers], dim=1).float().numpy()
    with atomic_path(cache_path) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, out)
    write_json(key_path, key)
    return out


def train_student(cfg, name: str, splits: dict[str, pd.DataFrame], out_dir: str | Path | None, *,
                  teacher_dir: str | Path, seed: int, alpha: float, temperature: float,
                  teacher_logits: np.ndarray | None = None, mode: str | None = None,
                  train_df: pd.DataFrame | None = None, epochs: float | None = None,
                  hidden_weight: float = 0.0) -> dict:
    """Train one student, save it to ``out_dir`` (unless None) and return its run record.

    Trains on ``splits['train']`` unless ``train_df`` (e.g. the transfer set) is given;
    ``teacher_logits`` are the teacher's cached logits for those rows, in order. Distils when
    alpha < 1; ``hidden_weight > 0`` adds the hidden-state term (teacher states cached on the way).
    """
    from .models import load_pretrained

    check_distillation_params(alpha, temperature)
    train_df = splits["train"] if train_df is None else train_df
    epochs = cfg.student_epochs if epochs is None else epochs
    mode = mode or ("plain" if alpha == 1.0 else "kd")
    model, tokenizer = load_pretrained(name, seed=seed, teacher_checkpoint=teacher_dir)
    teacher_hidden = None
    if hidden_weight > 0:
        from transformers import AutoConfig

        teacher_config = AutoConfig.from_pretrained(teacher_dir)
        layers = hidden_layer_map(model.config.num_hidden_layers, teacher_config.num_hidden_layers)
        teacher_hidden = cache_teacher_hidden(
            teacher_dir, train_df, layers, cfg.max_length,
            Path(teacher_dir).parent / "teacher_hidden" / f"{name}-train.npy")
    scratch = Path(out_dir).parent / ".trainer" if out_dir is not None else Path(teacher_dir).parent / ".trainer"
    result = train_classifier(
        model, tokenizer, train_df, splits["validation"],
        epochs=epochs, learning_rate=cfg.student_lr, batch_size=cfg.batch_size,
        seed=seed, max_length=cfg.max_length, scratch_dir=scratch,
        bf16=cfg.bf16, warmup_ratio=cfg.warmup_ratio, weight_decay=cfg.weight_decay,
        alpha=alpha, temperature=temperature, teacher_logits=teacher_logits,
        teacher_hidden=teacher_hidden, hidden_weight=hidden_weight,
    )
    info = {"role": "student", "model": name, "profile": cfg.profile, "seed": seed,
            "mode": mode, "alpha": alpha, "temperature": temperature, "hidden_weight": hidden_weight,
            "epochs": epochs, "learning_rate": cfg.student_lr,
            "batch_size": cfg.batch_size, "max_length": cfg.max_length, "agreement": cfg.agreement,
            "teacher_sha256": checkpoint_fingerprint(teacher_dir)}
    return _finish_run(result, tokenizer, splits, cfg, None if out_dir is None else Path(out_dir), info)


def run_record(directory: str | Path) -> dict:
    """The run.json saved beside a checkpoint."""
    return read_json(Path(directory) / "run.json")


def student_dir(students_dir: str | Path, name: str, mode: str, seed: int) -> Path:
    """Where a student run lives: ``<students_dir>/<name>/<mode>-seed<seed>``."""
    return Path(students_dir) / name / f"{mode}-seed{seed}"


def train_students(cfg, splits: dict[str, pd.DataFrame], teacher_logits: np.ndarray,
                   teacher_dir: str | Path, students_dir: str | Path, *,
                   alpha: float | None = None, temperature: float | None = None) -> list[dict]:
    """Every student of the profile, for every seed: distilled and plain (alpha = 1).

    The plain run is the control: same model, seed, data and schedule, no teacher.
    ``alpha``/``temperature`` default to the profile's (the notebook passes the sweep's choice).
    """
    alpha = cfg.alpha if alpha is None else alpha
    temperature = cfg.temperature if temperature is None else temperature
    records = []
    for seed in cfg.seeds:
        for name in cfg.students:
            for mode, a in (("kd", alpha), ("plain", 1.0)):
                records.append(train_student(
                    cfg, name, splits, student_dir(students_dir, name, mode, seed),
                    teacher_dir=teacher_dir, seed=seed, alpha=a, temperature=temperature,
                    teacher_logits=teacher_logits, mode=mode))
    return records


def sweep_alpha_temperature(cfg, splits: dict[str, pd.DataFrame], teacher_logits: np.ndarray,
                            teacher_dir: str | Path, out_path: str | Path) -> pd.DataFrame:
    """Validation accuracy of ``cfg.sweep_student`` over the alpha x temperature grid.

    A short schedule (``cfg.sweep_epochs``) and one seed; nothing is saved but the table
    (written atomically to ``out_path`` when the whole grid is done). Choose by validation
    accuracy, never by test accuracy.
    """
    rows = []
    for alpha in cfg.sweep_alphas:
        for temperature in cfg.sweep_temperatures:
            info = train_student(cfg, cfg.sweep_student, splits, None, teacher_dir=teacher_dir,
                                 seed=cfg.seed, alpha=alpha, temperature=temperature,
                                 teacher_logits=teacher_logits, epochs=cfg.sweep_epochs)
            rows.append({"alpha": alpha, "temperature": temperature,
                         "val_accuracy": info["validation"]["accuracy"],
                         "val_macro_f1": info["validation"]["macro_f1"],
                         "val_correct": info["validation"]["n_correct"]})
    table = pd.DataFrame(rows)
    write_json(out_path, {"student": cfg.sweep_student, "epochs": cfg.sweep_epochs, "seed": cfg.seed,
                          "rows": table.to_dict(orient="records")})
    return table


def best_sweep_point(table: pd.DataFrame) -> tuple[float, float]:
    """(alpha, T) with the highest validation accuracy; ties go to the higher macro-F1, then to
    the earlier grid point."""
    best = table.sort_values(["val_accuracy", "val_macro_f1"], ascending=False, kind="stable").iloc[0]
    return float(best["alpha"]), float(best["temperature"])


def measure_training_cost(cfg, name: str, splits: dict[str, pd.DataFrame], teacher_logits: np.ndarray,
                          teacher_dir: str | Path, *, alpha: float, temperature: float,
                          steps: int | None = None) -> pd.DataFrame:
    """Seconds per training step, side by side in one process, for one student trained three ways:
    plain, distilled from cached teacher logits, and distilled running the teacher every step.

    Each mode trains ``steps`` steps from the same start on the same batches; the first step is
    warm-up and not counted. Per-epoch time = mean step time x steps per epoch.
    """
    from .models import load_pretrained

    steps = steps or cfg.cost_steps
    teacher, teacher_tokenizer = load_checkpoint(teacher_dir)
    steps_per_epoch = int(np.ceil(len(splits["train"]) / cfg.batch_size))
    rows = []
    for mode in ("plain", "kd (cached teacher logits)", "kd (teacher every step)"):
        model, tokenizer = load_pretrained(name, seed=cfg.seed, teacher_checkpoint=teacher_dir)
        kwargs = {"alpha": 1.0, "temperature": 1.0}
        if mode.startswith("kd"):
            kwargs = {"alpha": alpha, "temperature": temperature}
        if mode == "kd (cached teacher logits)":
            kwargs["teacher_logits"] = teacher_logits
        elif mode == "kd (teacher every step)":
            kwargs.update(teacher=teacher, teacher_tokenizer=teacher_tokenizer)
        result = train_classifier(
            model, tokenizer, splits["train"], None, epochs=1, learning_rate=cfg.student_lr,
            batch_size=cfg.batch_size, seed=cfg.seed, max_length=cfg.max_length,
            scratch_dir=Path(teacher_dir).parent / ".trainer", bf16=cfg.bf16,
            warmup_ratio=cfg.warmup_ratio, weight_decay=cfg.weight_decay, max_steps=steps + 1, **kwargs)
        timed = result.step_seconds[1:]
        rows.append({"student": name, "mode": mode, "steps_timed": len(timed),
                     "step_s": float(np.mean(timed)),
                     "epoch_s_estimate": float(np.mean(timed)) * steps_per_epoch,
                     "precision": result.precision, "batch_size": cfg.batch_size})
    table = pd.DataFrame(rows)
    table["ratio_vs_plain"] = table["step_s"] / table.loc[table["mode"] == "plain", "step_s"].iloc[0]
    return table
