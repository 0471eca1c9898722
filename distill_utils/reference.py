"""The reference experiment this book answers, and FinBERT's published figure, with the
intervals their single runs leave open (computed once, used by chapters 4, 5 and 6)."""
from __future__ import annotations

from scipy.stats import binomtest

from .metrics import wilson_interval

# The reference experiment this book answers (BERT-base-uncased -> DistilBERT-base-uncased),
# as it reported them: test accuracy, correct answers out of 340, size in MB, ms per sample.
REFERENCE = {
    "teacher": {"model": "bert-base-uncased", "accuracy": 0.9441, "correct": 321, "n": 340,
                "size_mb": 417.65, "latency_ms": 7.66},
    "student": {"model": "distilbert-base-uncased", "accuracy": 0.9529, "correct": 324, "n": 340,
                "size_mb": 255.42, "latency_ms": 3.98},
}

# FinBERT (Araci 2019, arXiv:1908.10063, table 2): BERT-base further pre-trained on financial text
# and fine-tuned on Financial PhraseBank; on the sentences with 100% annotator agreement. Its own
# split (20% test), so the comparison is indicative, not paired.
FINBERT = {"model": "FinBERT (Araci 2019)", "agreement": "all", "accuracy": 0.97, "macro_f1": 0.95}



def reference_intervals() -> dict:
    """What the reference's single runs support: each accuracy's 95% Wilson interval over its
    test sentences, the gap in sentences, and the exact McNemar p-value in the case most
    favourable to the student (the two disagree only on the sentences that make up the gap, all
    in the student's favour)."""
    teacher, student = REFERENCE["teacher"], REFERENCE["student"]
    gap = student["correct"] - teacher["correct"]
    return {
        "n": teacher["n"],
        "teacher_ci": wilson_interval(teacher["correct"], teacher["n"]),
        "student_ci": wilson_interval(student["correct"], student["n"]),
        "gap_sentences": gap,
        "best_case_mcnemar_p": binomtest(0, abs(gap), 0.5).pvalue if gap else 1.0,
        "speedup": teacher["latency_ms"] / student["latency_ms"],
        "size_ratio": student["size_mb"] / teacher["size_mb"],
    }
