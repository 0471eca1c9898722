"""The distillation loss against hand computations and its documented convention."""
import math

import pytest
import torch
import torch.nn.functional as F

from distill_utils.losses import (FROM_PARAMETER, FROM_SWEEP, PLAIN, LossSettings, choose_loss_settings,
                                  distillation_loss, soft_target_loss)

STUDENT = torch.tensor([[1.0, 2.0, 0.5], [0.2, -1.0, 3.0]])
TEACHER = torch.tensor([[0.5, 3.0, 1.0], [-0.5, 0.0, 4.0]])
LABELS = torch.tensor([1, 2])


def by_hand(student, teacher, labels, alpha, temperature):
    total = 0.0
    for s, t, y in zip(student.tolist(), teacher.tolist(), labels.tolist()):
        zs = sum(math.exp(v) for v in s)
        ce = -math.log(math.exp(s[y]) / zs)
        p = [math.exp(v / temperature) for v in t]
        q = [math.exp(v / temperature) for v in s]
        p = [v / sum(p) for v in p]
        q = [v / sum(q) for v in q]
        kl = sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))
        total += alpha * ce + (1 - alpha) * temperature**2 * kl
    return total / len(labels)


@pytest.mark.parametrize("alpha, temperature", [(0.0, 1.0), (0.3, 2.0), (0.5, 4.0), (1.0, 3.0), (0.9, 0.5)])
def test_matches_hand_computation(alpha, temperature):
    got = distillation_loss(STUDENT, TEACHER, LABELS, alpha, temperature).item()
    assert got == pytest.approx(by_hand(STUDENT, TEACHER, LABELS, alpha, temperature), rel=1e-5)


def test_alpha_one_is_cross_entropy_and_ignores_the_teacher():
    loss = distillation_loss(STUDENT, TEACHER * 100, LABELS, 1.0, 2.0)
    assert loss.item() == pytest.approx(F.cross_entropy(STUDENT, LABELS).item())


def test_soft_term_is_zero_when_student_equals_teacher():
    assert soft_target_loss(TEACHER, TEACHER, 3.0).item() == pytest.approx(0.0, abs=1e-7)
    loss = distillation_loss(TEACHER, TEACHER, LABELS, 0.0, 3.0)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)


def test_gradient_matches_the_analytic_form():
    """d/dz_s of T^2 KL(p_T || q_T) is T (q_T - p_T) per sample (batch mean divides by N)."""
    student = STUDENT.clone().requires_grad_(True)
    temperature = 2.5
    distillation_loss(student, TEACHER, LABELS, 0.0, temperature).backward()
    p = torch.softmax(TEACHER / temperature, -1)
    q = torch.softmax(STUDENT / temperature, -1)
    expected = temperature * (q - p) / len(LABELS)
    assert torch.allclose(student.grad, expected, atol=1e-6)


def test_bf16_logits_are_computed_in_fp32():
    loss = distillation_loss(STUDENT.bfloat16(), TEACHER.bfloat16(), LABELS, 0.5, 2.0)
    assert loss.dtype == torch.float32


@pytest.mark.parametrize("alpha, temperature, message", [
    (-0.1, 2.0, "alpha must lie in"), (1.5, 2.0, "alpha must lie in"),
    (0.5, 0.0, "temperature must be > 0"), (0.5, -1.0, "temperature must be > 0"),
])
def test_bad_settings_are_refused_when_built(alpha, temperature, message):
    """The settings are checked once, when their value is built; the loss trusts them."""
    with pytest.raises(ValueError, match=message):
        LossSettings(alpha, temperature)


@pytest.mark.parametrize("hidden_weight", [-1.0, True, "1"])
def test_a_bad_hidden_weight_is_refused(hidden_weight):
    with pytest.raises(ValueError, match="hidden_weight must be >= 0"):
        LossSettings(0.5, 2.0, hidden_weight)


def test_plain_is_alpha_one_at_t_one_and_frozen():
    assert (PLAIN.alpha, PLAIN.temperature, PLAIN.hidden_weight) == (1.0, 1.0, 0.0)
    assert PLAIN.is_plain and not LossSettings(0.5, 2.0).is_plain and not LossSettings(1.0, 1.0, 2.0).is_plain
    with pytest.raises(AttributeError):
        PLAIN.alpha = 0.5


@pytest.mark.parametrize("alpha, temperature, expected, sources", [
    (None, None, (0.5, 2.0), (FROM_SWEEP, FROM_SWEEP)),
    (0.3, None, (0.3, 2.0), (FROM_PARAMETER, FROM_SWEEP)),
    (None, 4.0, (0.5, 4.0), (FROM_SWEEP, FROM_PARAMETER)),
    (0.3, 4.0, (0.3, 4.0), (FROM_PARAMETER, FROM_PARAMETER)),
])
def test_a_parameter_beats_the_sweep_one_by_one(alpha, temperature, expected, sources):
    settings, source = choose_loss_settings(alpha, temperature, (0.5, 2.0))
    assert (settings.alpha, settings.temperature) == expected
    assert (source["alpha"], source["temperature"]) == sources


def test_without_a_sweep_both_settings_must_be_given():
    assert choose_loss_settings(0.3, 4.0, None)[0] == LossSettings(0.3, 4.0)
    with pytest.raises(ValueError, match="temperature: give a value, or run chapter 4's sweep"):
        choose_loss_settings(0.3, None, None)
    with pytest.raises(ValueError, match="alpha must lie in"):
        choose_loss_settings(1.5, None, (0.5, 2.0))


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="same shape"):
        distillation_loss(STUDENT, TEACHER[:, :2], LABELS, 0.5, 2.0)


def test_per_sentence_alpha_mixes_hard_and_soft_targets():
    """alpha 1 on one sentence and 0 on the other: the mean of that sentence's cross-entropy and
    the other's T^2-scaled KL; a constant tensor equals the scalar loss."""
    alpha = torch.tensor([1.0, 0.0])
    mixed = distillation_loss(STUDENT, TEACHER, LABELS, alpha, 2.0)
    hard = torch.nn.functional.cross_entropy(STUDENT, LABELS, reduction="none")
    soft = soft_target_loss(STUDENT, TEACHER, 2.0, reduction="none")
    assert mixed.item() == pytest.approx(((hard[0] + 4 * soft[1]) / 2).item(), rel=1e-6)
    same = distillation_loss(STUDENT, TEACHER, LABELS, torch.full((len(LABELS),), 0.3), 2.0)
    assert same.item() == pytest.approx(distillation_loss(STUDENT, TEACHER, LABELS, 0.3, 2.0).item(), rel=1e-6)
