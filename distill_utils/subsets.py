"""Sentences an experiment trains on beyond the shared split: nested budget subsets of the
training split, and the pool of sentences no split holds."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .data import load_phrasebank, subsample


def budget_subsets(train: pd.DataFrame, fractions, seed: int = 0) -> dict[float, pd.DataFrame]:
    """Nested, stratified subsets of the training split: one per fraction, each inside the next.

    One random order per class (fixed by ``seed``) is cut at every fraction, so the 3% subset is
    part of the 10% subset, and so on; each keeps the classes in the training split's proportions
    (at least one sentence per class). Budget curves then differ in how much was labelled, not in
    which sentences happened to be drawn.
    """
    fractions = sorted(float(f) for f in fractions)
    if not fractions or fractions[0] <= 0 or fractions[-1] > 1:
        raise ValueError(f"budget fractions must lie in (0, 1], got {fractions}")
    shuffled = train.sample(frac=1.0, random_state=seed)
    out = {}
    for fraction in fractions:
        parts = [group.iloc[:max(1, round(fraction * len(group)))] for _, group in shuffled.groupby("label")]
        out[fraction] = pd.concat(parts).sort_index().reset_index(drop=True)
    return out


def unseen_pool(splits: dict[str, pd.DataFrame], data_dir: str | Path | None = None,
                limit: int | None = None) -> pd.DataFrame:
    """The PhraseBank sentences below full agreement that are in no split: text the teacher never
    trained on, never validated on and never was tested on (its labels are the annotators' majority).

    The agreement files are nested, so this is the 50% file minus the all-agree file minus every
    sentence of the splits (compared by exact text).
    """
    lenient = load_phrasebank("50", data_dir=data_dir)
    strict = set(load_phrasebank("all", data_dir=data_dir)["sentence"])
    in_splits = set().union(*(set(part["sentence"]) for part in splits.values()))
    keep = lenient[~lenient["sentence"].isin(strict | in_splits)]
    pool = subsample(keep.sort_values("sentence", kind="stable").reset_index(drop=True), limit)
    pool.attrs = {"sentences_in_file": len(lenient), "below_full_agreement": int((~lenient["sentence"].isin(strict)).sum())}
    return pool
