"""The transfer set at scale: rewrites of the sentences we have, labelled by the teacher, and the
size curve that asks whether a larger transfer set makes distillation pay."""
import numpy as np
import pandas as pd
import pytest

from distill_utils import teacher_cache, transfer_curve
from distill_utils.augment import AugmentRates, augment_sentence, augmented_sentences, transfer_set
from distill_utils.metrics import optimizer_steps
from distill_utils.profiles import resolve_config

from conftest import with_teacher

SOURCES = ["Operating profit rose to EUR 13.1 mn from EUR 8.7 mn in the corresponding period",
           "The company 's net sales fell by 5 % in the third quarter",
           "The shares are listed on the Helsinki stock exchange"]


def test_each_rewrite_does_what_its_rate_says():
    rng = np.random.default_rng(0)
    words = SOURCES[0].split()
    masked = augment_sentence(SOURCES[0], rng, AugmentRates(mask=1.0, ngram=0, delete=0, swap=0), "<mask>")
    assert masked.split() == ["<mask>"] * len(words)
    for _ in range(20):  # n-gram sampling keeps 1 to 5 consecutive words of the sentence
        ngram = augment_sentence(SOURCES[0], rng, AugmentRates(mask=0, ngram=1.0, delete=0, swap=0), "<mask>")
        assert 1 <= len(ngram.split()) <= 5 and ngram in SOURCES[0]
    swapped = augment_sentence(SOURCES[2], rng, AugmentRates(mask=0, ngram=0, delete=0, swap=1.0), "<mask>")
    assert sorted(swapped.split()) == sorted(SOURCES[2].split()) and swapped != SOURCES[2]
    deleted = augment_sentence(SOURCES[1], rng, AugmentRates(mask=0, ngram=0, delete=0.5, swap=0), "<mask>")
    assert len(deleted.split()) < len(SOURCES[1].split())
    unchanged = augment_sentence(SOURCES[1], rng, AugmentRates(0, 0, 0, 0), "<mask>")
    assert unchanged == SOURCES[1]
    with pytest.raises(ValueError, match="mask must lie in"):
        AugmentRates(mask=1.5)


def test_rewrites_are_distinct_nested_and_never_a_held_out_sentence():
    held_out = {"The shares are listed on the Helsinki"}
    rates = AugmentRates()
    many = augmented_sentences(SOURCES, 60, rates=rates, mask_token="<mask>", seed=1, exclude=held_out)
    assert len(many) == len(set(many)) == 60
    assert not set(many) & (set(SOURCES) | held_out)
    few = augmented_sentences(SOURCES, 20, rates=rates, mask_token="<mask>", seed=1, exclude=held_out)
    assert few == many[:20]  # the smaller transfer set is the start of the larger one
    assert augmented_sentences(SOURCES, 20, rates=rates, mask_token="<mask>", seed=2) != few
    with pytest.raises(ValueError, match="distinct rewrites"):
        augmented_sentences(["one"], 5, rates=AugmentRates(0, 0, 0, 0), mask_token="<mask>", seed=0)
    pool = pd.DataFrame({"sentence": ["a", "b"], "label": [0, 1]})
    assert transfer_set(pool, many, 2) == ["a", "b"] and transfer_set(pool, many, 5)[2:] == many[:3]
    with pytest.raises(ValueError, match="needs more rewrites"):
        transfer_set(pool, many, 100)


def test_transfer_sizes_are_the_pool_and_multiples_of_the_labels():
    cfg = resolve_config("cpu")
    assert transfer_curve.transfer_sizes(cfg, 1694, 2577) == {0.0: 0, 1.5: 2577, 5.0: 8470, 10.0: 16940}
    assert transfer_curve.transfer_steps(cfg, 1694, 2.0) == 2 * 4 * 53
    assert transfer_curve.transfer_mode_name("soft", 10.0) == "soft transfer @ 10x"


