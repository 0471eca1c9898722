"""Chapter 4's transfer-set size curve: with every label, does the teacher help once the student
sees its answers on many more sentences than were labelled?

The student trains on every label (alpha 1) plus a transfer set the teacher labelled: the unseen
pool (1.5x the labels) and rewrites of the training and pool sentences (`augment`) up to 5x and 10x
the labels. Each size is learnt two ways that differ in one thing: the teacher's distribution
softened at T ("soft") or its argmax ("argmax"). Every size takes the same optimizer steps, so a
larger set is not simply a longer run; size 0 is the plain student on the same steps. The step
budget and the augmentation's rates are chosen on the validation split (`choose_transfer_recipe`).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .artifacts import Artifacts
from .augment import AugmentRates, augmented_sentences, transfer_set
from .budget import batches_per_epoch, epochs_for_steps, with_soft_pool
from .experiments import train_student
from .losses import PLAIN, LossSettings
from .metrics import classes_predicted, seed_summary
from .models import load_tokenizer
from .teacher_cache import cache_teacher_logits
from .modes import DISTILLED, PLAIN_MODE, TEACHER

# how the student learns the transfer set: a reader's name -> what it means
TRANSFER_LABELS = {
    "soft": "the teacher's distribution softened at T (alpha 0 on the transfer set)",
    "argmax": "the teacher's argmax label, learnt like a human label",
}


# the mode of a student trained on the chosen recipe (saved under it; the recipe is in its record)
RECIPE_MODE = "recipe"


def transfer_mode_name(labels: str, multiple: float) -> str:
    """The record's mode of one point of the curve, e.g. 'soft transfer @ 10x'."""
    return "plain @ 0x" if multiple == 0 else f"{labels} transfer @ {multiple:g}x"


def transfer_sizes(cfg, labelled: int, pool: int) -> dict[float, int]:
    """Transfer-set size (sentences) per multiple of the labelled sentences: 0, the pool's own
    size (its multiple rounded to 0.1) and each of ``cfg.transfer_multiples``."""
    sizes = {0.0: 0, round(pool / labelled, 1): pool}
    sizes.update({float(m): int(round(m * labelled)) for m in cfg.transfer_multiples})
    return dict(sorted(sizes.items()))


def transfer_steps(cfg, labelled: int, multiple: float) -> int:
    """The optimizer steps every point of the curve takes: ``multiple`` times the plain student's
    (``cfg.budget_epochs`` over the labelled sentences)."""
    return math.ceil(multiple * cfg.budget_epochs * batches_per_epoch(labelled, cfg.batch_size))


def build_transfer_set(cfg, art: Artifacts, splits: dict[str, pd.DataFrame], pool: pd.DataFrame,
                       rates: AugmentRates, size: int) -> tuple[list[str], np.ndarray]:
    """The transfer set of ``size`` sentences (the pool, then rewrites of the training and pool
    sentences with ``rates``; never a validation or test sentence) and the teacher's logits for it,
    computed once and cached like its other logits."""
    extra = max(0, size - len(pool))
    # the teacher's mask token: the teacher reads each rewrite to label it, so a masked word should
    # be the gap it was pre-trained to read (the student learns that string as it tokenizes it)
    mask_token = load_tokenizer(cfg.teacher).mask_token or "[MASK]"
    sources = list(splits["train"]["sentence"]) + list(pool["sentence"])
    held_out = set(splits["validation"]["sentence"]) | set(splits["test"]["sentence"])
    rewrites = augmented_sentences(sources, extra, rates=rates, mask_token=mask_token,
                                   seed=cfg.split_seed, exclude=held_out) if extra else []
    sentences = transfer_set(pool, rewrites, size)
    name = f"transfer-{rates.mask:g}-{rates.ngram:g}-{rates.delete:g}-{rates.swap:g}"
    frame = pd.DataFrame({"sentence": sentences, "label": 0})
    logits = cache_teacher_logits(art, {name: frame}, cfg.max_length)[name]
    return sentences, logits


