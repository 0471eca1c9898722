"""The distillation loss, written out by hand because it is what this book teaches.

Convention (Hinton et al., 2015): ``alpha`` weights the hard-label term.

    loss = alpha * CE(student, labels)
         + (1 - alpha) * T^2 * KL( softmax(teacher / T) || softmax(student / T) )

``alpha = 1`` is ordinary fine-tuning (the no-distillation control); ``alpha = 0`` learns from
the teacher's softened outputs alone. The T^2 factor keeps the soft-target gradients, which
scale as 1/T^2, on the same footing as the hard-label gradients when T changes.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def check_alpha(value, name: str = "alpha") -> float:
    """The one range check of alpha (profile setup, sweeps and the loss all call it)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1] (it weights the hard-label term), got {value!r}")
    return float(value)


def check_temperature(value, name: str = "temperature") -> float:
    """The one range check of the temperature T."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not float(value) > 0.0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class LossSettings:
    """One run's loss: hard-label weight ``alpha``, temperature ``T`` and the
    weight of the hidden-state term. Checked once, here; the trainer takes
    the value as it is."""

    alpha: float = 1.0
    temperature: float = 1.0
    hidden_weight: float = 0.0

    def __post_init__(self):
        weight = self.hidden_weight
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real) \
                or not float(weight) >= 0.0:
            raise ValueError(f"hidden_weight must be >= 0, got {weight!r}")
        object.__setattr__(self, "alpha", check_alpha(self.alpha))
        object.__setattr__(self, "temperature",
                           check_temperature(self.temperature))
        object.__setattr__(self, "hidden_weight", float(weight))

    @property
    def is_plain(self) -> bool:
        """No teacher term at all: then T plays no part either."""
        return self.alpha == 1.0 and self.hidden_weight == 0.0


# ordinary fine-tuning, the control of every comparison: hard labels only
# (T plays no part)
PLAIN = LossSettings(alpha=1.0, temperature=1.0)

# where a final run's alpha or T came from (stored as these codes; the prose
# is made from them)
FROM_SWEEP, FROM_PARAMETER = "sweep", "parameter"


def choose_loss_settings(alpha: float | None, temperature: float | None,
                         sweep_choice: tuple[float, float] | None
                         ) -> tuple[LossSettings, dict[str, str]]:
    """The final runs' loss settings: a parameter beats the sweep's choice,
    one by one. Returns the settings and where each came from
    ({"alpha": "sweep", "temperature": "parameter"}, say)."""
    given = {"alpha": alpha, "temperature": temperature}
    if sweep_choice is None and None in given.values():
        missing = " and ".join(k for k, v in given.items() if v is None)
        raise ValueError(f"{missing}: give a value, or run chapter 4's sweep "
                         "first (it chooses them on the validation split)")
    swept = dict(zip(given, sweep_choice or (None, None)))
    chosen = {k: swept[k] if v is None else v for k, v in given.items()}
    sources = {k: FROM_SWEEP if v is None else FROM_PARAMETER
               for k, v in given.items()}
    return LossSettings(**chosen), sources


def soft_target_loss(student_logits: torch.Tensor,
                     teacher_logits: torch.Tensor, temperature: float,
                     reduction: str = "batchmean") -> torch.Tensor:
    """KL(softmax(teacher/T) || softmax(student/T)) without the T^2 factor:
    the batch mean, or with ``reduction="none"`` one value per sentence."""
    T = temperature
    log_p_student = F.log_softmax(student_logits.float() / T, dim=-1)
    log_p_teacher = F.log_softmax(teacher_logits.float() / T, dim=-1)
    if reduction == "none":
        return F.kl_div(log_p_student, log_p_teacher, reduction="none",
                        log_target=True).sum(-1)
    return F.kl_div(log_p_student, log_p_teacher, reduction="batchmean",
                    log_target=True)


def distillation_loss(student_logits: torch.Tensor,
                      teacher_logits: torch.Tensor, labels: torch.Tensor,
                      alpha: float, temperature: float) -> torch.Tensor:
    """alpha * CE(student, labels) + (1 - alpha) * T^2 * KL(teacher_T ||
    student_T), the batch mean.

    ``alpha`` may also be a tensor with one weight per sentence: chapter 4's
    pool runs mix labelled sentences (alpha 1) and teacher-labelled ones
    (alpha 0) in one batch. alpha and T are checked once, when their
    `LossSettings` is built, not on every batch.
    """
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"student logits {tuple(student_logits.shape)} and teacher "
            f"logits {tuple(teacher_logits.shape)} must have the same shape")
    T = temperature
    if torch.is_tensor(alpha):  # one weight per sentence
        hard = F.cross_entropy(student_logits.float(), labels,
                               reduction="none")
        soft = soft_target_loss(student_logits, teacher_logits, T,
                                reduction="none")
        return (alpha * hard + (1.0 - alpha) * T**2 * soft).mean()
    hard = F.cross_entropy(student_logits.float(), labels)
    if alpha == 1.0:
        return hard
    soft = soft_target_loss(student_logits, teacher_logits, T)
    return alpha * hard + (1.0 - alpha) * T**2 * soft


def hidden_state_loss(student_hidden: torch.Tensor,
                      teacher_hidden: torch.Tensor) -> torch.Tensor:
    """Patient-KD style: squared distance between length-normalised
    first-token vectors.

    Shapes (batch, layers, width), the student's already projected to the
    teacher's width; summed over the width, averaged over layers and batch.
    Ranges from 0 to 4.
    """
    student = F.normalize(student_hidden.float(), dim=-1)
    teacher = F.normalize(teacher_hidden.float(), dim=-1)
    return ((student - teacher) ** 2).sum(-1).mean()
