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


def check_distillation_params(alpha: float, temperature: float) -> None:
    check_alpha(alpha)
    check_temperature(temperature)


def soft_target_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                     temperature: float, reduction: str = "batchmean") -> torch.Tensor:
    """KL(softmax(teacher/T) || softmax(student/T)) without the T^2 factor: the batch mean, or
    with ``reduction="none"`` one value per sentence."""
    log_p_student = F.log_softmax(student_logits.float() / temperature, dim=-1)
    log_p_teacher = F.log_softmax(teacher_logits.float() / temperature, dim=-1)
    if reduction == "none":
        return F.kl_div(log_p_student, log_p_teacher, reduction="none", log_target=True).sum(-1)
    return F.kl_div(log_p_student, log_p_teacher, reduction="batchmean", log_target=True)


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                      labels: torch.Tensor, alpha: float, temperature: float) -> torch.Tensor:
    """alpha * CE(student, labels) + (1 - alpha) * T^2 * KL(teacher_T || student_T), batch mean.

    ``alpha`` may also be a tensor with one weight per sentence: chapter 4's pool runs mix
    labelled sentences (alpha 1) and teacher-labelled ones (alpha 0) in one batch.
    Raises ValueError for alpha outside [0, 1], T <= 0 or mismatched shapes.
    """
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"student logits {tuple(student_logits.shape)} and teacher logits "
            f"{tuple(teacher_logits.shape)} must have the same shape"
        )
    if torch.is_tensor(alpha):  # one weight per sentence
        check_temperature(temperature)
        if alpha.shape != labels.shape or bool(((alpha < 0) | (alpha > 1)).any()):
            raise ValueError(f"per-sentence alpha must have shape {tuple(labels.shape)} and lie in [0, 1]")
        hard = F.cross_entropy(student_logits.float(), labels, reduction="none")
        soft = soft_target_loss(student_logits, teacher_logits, temperature, reduction="none")
        return (alpha * hard + (1.0 - alpha) * temperature**2 * soft).mean()
    check_distillation_params(alpha, temperature)
    hard = F.cross_entropy(student_logits.float(), labels)
    if alpha == 1.0:
        return hard
    soft = soft_target_loss(student_logits, teacher_logits, temperature)
    return alpha * hard + (1.0 - alpha) * temperature**2 * soft


def hidden_state_loss(student_hidden: torch.Tensor, teacher_hidden: torch.Tensor) -> torch.Tensor:
    """Patient-KD style: squared distance between length-normalised first-token vectors.

    Shapes (batch, layers, width), the student's already projected to the teacher's width;
    summed over the width, averaged over layers and batch. Ranges from 0 to 4.
    """
    student = F.normalize(student_hidden.float(), dim=-1)
    teacher = F.normalize(teacher_hidden.float(), dim=-1)
    return ((student - teacher) ** 2).sum(-1).mean()