def test_the_size_curve_gives_every_size_the_same_steps(tiny_teacher, tiny_splits, tmp_path, capsys):
    art = with_teacher(tiny_teacher, tmp_path / "art")
    cfg = resolve_config("smoke", budget_seeds=[42], sweep_seeds=[42], transfer_multiples=[2.0],
                         transfer_rates=[(0.1, 0.25, 0.05, 0.05), (0.2, 0.0, 0.0, 0.0)])
    pool = tiny_splits["validation"].iloc[:40].reset_index(drop=True)
    train_logits = teacher_cache.cache_teacher_logits(art, {"train": tiny_splits["train"]}, cfg.max_length)["train"]
    rates, step_multiple, tried = transfer_curve.choose_transfer_recipe(
        cfg, art, tiny_splits, pool, train_logits, temperature=2.0)
    assert len(tried) == 2 and {r["mode"] for r in tried} == {"soft transfer @ 2x"}
    scores = [r["validation"]["accuracy"] for r in tried]
    assert [rates.mask, rates.ngram, rates.delete, rates.swap] == tried[int(np.argmax(scores))]["augment_rates"]
    records = transfer_curve.train_transfer_curve(cfg, art, tiny_splits, pool, train_logits, temperature=2.0,
                                                  rates=rates, step_multiple=step_multiple)
    modes = [r["mode"] for r in records]
    assert modes == ["plain @ 0x", "soft transfer @ 0.6x", "argmax transfer @ 0.6x",
                     "soft transfer @ 2x", "argmax transfer @ 2x"]
    assert len({optimizer_steps(r) for r in records}) == 1  # the same steps at every size
    assert [r["transfer_sentences"] for r in records] == [0, 40, 40, 128, 128]
    assert records[1]["alpha"] == 0.0 and records[2]["alpha"] == 1.0
    # the winner's largest soft point is the choice's own run, read back
    assert records[3]["run_key_sha"] in {r["run_key_sha"] for r in tried}
    # no validation or test sentence is ever in the transfer set
    sentences, _ = transfer_curve.build_transfer_set(cfg, art, tiny_splits, pool, rates, 128)
    assert not set(sentences) & (set(tiny_splits["validation"]["sentence"]) - set(pool["sentence"]))
    assert not set(sentences) & set(tiny_splits["test"]["sentence"])
    summary = transfer_curve.transfer_summary(records)
    assert list(summary["labels"]) == ["none", "argmax", "soft", "argmax", "soft"]
    # the chosen recipe for another student, saved for chapter 5, on the curve's steps
    recipe = transfer_curve.choose_recipe(records)
    capsys.readouterr()
    saved = transfer_curve.train_recipe_students(cfg.replace(seeds=(42,)), art, ["tiny-bert-cut"], tiny_splits, pool,
                                                 train_logits, recipe=recipe, temperature=2.0, rates=rates,
                                                 step_multiple=step_multiple)
    assert [r["model"] for r in saved] == ["tiny-bert-cut"] and optimizer_steps(saved[0]) == optimizer_steps(records[0])
    assert saved[0]["mode"] == transfer_curve.RECIPE_MODE
    assert "recomputing" not in capsys.readouterr().out  # the curve's labelled set, cut to size, not labelled again
    assert art.require_student("tiny-bert-cut", saved[0]["mode"], 42) == art.student("tiny-bert-cut", saved[0]["mode"], 42)


def test_the_recipe_is_chosen_on_validation_and_a_tie_keeps_the_smaller_set():
    def run(multiple, labels, validation, test=0.0):
        return {"transfer_multiple": multiple, "transfer_labels": labels,
                "validation": {"accuracy": validation}, "test": {"accuracy": test}}
    records = [run(0.0, "none", 0.99), run(1.5, "soft", 0.90), run(1.5, "soft", 0.92), run(10.0, "soft", 0.93),
               run(10.0, "argmax", 0.91), run(5.0, "argmax", 0.93, test=1.0)]
    assert transfer_curve.choose_recipe(records) == (5.0, "argmax")  # 0x is a control; tie: the smaller set
    with pytest.raises(ValueError, match="no transfer-set runs"):
        transfer_curve.choose_recipe([run(0.0, "none", 0.9)])


def test_the_recipe_and_the_low_resource_arm_ask_their_questions_against_the_right_controls():
    from distill_utils.budget import low_resource_pairs

    cfg = resolve_config("cpu")
    pairs = transfer_curve.recipe_pairs(cfg, ["distil-mpnet-6layer", "pruned-teacher-4layer"])
    assert pairs == [("distil-mpnet-6layer", "recipe", "plain"), ("distil-mpnet-6layer", "recipe", "kd"),
                     ("distil-mpnet-6layer", "recipe", "teacher"),
                     # the compression student has no plain control
                     ("pruned-teacher-4layer", "recipe", "kd"), ("pruned-teacher-4layer", "recipe", "teacher")]
    low = low_resource_pairs(cfg)
    # its students learnt from the low-resource teacher; the control is the curve's own hard run
    assert low[0] == (cfg.budget_student, "distilled @ 10%, low-resource teacher", "hard @ 10%")
    assert {b for _, _, b in low} == {"hard @ 10%", "hard pool @ 10%, low-resource teacher"}
    assert low_resource_pairs(cfg.replace(low_resource_fraction=None)) == []


def test_the_recipe_choice_table_gives_each_candidate_its_mean_over_seeds():
    runs = [{"augment_rates": [0.1, 0.25, 0.05, 0.05], "transfer_steps": 424, "seed": seed,
             "validation": {"accuracy": accuracy}} for seed, accuracy in ((42, 0.9), (1, 0.8))]
    runs.append({"augment_rates": [0.1, 0.1, 0.05, 0.05], "transfer_steps": 424, "seed": 42,
                 "validation": {"accuracy": 0.95}})
    table = transfer_curve.recipe_choice_table(runs)
    assert list(table["rates"]) == ["0.1, 0.25, 0.05, 0.05", "0.1, 0.1, 0.05, 0.05"]
    assert list(table["seeds"]) == [2, 1] and table["validation_accuracy"].iloc[0] == pytest.approx(0.85)
