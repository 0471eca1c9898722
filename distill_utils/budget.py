"""Chapter 4's budget curve: when does the teacher help? One student on nested fractions of the
labels, in four modes (hard labels, distilled, the teacher's soft or argmax labels on a pool of
sentences it never trained on), and the comparisons the curve asks about (`budget_pairs`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .artifacts import Artifacts
from .experiments import train_student
from .losses import PLAIN, LossSettings
from .subsets import budget_subsets


BUDGET_MODES = {
    "hard": "hard labels on the labelled subset",
    "distilled": "distillation on the labelled subset",
    "soft pool": "hard labels on the subset + the teacher's soft labels on the unseen pool",
    "hard pool": "hard labels on the subset + the teacher's argmax labels on the unseen pool",
}


def budget_mode_name(mode: str, fraction: float) -> str:
    """The record's mode for one point of the budget curve, e.g. 'soft pool @ 3%'."""
    return f"{mode} @ {100 * fraction:g}%"


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
                       epochs: float) -> dict:
    """One student trained on a labelled ``subset`` of the training split in one of `BUDGET_MODES`.

    The pool modes add the teacher's view of sentences it never trained on: "soft pool" trains
    the subset with hard labels (alpha 1) and the pool on the teacher's distribution softened at
    ``loss.temperature`` alone (alpha 0, per sentence); "hard pool" labels the pool with the teacher's argmax instead.
    The two differ in one thing only: whether the student sees the teacher's full distribution.
    """
    extra = {"budget_fraction": fraction, "budget_mode": mode, "labelled_sentences": len(subset)}
    common = dict(seed=seed, epochs=epochs, mode=budget_mode_name(mode, fraction), save=False, extra=extra)
    if mode == "hard":
        return train_student(cfg, art, name, splits, loss=PLAIN, train_df=subset, **common)
    if mode == "distilled":
        return train_student(cfg, art, name, splits, loss=loss, train_df=subset,
                             teacher_logits=subset_logits, **common)
    if mode == "soft pool":
        train, logits, row_alpha = with_soft_pool(subset, subset_logits, pool, pool_logits)
        return train_student(cfg, art, name, splits, loss=LossSettings(0.0, loss.temperature), train_df=train,
                             teacher_logits=logits, row_alpha=row_alpha, **common)
    if mode == "hard pool":
        labelled = pool.assign(label=np.asarray(pool_logits).argmax(-1))
        train = pd.concat([subset, labelled], ignore_index=True)
        return train_student(cfg, art, name, splits, loss=PLAIN, train_df=train, **common)
    raise ValueError(f"unknown budget mode {mode!r}; valid: {', '.join(BUDGET_MODES)}")


def train_budget_curve(cfg, art: Artifacts, splits: dict[str, pd.DataFrame], train_logits: np.ndarray,
                       pool: pd.DataFrame, pool_logits: np.ndarray, *, loss: LossSettings) -> list[dict]:
    """Every point of the budget curve: ``cfg.budget_student`` on each nested fraction of the
    training split (`subsets.budget_subsets`) in every mode of `BUDGET_MODES`, once per seed of
    ``cfg.budget_seeds``. Runs are keyed and reused like every other run."""
    row_of = {sentence: i for i, sentence in enumerate(splits["train"]["sentence"])}
    records = []
    for fraction, subset in budget_subsets(splits["train"], cfg.budget_fractions, seed=cfg.split_seed).items():
        subset_logits = np.asarray(train_logits)[[row_of[s] for s in subset["sentence"]]]
        for seed in cfg.budget_seeds:
            for mode in BUDGET_MODES:
                records.append(train_budget_point(
                    cfg, art, cfg.budget_student, splits, subset, subset_logits, pool, pool_logits,
                    fraction=fraction, mode=mode, seed=seed, loss=loss, epochs=cfg.budget_epochs))
    return records


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
