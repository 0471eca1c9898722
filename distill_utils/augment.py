"""A transfer set at scale: new sentences for the teacher to label, made from the ones we have.

Task-specific distillation pays when the student sees the teacher's answers on many more sentences
than were labelled (Tang et al. 2019 augment each sentence about 20 times; TinyBERT loses 7.2
points without augmentation). Without a thesaurus or a translation model, new sentences come from
rewriting the old ones in the spirit of Tang et al.: mask words with the tokenizer's mask token,
keep one n-gram, delete a short span, swap two neighbouring words. The teacher labels every one
(`teacher_cache.cache_teacher_logits`); the student learns them from the teacher alone, so it does
not matter that a rewritten sentence may have lost its sentiment: the teacher says what is left.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class AugmentRates:
    """How often each rewrite happens. ``ngram``: the whole sentence is cut to one n-gram of 1-5
    words (Tang et al.'s p_ng); otherwise each word is masked with probability ``mask`` (their
    p_mask), a span of 1-3 words starting at a word is deleted with probability ``delete``, and a
    word swaps places with the next with probability ``swap``."""

    mask: float = 0.1
    ngram: float = 0.25
    delete: float = 0.05
    swap: float = 0.05

    def __post_init__(self):
        for name in ("mask", "ngram", "delete", "swap"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"augmentation rate {name} must lie in [0, 1], got {value}")


def augment_sentence(sentence: str, rng: np.random.Generator,
                     rates: AugmentRates, mask_token: str) -> str:
    """One rewritten copy of ``sentence`` (words split on spaces)."""
    words = sentence.split()
    if len(words) > 1 and rng.random() < rates.ngram:
        n = int(rng.integers(1, min(5, len(words)) + 1))
        start = int(rng.integers(0, len(words) - n + 1))
        return " ".join(words[start:start + n])
    out, i = [], 0
    while i < len(words):
        if rng.random() < rates.delete:
            i += int(rng.integers(1, 4))  # the span is dropped
            continue
        out.append(mask_token if rng.random() < rates.mask else words[i])
        i += 1
    for i in range(len(out) - 1):
        if rng.random() < rates.swap:
            out[i], out[i + 1] = out[i + 1], out[i]
    return " ".join(out)


def augmented_sentences(sources: list[str], size: int, *, rates: AugmentRates, mask_token: str,
                        seed: int, exclude=(), max_rounds: int = 50) -> list[str]:
    """``size`` distinct rewritten sentences from ``sources``, in a fixed order: round after round,
    one rewrite of each source in a shuffled order, keeping only sentences not seen before and not
    in ``exclude`` (the labelled and held-out sentences). The first k of a larger set are the set of
    size k, so transfer sets of growing size are nested."""
    if not sources:
        raise ValueError("no sentences to augment")
    rng = np.random.default_rng(seed)
    seen = set(sources) | set(exclude)
    out: list[str] = []
    for _ in range(max_rounds):
        for index in rng.permutation(len(sources)):
            candidate = augment_sentence(sources[index], rng, rates, mask_token)
            if candidate and candidate not in seen:
                seen.add(candidate)
                out.append(candidate)
                if len(out) == size:
                    return out
    raise ValueError(f"only {len(out)} distinct rewrites of {len(sources)} sentences after "
                     f"{max_rounds} rounds, {size} asked for: lower the size or raise the rates")


def transfer_set(pool: pd.DataFrame, augmented: list[str], size: int) -> list[str]:
    """The first ``size`` sentences of the transfer set: the unseen pool first, then the rewrites
    in their order (so size len(pool) is the pool itself)."""
    sentences = list(pool["sentence"]) + list(augmented)
    if size > len(sentences):
        raise ValueError(f"a transfer set of {size} sentences needs more rewrites: "
                         f"{len(pool)} in the pool + {len(augmented)} made")
    return sentences[:size]
