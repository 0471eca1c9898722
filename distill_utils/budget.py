"""Chapter 4's budget curve: when does the teacher help? One student on nested fractions of the
labels, in four modes (hard labels, distilled, the teacher's soft or argmax labels on a pool of
sentences it never trained on), and the comparisons the curve asks about (`budget_pairs`).

Every mode at a fraction takes the same number of optimizer steps (`budget_steps`): with the same
epochs, a mode on 51 labelled sentences would take 8 steps and never leave the majority class,
while the pool modes take hundreds, and the curve would compare a trained model with an untrained
one. The teacher of the curve was trained on every label (Hinton's transfer-set setting); the
low-resource arm (`train_low_resource_arm`) asks the same question of a teacher that saw only the
student's labels.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .artifacts import Artifacts
from .experiments import fine_tune_teacher, train_student
from .losses import PLAIN, LossSettings
from .subsets import budget_subsets
from .teacher_cache import cache_teacher_logits


BUDGET_MODES = {
    "hard": "hard labels on the labelled subset",
    "distilled": "distillation on the labelled subset",
    "soft pool": "hard labels on the subset + the teacher's soft labels on the unseen pool",
    "hard pool": "hard labels on the subset + the teacher's argmax labels on the unseen pool",
}


def budget_mode_name(mode: str, fraction: float, *, low_resource: bool = False) -> str:
    """The record's mode for one point of the budget curve, e.g. 'soft pool @ 3%'; with
    ``low_resource``, a point whose teacher saw only those labels, e.g. 'soft pool @ 10%, low-resource teacher'."""
    return f"{mode} @ {100 * fraction:g}%" + (f", {LOW_RESOURCE}" if low_resource else "")


LOW_RESOURCE = "low-resource teacher"


def batches_per_epoch(sentences: int, batch_size: int) -> int:
    return math.ceil(sentences / batch_size)


def epochs_for_steps(steps: int, sentences: int, batch_size: int) -> float:
    """The epochs that make the Trainer take exactly ``steps`` optimizer steps over ``sentences``
    (it takes the ceiling of epochs x batches per epoch; half a step of margin absorbs rounding)."""
    return (steps - 0.5) / batches_per_epoch(sentences, batch_size)


def budget_steps(cfg, labelled: int, pool: int) -> int:
    """The optimizer steps of every mode at one fraction: the pool modes' ``cfg.budget_epochs`` over
    the labelled sentences and the pool, so the largest training set gets its epochs and the
    smaller ones the same number of updates."""
    return math.ceil(cfg.budget_epochs * batches_per_epoch(labelled + pool, cfg.batch_size))


def with_soft_pool(labelled: pd.DataFrame, labelled_logits: np.ndarray, pool: pd.DataFrame,
                   pool_logits: np.ndarray) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The training set of "soft pool": the labelled sentences learnt from their labels (alpha 1)
    followed by the pool learnt from the teacher alone (alpha 0); returns the sentences, the
    teacher's logits for them in order, and the per-sentence alpha."""
    train = pd.concat([labelled, pool], ignore_index=True)
    row_alpha = np.r_[np.ones(len(labelled)), np.zeros(len(pool))]
    return train, np.vstack([labelled_logits, pool_logits]), row_alpha


def train_budget_point(cfg, art: Artifacts, name: str, splits: dict[str, pd.DataFrame], subset: pd.DataFrame,
                       subset_logits: np.ndarray, pool: pd.DataFrame, pool_logits: np.ndarray, *,
                       fraction: float, mode: str, seed: int, loss: LossSettings,
                       steps: int, low_resource: bool = False) -> dict:
    """One student trained on a labelled ``subset`` of the training split in one of `BUDGET_MODES`.

    The pool modes add the teacher's view of sentences it never trained on: "soft pool" trains
    the subset with hard labels (alpha 1) and the pool on the teacher's distribution softened at
    ``loss.temperature`` alone (alpha 0, per sentence); "hard pool" labels the pool with the teacher's argmax instead.
    The two differ in one thing only: whether the student sees the teacher's full distribution.
    Every mode takes ``steps`` optimizer steps, whatever the size of its training set.
    """
    extra = {"budget_fraction": fraction, "budget_mode": mode, "labelled_sentences": len(subset),
             "budget_steps": steps, **({"low_resource_teacher": True} if low_resource else {})}
    common = dict(seed=seed, mode=budget_mode_name(mode, fraction, low_resource=low_resource),
                  save=False, extra=extra)
    over = lambda train: epochs_for_steps(steps, len(train), cfg.batch_size)  # noqa: E731
    if mode == "hard":
        return train_student(cfg, art, name, splits, loss=PLAIN, train_df=subset, epochs=over(subset), **common)
    if mode == "distilled":
        return train_student(cfg, art, name, splits, loss=loss, train_df=subset, epochs=over(subset),
                             teacher_logits=subset_logits, **common)
    if mode == "soft pool":
        train, logits, row_alpha = with_soft_pool(subset, subset_logits, pool, pool_logits)
        return train_student(cfg, art, name, splits, loss=LossSettings(0.0, loss.temperature), train_df=train,
                             epochs=over(train), teacher_logits=logits, row_alpha=row_alpha, **common)
    if mode == "hard pool":
        labelled = pool.assign(label=np.asarray(pool_logits).argmax(-1))
        train = pd.concat([subset, labelled], ignore_index=True)
        return train_student(cfg, art, name, splits, loss=PLAIN, train_df=train, epochs=over(train), **common)
    raise ValueError(f"unknown budget mode {mode!r}; valid: {', '.join(BUDGET_MODES)}")