def train_transfer_point(cfg, art: Artifacts, splits: dict[str, pd.DataFrame], train_logits: np.ndarray,
                         sentences: list[str], logits: np.ndarray, *, labels: str, multiple: float,
                         steps: int, seed: int, temperature: float, rates: AugmentRates,
                         name: str | None = None, save: bool = False, mode: str | None = None) -> dict:
    """One student on every label plus the first ``len(sentences)`` sentences of the transfer set,
    learnt as ``labels`` (`TRANSFER_LABELS`), for ``steps`` optimizer steps; with ``save``, its
    checkpoint is kept for chapter 5 (`Artifacts.student`); ``mode`` names the run (default: its point
    of the curve, `transfer_mode_name`)."""
    name = name or cfg.budget_student
    extra = {"transfer_multiple": multiple, "transfer_labels": labels if multiple else "none",
             "transfer_sentences": len(sentences), "transfer_steps": steps,
             "augment_rates": [rates.mask, rates.ngram, rates.delete, rates.swap]}
    common = dict(seed=seed, mode=mode or transfer_mode_name(labels, multiple), save=save, extra=extra)
    labelled = splits["train"]
    if not sentences:
        return train_student(cfg, art, name, splits, loss=PLAIN, train_df=labelled,
                             epochs=epochs_for_steps(steps, len(labelled), cfg.batch_size), **common)
    transfer = pd.DataFrame({"sentence": sentences, "label": np.asarray(logits).argmax(-1)})
    epochs = epochs_for_steps(steps, len(labelled) + len(transfer), cfg.batch_size)
    if labels == "soft":
        train, teacher_logits, row_alpha = with_soft_pool(labelled, train_logits, transfer, logits)
        return train_student(cfg, art, name, splits, loss=LossSettings(0.0, temperature), train_df=train,
                             teacher_logits=teacher_logits, row_alpha=row_alpha, epochs=epochs, **common)
    if labels == "argmax":
        train = pd.concat([labelled, transfer], ignore_index=True)
        return train_student(cfg, art, name, splits, loss=PLAIN, train_df=train, epochs=epochs, **common)
    raise ValueError(f"unknown transfer labels {labels!r}; valid: {', '.join(TRANSFER_LABELS)}")


def choose_transfer_recipe(cfg, art: Artifacts, splits: dict[str, pd.DataFrame], pool: pd.DataFrame,
                           train_logits: np.ndarray, *, temperature: float
                           ) -> tuple[AugmentRates, float, list[dict]]:
    """The augmentation rates and the step budget of the curve, chosen on validation only:
    ``cfg.budget_student`` with soft labels on the largest transfer set, for each candidate of
    ``cfg.transfer_rates`` x ``cfg.transfer_step_multiples``, once per sweep seed. The highest mean
    validation accuracy wins; a tie keeps the earlier candidate. Returns the rates, the step
    multiple and the runs."""
    labelled = len(splits["train"])
    multiple = max(transfer_sizes(cfg, labelled, len(pool)))
    size = transfer_sizes(cfg, labelled, len(pool))[multiple]
    candidates = [(AugmentRates(*rates), steps) for rates in cfg.transfer_rates
                  for steps in cfg.transfer_step_multiples]
    runs, score = [], {}
    for rates, step_multiple in candidates:
        sentences, logits = build_transfer_set(cfg, art, splits, pool, rates, size)
        steps = transfer_steps(cfg, labelled, step_multiple)
        tried = [train_transfer_point(cfg, art, splits, train_logits, sentences, logits, labels="soft",
                                      multiple=multiple, steps=steps, seed=seed, temperature=temperature,
                                      rates=rates) for seed in cfg.sweep_seeds]
        runs += tried
        score[(rates, step_multiple)] = np.mean([r["validation"]["accuracy"] for r in tried])
    best = max(candidates, key=lambda c: (score[c], -candidates.index(c)))
    return best[0], best[1], runs


def train_transfer_curve(cfg, art: Artifacts, splits: dict[str, pd.DataFrame], pool: pd.DataFrame,
                         train_logits: np.ndarray, *, temperature: float, rates: AugmentRates,
                         step_multiple: float) -> list[dict]:
    """Every point of the curve: each size of `transfer_sizes` learnt soft and argmax (size 0: the
    plain student), once per seed of ``cfg.budget_seeds``, all for the same steps."""
    labelled = len(splits["train"])
    sizes = transfer_sizes(cfg, labelled, len(pool))
    sentences, logits = build_transfer_set(cfg, art, splits, pool, rates, max(sizes.values()))
    steps = transfer_steps(cfg, labelled, step_multiple)
    records = []
    for seed in cfg.budget_seeds:
        for multiple, size in sizes.items():
            for labels in (TRANSFER_LABELS if multiple else ["none"]):
                records.append(train_transfer_point(
                    cfg, art, splits, train_logits, sentences[:size], logits[:size], labels=labels,
                    multiple=multiple, steps=steps, seed=seed, temperature=temperature, rates=rates))
    return records


