"""Statistics the book reports: seed intervals, paired tests, calibration, disagreements."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from distill_utils import metrics, paired


def test_seed_summary_uses_a_t_interval_and_refuses_to_invent_spread():
    summary = metrics.seed_summary([0.94, 0.95, 0.96])
    half = stats.t.ppf(0.975, 2) * 0.01 / np.sqrt(3)
    assert summary["mean"] == pytest.approx(0.95)
    assert summary["std"] == pytest.approx(0.01)
    assert (summary["ci_low"], summary["ci_high"]) == pytest.approx((0.95 - half, 0.95 + half))
    single = metrics.seed_summary([0.9])
    assert single["std"] is None and single["ci_low"] is None and single["n_seeds"] == 1
    with pytest.raises(ValueError):
        metrics.seed_summary([])


def test_seed_interval_stays_within_the_metrics_range():
    # two seeds far apart near the top: a bare t-interval would run past 100%
    wide = metrics.seed_summary([0.645, 0.98])
    half = stats.t.ppf(0.975, 1) * np.std([0.645, 0.98], ddof=1) / np.sqrt(2)
    assert 0.8125 + half > 1.0 and 0.8125 - half < 0.0  # what the unclipped interval would say
    assert (wide["ci_low"], wide["ci_high"]) == (0.0, 1.0)
    assert metrics.seed_summary([0.645, 0.98], bounds=None)["ci_high"] == pytest.approx(0.8125 + half)
    assert "clipped" in metrics.SEED_INTERVAL and "over seeds" in metrics.SEED_INTERVAL


def test_paired_bootstrap_sees_pairing():
    labels = np.zeros(300, dtype=int)
    same = np.zeros(300, dtype=int)
    identical = paired.paired_bootstrap(labels, [same], [same])
    assert identical["difference"] == 0 and identical["p_value"] == 1.0
    worse = same.copy()
    worse[:30] = 1  # b wrong on 30 sentences a gets right
    result = paired.paired_bootstrap(labels, [same, same], [worse, worse], n_resamples=2000)
    assert result["difference"] == pytest.approx(0.1)
    assert result["p_value"] < 0.01 and result["ci_low"] > 0
    with pytest.raises(ValueError):
        paired.paired_bootstrap(labels, [same[:10]], [same])


def test_expected_calibration_error_on_a_known_case():
    # every answer given with confidence 0.9, right 80% of the time: ECE = 0.1
    probabilities = np.array([0.9, 0.05, 0.05])
    logits = np.tile(np.log(probabilities), (100, 1))
    labels = np.array([0] * 80 + [1] * 20)
    assert metrics.expected_calibration_error(labels, logits) == pytest.approx(0.1)
    table = metrics.reliability_table(labels, logits)
    assert len(table) == 1 and table["count"].iloc[0] == 100 and table["bin_low"].iloc[0] == pytest.approx(0.8)
    perfect = np.tile(np.log([0.8, 0.1, 0.1]), (100, 1))
    assert metrics.expected_calibration_error(labels, perfect) == pytest.approx(0.0, abs=1e-12)


def test_compare_variants_and_disagreements():
    labels = np.array([0, 1, 2, 1])
    eye = np.eye(3) * 5
    teacher = {"seed": 1, "test_logits": eye[[0, 1, 2, 1]].tolist()}
    records = [{"model": "s", "mode": mode, "seed": seed, "test_logits": eye[preds].tolist()}
               for seed in (1, 2) for mode, preds in (("kd", [0, 1, 2, 2]), ("plain", [0, 0, 2, 2]))]
    table = paired.compare_variants(records, [teacher], labels, [("s", "kd", "plain"), ("s", "kd", "teacher")])
    assert table.loc[0, "difference_points"] == pytest.approx(25.0)
    assert table.loc[1, "difference_points"] == pytest.approx(-25.0)
    assert table.loc[0, "seeds"] == 2 and table.loc[0, "mcnemar_p_per_seed"] == "1.000, 1.000"
    assert table.loc[1, "seeds_b"] == 1
    with pytest.raises(ValueError, match="no seeds in common"):
        paired.compare_variants(records, [teacher], labels, [("s", "kd", "hidden")])
    # the ensemble of the teacher's seeds is one more reference model, unpaired like the teacher
    ensemble = eye[[0, 1, 2, 2]]
    table = paired.compare_variants(records, [teacher], labels, [("s", "plain", "ensemble")], ensemble=ensemble)
    assert table.loc[0, "difference_points"] == pytest.approx(-25.0) and table.loc[0, "seeds_b"] == 1
    with pytest.raises(ValueError, match="needs the ensemble's test logits: pass ensemble="):
        paired.compare_variants(records, [teacher], labels, [("s", "kd", "ensemble")])
    table = metrics.disagreements(["a", "b", "c", "d"], labels, teacher["test_logits"], records[0]["test_logits"])
    assert list(table["sentence"]) == ["d"] and table.loc[0, "right"] == "teacher"


def test_bootstrap_carries_the_seed_noise_of_both_models():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 300)
    student = [labels.copy() for _ in range(3)]
    good, bad = labels.copy(), labels.copy()
    bad[:60] = (bad[:60] + 1) % 3  # one teacher seed is 20 points worse than the other two
    steady = paired.paired_bootstrap(labels, student, [good, good, good], n_resamples=4000)
    noisy = paired.paired_bootstrap(labels, student, [good, good, bad], n_resamples=4000)
    assert steady["ci_high"] - steady["ci_low"] == pytest.approx(0.0)
    assert noisy["difference"] == pytest.approx(0.2 / 3)
    # resampling the teacher's seeds: a resample may draw the bad seed three times, or never
    assert noisy["ci_low"] == pytest.approx(0.0) and noisy["ci_high"] > 0.15
    # paired seeds are drawn together: a student that copies its control seed by seed differs by 0
    twin = paired.paired_bootstrap(labels, [good, good, bad], [good, good, bad], paired_seeds=True)
    assert twin["ci_low"] == twin["ci_high"] == 0.0
    with pytest.raises(ValueError, match="as many runs"):
        paired.paired_bootstrap(labels, [good], [good, bad], paired_seeds=True)


def test_ece_bootstrap_matches_the_ece_and_finds_a_real_gap():
    labels = np.array([0] * 320 + [1] * 80)
    overconfident = np.tile(np.log([0.98, 0.01, 0.01]), (400, 1))  # ECE 0.18
    honest = np.tile(np.log([0.8, 0.1, 0.1]), (400, 1))  # ECE 0
    result = paired.paired_bootstrap_ece(labels, [overconfident], [honest], n_resamples=2000)
    assert result["difference"] == pytest.approx(metrics.expected_calibration_error(labels, overconfident))
    # a resample's accuracy moves both ECEs: the gap shrinks only where accuracy nears 0.89
    assert result["ci_low"] > 0.05 and result["p_value"] < 0.01
    same = paired.paired_bootstrap_ece(labels, [honest], [honest], n_resamples=500)
    assert same["difference"] == 0 and same["p_value"] == 1.0


def test_holm_family_holds_accuracy_and_calibration_tests():
    tests = paired.with_holm(pd.DataFrame({"bootstrap_p": [0.01, 0.5], "ece_p": [0.02, 0.04]}))
    assert tests["holm_p"].tolist() == pytest.approx([0.04, 0.5])
    assert tests["ece_holm_p"].tolist() == pytest.approx([0.06, 0.08])


def test_holm_adjustment_matches_the_textbook_example():
    # Holm (1979) style: p = 0.01, 0.04, 0.03, 0.005 -> sorted 0.005*4, 0.01*3, 0.03*2, 0.04*1
    adjusted = paired.holm_adjust([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert paired.holm_adjust([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert paired.holm_adjust([]) == []


def test_family_tests_adjust_once_and_key_budget_points_by_fields():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 60)

    def logits(correct_share, seed):
        out = rng.normal(size=(60, 3))
        right = np.arange(60) < int(60 * correct_share)
        out[right, labels[right]] += 10
        return out.tolist()

    teachers = [{"model": "t", "seed": s, "test_logits": logits(0.95, s)} for s in (1, 2)]
    records = [{"model": "s", "mode": mode, "seed": s, "test_logits": logits(share, s)}
               for mode, share in (("kd", 0.9), ("plain", 0.85)) for s in (1, 2)]
    records += [{"model": "s", "mode": f"{mode} @ 3%", "seed": s, "test_logits": logits(share, s),
                 "budget_fraction": 0.03, "budget_mode": mode}
                for mode, share in (("soft pool", 0.8), ("hard pool", 0.7)) for s in (1, 2)]
    pairs = {"students": [("s", "kd", "plain"), ("s", "kd", "teacher")],
             "budget": [("s", "soft pool @ 3%", "hard pool @ 3%")]}
    tests = paired.family_tests(records, teachers, labels, pairs)
    assert list(tests["experiment"]) == ["students", "students", "budget"]
    budget = tests[tests["experiment"] == "budget"].iloc[0]
    assert (budget["fraction"], budget["mode_a"], budget["mode_b"]) == (0.03, "soft pool", "hard pool")
    assert tests.loc[tests["experiment"] == "students", "fraction"].isna().all()
    # one family: the adjustment runs over all three accuracy and three ECE tests together
    expected = paired.holm_adjust(list(tests["bootstrap_p"]) + list(tests["ece_p"]))
    assert list(tests["holm_p"]) + list(tests["ece_holm_p"]) == pytest.approx(expected)


def test_holm_adjusted_intervals_agree_with_the_holm_verdicts():
    """An interval shown beside a Holm verdict is taken at the level Holm tests that comparison
    at, so it excludes zero exactly when the comparison passes its step."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 300)
    better = np.where(rng.random(300) < 0.95, labels, (labels + 1) % 3)
    worse = np.where(rng.random(300) < 0.80, labels, (labels + 1) % 3)
    close = np.where(rng.random(300) < 0.94, labels, (labels + 1) % 3)
    eye = np.eye(3) * 4
    records = [{"model": "s", "mode": mode, "seed": 0, "test_logits": eye[pred].tolist()}
               for mode, pred in (("kd", better), ("plain", worse), ("close", close))]
    tests = paired.family_tests(records, [{"seed": 0, "test_logits": eye[close].tolist()}], labels,
                                {"students": [("s", "kd", "plain"), ("s", "close", "teacher"), ("s", "kd", "close")]})
    assert "samples" not in tests.columns and {"holm_ci_low_points", "ece_holm_ci_high_points"} <= set(tests.columns)
    for _, row in tests.iterrows():
        assert row["holm_ci_low_points"] <= row["ci_low_points"] <= row["ci_high_points"] <= row["holm_ci_high_points"]
        excludes_zero = row["holm_ci_low_points"] > 0 or row["holm_ci_high_points"] < 0
        assert excludes_zero == (row["holm_p"] < paired.SIGNIFICANCE_LEVEL), row.to_dict()
    levels = paired.holm_levels([0.01, 0.04, 0.03])
    assert levels == pytest.approx([0.05 / 3, 0.05 / 1, 0.05 / 2])


def test_the_training_time_table_leaves_out_what_this_run_did_not_train():
    from distill_utils.metrics import training_time

    table = training_time({"teacher": [60.0, 120.0], "hidden states": [], "sweep": [30.0]})
    assert list(table["experiment"]) == ["teacher", "sweep", "total"]
    assert list(table["runs"]) == [2, 1, 3] and table["train_min"].iloc[-1] == 3.5
