"""Chapter 1's tables: the corpus per agreement level, the splits per class, and how long the
sentences are in the teacher's tokens."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .data import LABELS
from .models import load_tokenizer


def describe_splits(splits: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Counts per class and split, as a table for the notebooks."""
    rows = {
        name: part["label"].map(dict(enumerate(LABELS))).value_counts().reindex(LABELS, fill_value=0)
        for name, part in splits.items()
    }
    table = pd.DataFrame(rows).T
    table["total"] = table.sum(axis=1)
    return table


def agreement_overview(levels: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per agreement level: raw lines, rows dropped, sentences kept and class counts."""
    rows = []
    for level, df in levels.items():
        counts = df["label"].value_counts().reindex(range(len(LABELS)), fill_value=0)
        rows.append({
            "agreement": level, "lines in file": df.attrs.get("raw_rows"),
            "duplicates dropped": df.attrs["dropped"]["duplicate_rows"],
            "conflicting rows dropped": df.attrs["dropped"]["conflicting_rows"],
            "sentences": len(df), **{name: int(counts[i]) for i, name in enumerate(LABELS)},
        })
    return pd.DataFrame(rows).set_index("agreement")


def token_lengths(sentences, name: str) -> np.ndarray:
    """Tokens per sentence (special tokens included) under a model's own tokenizer."""
    tokenizer = load_tokenizer(name)
    return np.asarray([len(ids) for ids in tokenizer(list(sentences))["input_ids"]])
