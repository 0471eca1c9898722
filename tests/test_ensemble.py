"""The teacher's seeds together: the ensemble, shared errors, the choice of teacher, and the pool
recipe's schedule arithmetic and comparisons (no training here: see test_training.py)."""
import math

import numpy as np
import pytest
from scipy.special import softmax

from distill_utils import ensemble, pool_recipe
from distill_utils.profiles import resolve_config

LABELS = np.array([0, 1, 2, 1, 0])


def logits_for(predictions, confidence=4.0):
    out = np.zeros((len(predictions), 3), dtype=np.float32)
    out[np.arange(len(predictions)), predictions] = confidence
    return out


def test_the_ensemble_is_the_mean_of_the_seeds_probabilities():
    rng = np.random.default_rng(0)
    members = [rng.normal(size=(6, 3)).astype(np.float32) for _ in range(3)]
    mean = np.mean([softmax(m, axis=-1) for m in members], axis=0)
    assert np.allclose(softmax(ensemble.ensemble_logits(members), axis=-1), mean, atol=1e-6)
    one = ensemble.ensemble_logits(members[:1])  # one member: its own prediction
    assert np.array_equal(one.argmax(-1), members[0].argmax(-1))
    with pytest.raises(ValueError, match="at least one"):
        ensemble.ensemble_logits([])


def test_shared_errors_are_the_sentences_every_seed_gets_wrong():
    seeds = {42: logits_for([0, 2, 2, 0, 0]), 1: logits_for([0, 2, 2, 1, 1]), 2: logits_for([0, 0, 2, 2, 0])}
    sentences = [f"s{i}" for i in range(5)]
    shared = ensemble.shared_errors(sentences, LABELS, seeds)
    assert list(shared.index) == [1]  # sentence 3 is right for seed 1
    row = shared.loc[1]
    assert row["sentence"] == "s1" and row["label"] == "neutral"
    assert (row["seed 42"], row["seed 1"], row["seed 2"]) == ("positive", "positive", "negative")
    assert ensemble.errors_per_seed(LABELS, seeds) == {42: 2, 1: 2, 2: 2}
    student = [logits_for([0, 2, 2, 1, 0]), logits_for([0, 1, 2, 1, 0])]
    assert ensemble.repeated_errors(LABELS, list(shared.index), student) == [1, 0]
    none = ensemble.shared_errors(sentences, LABELS, {42: logits_for(LABELS)})
    assert none.empty and list(none.columns) == ["sentence", "label", "seed 42"]


def test_the_ensemble_is_chosen_only_when_it_is_better_on_validation():
    single, better, worse = logits_for([0, 1, 2, 0, 0]), logits_for(LABELS), logits_for([1, 1, 2, 0, 0])
    assert ensemble.choose_teacher(LABELS, single, better)["teacher"] == ensemble.ENSEMBLE
    tie = ensemble.choose_teacher(LABELS, single, single.copy())
    assert tie["teacher"] == ensemble.SINGLE and tie["validation_correct"] == {"single": 4, "ensemble": 4}
    assert ensemble.choose_teacher(LABELS, single, worse)["teacher"] == ensemble.SINGLE


def test_teacher_table_gives_an_interval_over_sentences_and_the_entropy():
    table = ensemble.teacher_table(LABELS, {"seed 42": logits_for([0, 1, 2, 1, 1]),
                                            "uniform": np.zeros((5, 3), dtype=np.float32)})
    seed = table.iloc[0]
    assert seed["correct"] == 4 and seed["accuracy"] == 0.8
    assert seed["wilson_low"] < 0.8 < seed["wilson_high"] <= 1
    assert table.iloc[1]["entropy_mean"] == pytest.approx(math.log(3))


def test_the_ensemble_record_counts_repeats_per_student_and_seed():
    seeds = {42: logits_for([0, 2, 2, 0, 0]), 1: logits_for([0, 2, 2, 1, 0])}
    records = [{"model": "s", "mode": "pool", "seed": 2, "test_logits": logits_for([0, 2, 2, 1, 0]).tolist()},
               {"model": "s", "mode": "pool", "seed": 1, "test_logits": logits_for(LABELS).tolist()},
               {"model": "s", "mode": "plain", "seed": 1, "test_logits": logits_for([0, 2, 2, 2, 2]).tolist()}]
    record = ensemble.ensemble_record(LABELS, list("abcde"), seeds, records, ["s"], ["pool", "plain", "kd"])
    assert record["shared_errors"] == [1] and record["errors_per_seed"] == {"42": 2, "1": 1}
    assert record["correct"] == 3 and record["seeds"] == [42, 1]  # sentence 3: a tie, broken to class 0
    assert record["repeated"] == [{"model": "s", "mode": "pool", "seeds": [1, 2], "per_seed": [0, 1]},
                                  {"model": "s", "mode": "plain", "seeds": [1], "per_seed": [1]}]


@pytest.mark.parametrize("labelled,pooled,batch", [(1694, 2577, 32), (300, 300, 32), (51, 2577, 32), (7, 3, 4)])
def test_equal_steps_gives_the_plain_controls_number_of_optimiser_steps(labelled, pooled, batch):
    """The Trainer runs ceil(epochs x batches per epoch) steps: the rounding must land on the
    plain control's steps exactly, and equal epochs keeps the epochs."""
    epochs = pool_recipe.pool_epochs("equal steps", 6.0, labelled, pooled, batch)
    assert math.ceil(epochs * math.ceil((labelled + pooled) / batch)) == 6 * math.ceil(labelled / batch)
    assert pool_recipe.pool_epochs("equal epochs", 6.0, labelled, pooled, batch) == 6.0
    with pytest.raises(ValueError, match="unknown pool schedule"):
        pool_recipe.pool_epochs("equal time", 6.0, labelled, pooled, batch)


def test_pool_pairs_put_every_pool_student_against_its_controls_and_the_teachers():
    cfg = resolve_config("cpu")
    pairs = pool_recipe.pool_pairs(cfg, [ensemble.SINGLE], against_ensemble=True)
    for name in cfg.pool_students:
        assert {(name, "pool", b) for b in ("plain", "kd", "teacher", "ensemble")} <= set(pairs)
    compressed = cfg.compression_students[0]
    assert (compressed, "pool", "kd") in pairs and (compressed, "pool", "plain") not in pairs
    both = pool_recipe.pool_pairs(cfg, [ensemble.ENSEMBLE, ensemble.SINGLE])
    assert (cfg.pool_students[0], "pool-ensemble", "plain") in both and (compressed, "pool-ensemble", "kd") in both
    assert not any(b == "ensemble" for _, _, b in both)  # only when asked