def train_budget_curve(cfg, art: Artifacts, splits: dict[str, pd.DataFrame], train_logits: np.ndarray,
                       pool: pd.DataFrame, pool_logits: np.ndarray, *, loss: LossSettings) -> list[dict]:
    """Every point of the budget curve: ``cfg.budget_student`` on each nested fraction of the
    training split (`subsets.budget_subsets`) in every mode of `BUDGET_MODES`, once per seed of
    ``cfg.budget_seeds``, every mode of a fraction for the same `budget_steps`. Runs are keyed and
    reused like every other run."""
    row_of = {sentence: i for i, sentence in enumerate(splits["train"]["sentence"])}
    records = []
    for fraction, subset in budget_subsets(splits["train"], cfg.budget_fractions, seed=cfg.split_seed).items():
        subset_logits = np.asarray(train_logits)[[row_of[s] for s in subset["sentence"]]]
        steps = budget_steps(cfg, len(subset), len(pool))
        for seed in cfg.budget_seeds:
            for mode in BUDGET_MODES:
                records.append(train_budget_point(
                    cfg, art, cfg.budget_student, splits, subset, subset_logits, pool, pool_logits,
                    fraction=fraction, mode=mode, seed=seed, loss=loss, steps=steps))
    return records


def low_resource_teacher(cfg, art: Artifacts, splits: dict[str, pd.DataFrame], fraction: float) -> dict:
    """The teacher fine-tuned on ``fraction`` of the labels only (the budget curve's nested subset),
    with the first teacher seed and the full teacher's number of optimizer steps, saved in
    ``art.low_resource(fraction)``; returns its run record (read back when banked)."""
    subset = budget_subsets(splits["train"], [fraction], seed=cfg.split_seed)[fraction]
    full_steps = math.ceil(cfg.teacher_epochs * batches_per_epoch(len(splits["train"]), cfg.batch_size))
    small = cfg.replace(teacher_epochs=epochs_for_steps(full_steps, len(subset), cfg.batch_size))
    return fine_tune_teacher(small, art.low_resource(fraction), {**splits, "train": subset},
                             seed=cfg.teacher_seeds[0])


def train_low_resource_arm(cfg, art: Artifacts, splits: dict[str, pd.DataFrame], pool: pd.DataFrame, *,
                           fraction: float, loss: LossSettings) -> tuple[dict, list[dict]]:
    """The budget curve at ``fraction`` when the teacher itself saw only those labels.

    The teacher is `low_resource_teacher`; the rest of the training split, its labels withheld,
    joins the unseen pool as sentences for the teacher to label (what a team with few labels and
    much raw text would have). The student trains distilled, with soft and with argmax pool labels,
    for the same steps as the main curve's point at this fraction; its control is that point's
    "hard" run (the same run: no teacher plays a part). Returns the teacher's record and the runs.
    """
    teacher = low_resource_teacher(cfg, art, splits, fraction)
    small = art.low_resource(fraction)
    subset = budget_subsets(splits["train"], [fraction], seed=cfg.split_seed)[fraction]
    rest = splits["train"][~splits["train"]["sentence"].isin(set(subset["sentence"]))]
    unlabelled = pd.concat([rest, pool], ignore_index=True)
    logits = cache_teacher_logits(small, {"labelled": subset, "unlabelled": unlabelled}, cfg.max_length)
    steps = budget_steps(cfg, len(subset), len(pool))
    records = []
    for seed in cfg.budget_seeds:
        records.append(train_budget_point(
            cfg, art, cfg.budget_student, splits, subset, logits["labelled"], pool, logits["unlabelled"],
            fraction=fraction, mode="hard", seed=seed, loss=loss, steps=steps))
        for mode in ("distilled", "soft pool", "hard pool"):
            records.append(train_budget_point(
                cfg, small, cfg.budget_student, splits, subset, logits["labelled"], unlabelled,
                logits["unlabelled"], fraction=fraction, mode=mode, seed=seed, loss=loss, steps=steps,
                low_resource=True))
    return teacher, records


def budget_pairs(cfg) -> list[tuple[str, str, str]]:
    """The budget curve's questions, per fraction: does distillation beat hard labels on the same
    sentences, do the teacher's soft labels on the pool beat hard labels alone, and do they beat
    the teacher's argmax labels on the same pool (what the distribution adds to the labelling)."""
    pairs = []
    for fraction in sorted(cfg.budget_fractions):
        name = lambda mode: budget_mode_name(mode, fraction)  # noqa: E731
        pairs += [(cfg.budget_student, name("distilled"), name("hard")),
                  (cfg.budget_student, name("soft pool"), name("hard")),
                  (cfg.budget_student, name("soft pool"), name("hard pool"))]
    return pairs


def low_resource_pairs(cfg) -> list[tuple[str, str, str]]:
    """The low-resource arm's questions at ``cfg.low_resource_fraction``, the budget curve's three
    with a teacher that saw only those labels; the control is the curve's own "hard" run."""
    if cfg.low_resource_fraction is None:
        return []
    fraction = cfg.low_resource_fraction
    name = lambda mode: budget_mode_name(mode, fraction, low_resource=mode != "hard")  # noqa: E731
    return [(cfg.budget_student, name(a), name(b)) for a, b in
            (("distilled", "hard"), ("soft pool", "hard"), ("soft pool", "hard pool"))]