def transfer_summary(records: list[dict]) -> pd.DataFrame:
    """Test accuracy over seeds per size and kind of label (mean, 95% t-interval over seeds, how
    many seeds answered one class): the curve's table and figure."""
    frame = pd.DataFrame([{"multiple": r["transfer_multiple"], "labels": r["transfer_labels"],
                           "sentences": r["transfer_sentences"], "accuracy": r["test"]["accuracy"],
                           "classes": classes_predicted(r)} for r in records])
    rows = []
    for (multiple, labels), group in frame.groupby(["multiple", "labels"], sort=True):
        stats = seed_summary(group["accuracy"])
        rows.append({"multiple": multiple, "labels": labels, "transfer_sentences": int(group["sentences"].iloc[0]),
                     "seeds": stats["n_seeds"], "accuracy_mean": stats["mean"],
                     "accuracy_ci_low": stats["ci_low"], "accuracy_ci_high": stats["ci_high"],
                     "one_class_seeds": int((group["classes"] == 1).sum())})
    return pd.DataFrame(rows)


def transfer_pairs(cfg, multiples) -> list[tuple[str, str, str]]:
    """The curve's questions, per size: does the transfer set beat the plain student on the same
    steps (soft), and do soft labels beat argmax labels on the same sentences."""
    pairs = []
    for multiple in sorted(m for m in multiples if m):
        soft, argmax = transfer_mode_name("soft", multiple), transfer_mode_name("argmax", multiple)
        pairs += [(cfg.budget_student, soft, transfer_mode_name("none", 0)),
                  (cfg.budget_student, soft, argmax)]
    return pairs


def recipe_choice_table(runs: list[dict]) -> pd.DataFrame:
    """Validation accuracy of each augmentation-rate and step-budget candidate tried by
    `choose_transfer_recipe`, mean over its seeds, in the order tried."""
    frame = pd.DataFrame([{"rates": ", ".join(f"{rate:g}" for rate in r["augment_rates"]),
                           "steps": r["transfer_steps"], "seed": r["seed"],
                           "validation_accuracy": r["validation"]["accuracy"]} for r in runs])
    return (frame.groupby(["rates", "steps"], sort=False)
            .agg(seeds=("seed", "size"), validation_accuracy=("validation_accuracy", "mean")).reset_index())


def choose_recipe(records: list[dict]) -> tuple[float, str]:
    """The best recipe of the curve, chosen on validation only: the (multiple, labels) with the
    highest mean validation accuracy over its seeds; a tie keeps the smaller transfer set (the
    cheaper one), then soft labels. Size 0 (the plain student) is a control, never a recipe."""
    frame = pd.DataFrame([{"multiple": r["transfer_multiple"], "labels": r["transfer_labels"],
                           "validation": r["validation"]["accuracy"]} for r in records if r["transfer_multiple"]])
    if frame.empty:
        raise ValueError("no transfer-set runs to choose from (only the plain student)")
    means = frame.groupby(["multiple", "labels"])["validation"].mean().reset_index()
    means["soft_first"] = means["labels"] != "soft"
    best = means.sort_values(["validation", "multiple", "soft_first"], ascending=[False, True, True]).iloc[0]
    return float(best["multiple"]), str(best["labels"])


def train_recipe_students(cfg, art: Artifacts, names, splits: dict[str, pd.DataFrame], pool: pd.DataFrame,
                          train_logits: np.ndarray, *, recipe: tuple[float, str], temperature: float,
                          rates: AugmentRates, step_multiple: float) -> list[dict]:
    """The chosen recipe (`choose_recipe`) for each student of ``names``, once per seed of
    ``cfg.seeds``, saved for chapter 5 under `RECIPE_MODE`. Every student takes the same steps as
    the curve's."""
    multiple, labels = recipe
    labelled = len(splits["train"])
    sizes = transfer_sizes(cfg, labelled, len(pool))
    # the curve's own set (and its cached logits), cut to the recipe's size
    sentences, logits = build_transfer_set(cfg, art, splits, pool, rates, max(sizes.values()))
    sentences, logits = sentences[:sizes[multiple]], logits[:sizes[multiple]]
    steps = transfer_steps(cfg, labelled, step_multiple)
    return [train_transfer_point(cfg, art, splits, train_logits, sentences, logits, labels=labels,
                                 multiple=multiple, steps=steps, seed=seed, temperature=temperature,
                                 rates=rates, name=name, save=True, mode=RECIPE_MODE)
            for seed in cfg.seeds for name in names]


def recipe_pairs(cfg, names) -> list[tuple[str, str, str]]:
    """The recipe's questions for each student of ``names``: against its plain control (the same
    labels, no teacher) where it has one, against its distilled run (the teacher on the labelled
    sentences only) and against the teacher."""
    pairs = []
    for name in names:
        controls = (DISTILLED,) if name in cfg.compression_students else (PLAIN_MODE, DISTILLED)
        pairs += [(name, RECIPE_MODE, control) for control in controls] + [(name, RECIPE_MODE, TEACHER)]
    return pairs
