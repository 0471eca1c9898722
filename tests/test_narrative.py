"""The sentences and tables the book shows: wording rules, the reference's intervals, human headers."""
import pandas as pd
import pytest

from distill_utils.book import narrative, tables
from distill_utils.reference import REFERENCE, reference_intervals
from distill_utils.variants import parse_variants


def summary_and_tests():
    summary = pd.DataFrame([
        {"model": "s", "mode": "kd", "accuracy_mean": 0.95, "accuracy_ci_low": 0.94, "accuracy_ci_high": 0.96},
        {"model": "s", "mode": "plain", "accuracy_mean": 0.94, "accuracy_ci_low": None, "accuracy_ci_high": None},
        {"model": "s", "mode": "hidden", "accuracy_mean": 0.93, "accuracy_ci_low": None, "accuracy_ci_high": None},
    ])
    tests = pd.DataFrame([
        {"model": "s", "a": "kd", "b": "plain", "difference_points": 1.0, "bootstrap_p": 0.2},
        {"model": "s", "a": "kd", "b": "teacher", "difference_points": -2.0, "bootstrap_p": 0.001},
        {"model": "s", "a": "hidden", "b": "kd", "difference_points": -2.0, "bootstrap_p": 0.03},
    ])
    return summary, tests


def test_verdict_names_direction_only_when_significant():
    assert narrative.verdict(1.2, 0.01).startswith("significantly better")
    assert narrative.verdict(-1.2, 0.01).startswith("significantly worse")
    assert narrative.verdict(-1.2, 0.2).startswith("not distinguishable on this test set")


def test_student_findings_state_every_comparison():
    summary, tests = summary_and_tests()
    lines = narrative.student_findings(summary, tests, ["s"], hidden_student="s")
    assert len(lines) == 2
    assert "distilled 95.00% (95% interval over seeds 94.00 to 96.00), plain 94.00%" in lines[0]
    assert "distilled against the teacher -2.00 points, significantly worse (p = 0.001)" in lines[0]
    # the null verdicts are said once, after the significant ones
    assert lines[0].endswith("; not distinguishable on this test set (each p >= 0.05): distilled against plain +1.00 points.")
    assert "with hidden states**: 93.00%" in lines[1] and "-2.00 points, significantly worse" in lines[1]
    # with a Holm column, verdicts rest on the adjusted p-value, and the sentence says so
    held = narrative.student_findings(summary, tests.assign(holm_p=[0.6, 0.003, 0.09]), ["s"], hidden_student="s")
    assert "not distinguishable on this test set (each p >= 0.05, Holm-adjusted): against logit-only distillation -2.00 points" in held[1]
    with pytest.raises(KeyError, match="hidden"):
        narrative.student_findings(summary.iloc[:2], tests.iloc[:2], ["s"], hidden_student="s")


def test_budget_findings_name_every_fraction_and_question():
    rows = []
    for fraction in (0.03, 1.0):
        for a, b in (("distilled", "hard"), ("soft pool", "hard"), ("soft pool", "hard pool")):
            rows.append({"model": "m", "a": f"{a} @ {100 * fraction:g}%", "b": f"{b} @ {100 * fraction:g}%",
                         "fraction": fraction, "mode_a": a, "mode_b": b,
                         "difference_points": 10.0 if a == "soft pool" and b == "hard" else 0.5,
                         "bootstrap_p": 0.001 if a == "soft pool" and b == "hard" else 0.4})
    summary = pd.DataFrame({"fraction": [0.03, 1.0], "labelled": [51, 1694]})
    lines = narrative.budget_findings(pd.DataFrame(rows), summary, "m")
    assert lines[0].startswith("* **3% of the labels (51 sentences)**")
    assert "hard labels alone +10.00 points, significantly better" in lines[0]
    assert lines[0].count("not distinguishable") == 1  # the null results of a fraction, together
    assert ("not distinguishable on this test set (each p >= 0.05): distillation on them against hard labels alone "
            "+0.50, soft against argmax labels on the same pool +0.50 points.") in lines[0]
    assert lines[1].startswith("* **100% of the labels (1694 sentences)**")


def test_budget_findings_say_what_the_schedule_confounds():
    rows = []
    for a, b in (("distilled", "hard"), ("soft pool", "hard"), ("soft pool", "hard pool")):
        rows.append({"model": "m", "a": "x", "b": "y", "fraction": 0.03, "mode_a": a, "mode_b": b,
                     "difference_points": 20.0, "bootstrap_p": 0.001})  # found by fields, whatever the names
    summary = pd.DataFrame({"fraction": [0.03] * 4, "labelled": [51] * 4, "seeds": [3] * 4,
                            "mode": ["hard", "distilled", "soft pool", "hard pool"],
                            "steps": [8, 8, 332, 332], "one_class_seeds": [3, 3, 0, 0]})
    lines = narrative.budget_findings(pd.DataFrame(rows), summary, "m")
    assert len(lines) == 3 and lines[1].startswith("  * At 3% the pool modes took 332 optimizer steps")
    assert "and the modes without the pool 8" in lines[1]
    assert "hard (3 of 3 seeds), distilled (3 of 3 seeds) predicted one class" in lines[2]
    # an arm stuck on one class gets no verdict: only soft against argmax pool labels is judged
    assert "significantly better" in lines[0] and lines[0].count("points") == 1
    assert ("no verdict on distillation on them against hard labels alone or the teacher's soft labels on the "
            "pool against hard labels alone (an arm answered one class)") in lines[0]
    # equal steps and every class predicted: nothing to caveat
    fair = summary.assign(steps=100, one_class_seeds=0)
    assert len(narrative.budget_findings(pd.DataFrame(rows), fair, "m")) == 1


def test_budget_summary_counts_steps_and_one_class_runs():
    from distill_utils import metrics

    def run(mode, seed, steps, predicted):
        matrix = [[0, 0, 0], [0, 0, 0], [0, 0, 0]]
        for label, prediction in enumerate(predicted):
            matrix[label][prediction] = 10
        return {"budget_mode": mode, "budget_fraction": 0.03, "labelled_sentences": 51, "seed": seed,
                "test": {"accuracy": 0.6 + seed / 100, "confusion_matrix": matrix},
                "log_history": [{"step": steps // 2}, {"step": steps}]}

    records = [run("hard", s, 8, [1, 1, 1]) for s in (1, 2)] + [run("soft pool", s, 332, [0, 1, 2]) for s in (1, 2)]
    table = metrics.budget_summary(records).set_index("mode")
    assert table.loc["hard", "steps"] == 8 and table.loc["soft pool", "steps"] == 332
    assert table.loc["hard", "one_class_seeds"] == 2 and table.loc["soft pool", "one_class_seeds"] == 0


def benchmark_table():
    rows = [("t", "teacher", "fp32", 10.0, 0.97, None), ("t", "teacher", "onnx-int8", 3.0, 0.60, None),
            ("s (kd)", "student", "fp32", 5.0, 0.965, None), ("s (kd)", "student", "onnx-int8", 1.0, 0.95, None),
            ("s (kd)", "student", "bf16", None, None, "no bf16 instructions")]
    table = pd.DataFrame(rows, columns=["model", "role", "variant", "latency_ms_median", "accuracy", "skipped"])
    table["speedup_vs_teacher"] = 10.0 / table["latency_ms_median"]
    table["accuracy_gap_vs_teacher"] = 0.97 - table["accuracy"]
    fp32 = table[table["variant"] == "fp32"].set_index("model")["accuracy"]
    table["accuracy_change_vs_fp32"] = table["accuracy"] - table["model"].map(fp32)
    return table


def test_benchmark_findings():
    table = benchmark_table()
    best = table.iloc[2].to_dict()  # s (kd) [fp32], within 1 point over seeds (results.best_compressed)
    lines = narrative.benchmark_findings(table, 42, best, 1.0)
    assert lines[0].startswith("* The fastest student variant, **s (kd) [onnx-int8]**, runs 10.0x faster")
    assert "2.00 points less accurate than the teacher" in lines[0]
    assert "within 1 point of the teacher's accuracy (means over seeds) is **s (kd) [fp32]**: 2.0x faster, 0.50 points less" in lines[1]
    assert "No student variant comes within 0.5 point" in narrative.benchmark_findings(table, 42, None, 0.5)[1]
    # with none within reach, the front says why: slowest first, each with its speed-up and gap
    front = table.iloc[[0, 2, 3]]
    why = narrative.benchmark_findings(table, 42, None, 0.5, front=front, teacher_accuracy=0.97)[2]
    assert why.startswith("* Why: along the front of speed against accuracy")
    assert why.endswith("t [fp32] 1.0x faster, exactly as accurate as the teacher; s (kd) [fp32] 2.0x faster, "
                        "0.50 points less accurate than the teacher; s (kd) [onnx-int8] 10.0x faster, "
                        "2.00 points less accurate than the teacher.")
    assert len(narrative.benchmark_findings(table, 42, best, 0.5, front=front, teacher_accuracy=0.97)) == len(lines)
    # gaps from the teacher's mean over its seeds, the one the goal is measured from
    why = narrative.benchmark_findings(table, 42, None, 0.5, front=front, teacher_accuracy=0.975)[2]
    assert "t [fp32] 1.0x faster, 0.50 points less accurate than the teacher;" in why
    assert any("t [onnx-int8] answers differently from its fp32 form: -37.00 points" in line for line in lines)
    assert lines[-1] == "* s (kd) [bf16] was skipped: no bf16 instructions."
    assert narrative.gap_text(0.0) == "exactly as accurate as the teacher"
    assert narrative.gap_text(-0.01) == "1.00 points more accurate than the teacher"


def test_significance_sentences_and_goals():
    rows = [{"model": "s", "a": "kd", "b": "plain", "difference_points": 0.0, "ci_low_points": -1.0,
             "ci_high_points": 1.0, "bootstrap_p": 1.0},
            {"model": "s", "a": "kd", "b": "teacher", "difference_points": -1.57, "ci_low_points": -3.15,
             "ci_high_points": -0.10, "bootstrap_p": 0.029}]
    first, second = narrative.significance_sentences(rows)
    assert "is level with its plain control" in first and first.endswith("not significant.")
    assert "is 1.57 points behind the teacher (95% interval over sentences and seeds: -3.15 to -0.10; p = 0.029): significant." in second
    assert narrative.goals_sentence([], "smoke").startswith("The smoke profile sets itself no targets")
    goals = [{"met": True, "target": ">= 98%"}, {"met": False, "target": "<= 1x"}, {"met": None, "target": "reported"}]
    assert "2 targets" in narrative.goals_sentence(goals, "cpu")
    assert "1 of them was met (1 more figure is reported" in narrative.goals_sentence(goals, "cpu")
    goals[1]["met"] = True  # the verb agrees with the count
    assert "2 of them were met" in narrative.goals_sentence(goals, "cpu")


def test_reference_intervals_are_computed_once_from_the_reference():
    ref = reference_intervals()
    assert ref["n"] == 340 and ref["gap_sentences"] == 3
    low, high = ref["teacher_ci"]
    assert low < REFERENCE["teacher"]["accuracy"] < high and high - low == pytest.approx(0.049, abs=0.003)
    assert ref["best_case_mcnemar_p"] == pytest.approx(0.25)  # 3 discordant pairs, all one way
    assert ref["speedup"] == pytest.approx(7.66 / 3.98)


def test_style_table_shows_human_headers_and_units():
    table = pd.DataFrame({"model": ["s"], "accuracy": [0.9543], "latency_ms_median": [12.345],
                          "speedup_vs_teacher": [1.9], "parameters": [66_955_779], "pareto": [True]})
    html = tables.style_table(table, list(table.columns)).to_html()
    for text in ("latency, median (ms)", "95.43%", "12.35", "1.90x", "parameters (millions)", "67.0", "yes"):
        assert text in html, text
    assert "latency_ms_median" not in html
    with pytest.raises(KeyError, match="not in the table"):
        tables.style_table(table, ["no_such_column"])


def test_an_interval_is_shown_as_one_column():
    table = pd.DataFrame({"model": ["s", "t"], "accuracy_ci_low": [0.9396, None], "accuracy_ci_high": [0.9542, None],
                          "ci_low_points": [-1.57, 0.2], "ci_high_points": [0.59, 1.0]})
    html = tables.style_table(table, list(table.columns)).to_html()
    for text in ("95% interval over seeds", "93.96% to 95.42%", "n/a", "-1.57 to +0.59", "+0.20 to +1.00"):
        assert text in html, text
    assert "from" not in html and html.count("<th ") == 3


def test_variants_parameter_is_checked_before_any_work():
    assert parse_variants("fp32, onnx-int8") == ("fp32", "onnx-int8")
    with pytest.raises(ValueError, match="variants: unknown 'fp8'"):
        parse_variants("fp32,fp8")
    with pytest.raises(ValueError, match="must include fp32"):
        parse_variants("onnx-int8")


def test_calibration_and_chapter4_summary_state_their_tests():
    summary, tests = summary_and_tests()
    summary = pd.concat([summary, pd.DataFrame([{"model": "t", "mode": "teacher", "seeds": 3,
                                                 "accuracy_mean": 0.97}])], ignore_index=True)
    ece = {"ece_difference_points": [-2.1, 0.5, 0.0], "ece_p": [0.001, 0.4, 1.0], "ece_holm_p": [0.004, 0.8, 1.0]}
    budget_tests = pd.DataFrame([{"model": "s", "a": "soft pool @ 3%", "b": "hard pool @ 3%",
                                  "fraction": 0.03, "mode_a": "soft pool", "mode_b": "hard pool",
                                  "difference_points": 0.6, "bootstrap_p": 0.3, "ece_difference_points": 0.0,
                                  "ece_p": 1.0}])
    tests = pd.concat([tests.assign(**ece), budget_tests], ignore_index=True)
    lines = narrative.calibration_findings(tests, ["s"])
    assert lines == ["* Calibration error (ECE) of each distilled student minus its plain control: "
                     "s -2.10 points, significantly lower (p = 0.004)."]
    budget = pd.DataFrame([{"mode": mode, "fraction": 0.03, "labelled": 50, "accuracy_mean": acc}
                           for mode, acc in (("hard", 0.75), ("soft pool", 0.92), ("hard pool", 0.915))])
    summary_lines = narrative.chapter4_summary(tests, summary, budget, {"mean": 0.95}, "s", "s")
    assert len(summary_lines) == 4
    assert "+1.00 points, not distinguishable" in summary_lines[0]
    assert "reaches 75.0% on hard labels alone and 92.0% with the teacher's soft labels" in summary_lines[2]
    assert "against 95.0% with every label" in summary_lines[2] and "+0.60 points" in summary_lines[2]
    assert "97.00% on average over its 3 seed(s)" in summary_lines[3]
    assert "optimizer steps" not in summary_lines[2]  # no step counts recorded: nothing claimed
    budget["steps"] = [8, 332, 332]
    with_steps = narrative.chapter4_summary(tests, summary, budget, {"mean": 0.95}, "s", "s")[2]
    assert "soft labels on the pool (332 optimizer steps against 8), against 95.0%" in with_steps


def test_recipe_source_names_a_parameter_that_overrode_the_sweep():
    sweep, parameter = {"alpha": "sweep", "temperature": "sweep"}, {"alpha": "parameter", "temperature": "parameter"}
    assert narrative.recipe_source(sweep) == "the sweep's choice on the validation split, chapter 4"
    assert narrative.recipe_source({**sweep, "alpha": "parameter"}) == \
        "alpha set by a notebook parameter, the other the sweep's choice (chapter 4)"
    assert narrative.recipe_source({**sweep, "temperature": "parameter"}).startswith("T set by a notebook parameter")
    assert narrative.recipe_source(parameter) == "both set by notebook parameters, not by the sweep of chapter 4"


def pool_tables():
    summary = pd.DataFrame([
        {"model": "s", "mode": mode, "accuracy_mean": acc, "accuracy_ci_low": acc - 0.01, "accuracy_ci_high": acc + 0.01}
        for mode, acc in (("pool", 0.96), ("kd", 0.95), ("plain", 0.94))]
        + [{"model": "c", "mode": "pool", "accuracy_mean": 0.93, "accuracy_ci_low": None, "accuracy_ci_high": None},
           {"model": "t", "mode": "teacher", "accuracy_mean": 0.97, "accuracy_ci_low": 0.96,
            "accuracy_ci_high": 0.98, "seeds": 3}])
    rows = [("s", "pool", "plain", 2.0, 0.01), ("s", "pool", "kd", 1.0, 0.4), ("s", "pool", "teacher", -1.0, 0.5),
            ("s", "pool", "ensemble", -1.2, 0.3), ("c", "pool", "kd", 0.5, 0.9), ("c", "pool", "teacher", -4.0, 0.001)]
    tests = pd.DataFrame([{"model": m, "a": a, "b": b, "difference_points": d, "holm_p": p, "bootstrap_p": p,
                           "ci_low_points": d - 1, "ci_high_points": d + 1} for m, a, b, d, p in rows])
    return summary, tests


def test_the_teacher_choice_says_what_was_measured_and_what_follows():
    choice = {"teacher": "single", "validation_correct": {"single": 190, "ensemble": 190}, "validation_n": 199}
    text = narrative.teacher_choice_sentence(choice, 3)
    assert "answers 190 of the 199 validation sentences correctly, the single teacher 190" in text
    assert "no better on validation" in text and "no run learns from the ensemble" in text
    chosen = narrative.teacher_choice_sentence({**choice, "teacher": "ensemble",
                                                "validation_correct": {"single": 189, "ensemble": 191}}, 3)
    assert "the better teacher here" in chosen and "`pool-ensemble`" in chosen
    assert narrative.teacher_choice_sentence(choice, 1).startswith("With one teacher seed there is no ensemble")


def test_pool_findings_state_every_comparison_of_the_recipe():
    summary, tests = pool_tables()
    first, compressed = narrative.pool_findings(summary, tests, ["s"], ["c"], ["pool"])
    assert first.startswith("* **s** (pool): 96.00% (95% interval over seeds 95.00 to 97.00)")
    assert "Against its plain control (the same labels, no teacher) +2.00 points, significantly better (p = 0.010)" in first
    assert first.count("not distinguishable") == 1
    assert "against the teacher -1.00, against the ensemble of the teacher's seeds -1.20 points." in first
    assert "the compression student: 93.00%" in compressed and "significantly worse (p = 0.001)" in compressed
    lines = narrative.chapter4_summary(*_chapter4_inputs(tests, summary), pool_mode="pool")
    assert any(line.startswith("* **Every label plus the teacher's soft labels on the pool**: s reaches 96.00%")
               for line in lines)


def _chapter4_inputs(tests, summary):
    extra = pd.DataFrame([{"model": "s", "a": "kd", "b": "plain", "difference_points": 0.5, "holm_p": 0.9,
                           "bootstrap_p": 0.9, "ece_difference_points": 0.1, "ece_holm_p": 0.9, "ece_p": 0.9}])
    return pd.concat([tests, extra], ignore_index=True), summary, pd.DataFrame(), {"mean": 0.94}, "s", "s"


def test_can_a_student_beat_its_teacher_answers_from_the_recorded_figures():
    summary, tests = pool_tables()
    results = {"reference": {"experiment": REFERENCE}, "settings": {"headline_student": "s"},
               "comparisons": tests.to_dict("records"), "training_runs": summary.to_dict("records"),
               "pool": {"students": ["s"], "modes": ["pool"]},
               "ensemble": {"seeds": [42, 1, 2], "accuracy": 0.9735, "shared_errors": [3, 7, 9],
                            "repeated": [{"model": "s", "mode": "pool", "per_seed": [2, 3, 2]},
                                         {"model": "s", "mode": "plain", "per_seed": [3, 3, 3]}]}}
    reference, best, ensemble, shared = narrative.beat_the_teacher(results, reference_intervals())
    assert reference.startswith("* **The reference**: the student answered 324 of 340 test sentences correctly, "
                                "the teacher 321, a gap of 3 sentences") and reference.endswith("noise.")
    # the interval comes before the verdict and its p
    assert ("averages 96.00% over its seeds, the teacher 97.00% over 3: -1.00 points (95% interval over "
            "sentences and seeds: -2.00 to +0.00), not distinguishable") in best
    assert ("Against the ensemble of the teacher's 3 seeds (97.35%, one model): -1.20 points (95% interval "
            "over sentences and the student's seeds") in ensemble
    assert shared.endswith("the same 3 test sentences wrong. The best student gets 2, 3 and 2 (per seed) of them "
                           "wrong; its plain control, which never saw the teacher, 3, 3 and 3 (per seed).")
    # without the recipe, only the reference is stated
    assert len(narrative.beat_the_teacher({**results, "pool": {"students": []}}, reference_intervals())) == 1


def test_an_interval_beside_a_holm_verdict_is_adjusted_the_same_way_and_says_so():
    row = pd.Series({"difference_points": -3.05, "ci_low_points": -5.21, "ci_high_points": -1.08,
                     "holm_ci_low_points": -5.90, "holm_ci_high_points": 0.20, "holm_p": 0.055})
    assert narrative.interval_text(row, "sentences and seeds") == \
        "interval over sentences and seeds, Holm-adjusted like the verdict: -5.90 to +0.20"
    plain = row.drop(["holm_ci_low_points", "holm_ci_high_points"])
    assert narrative.interval_text(plain, "seeds") == "95% interval over seeds: -5.21 to -1.08"


def transfer_fixture(one_class_argmax: int = 0):
    summary = pd.DataFrame([
        {"multiple": 0.0, "labels": "none", "transfer_sentences": 0, "accuracy_mean": 0.95, "one_class_seeds": 0},
        {"multiple": 10.0, "labels": "soft", "transfer_sentences": 16940, "accuracy_mean": 0.96,
         "one_class_seeds": 0},
        {"multiple": 10.0, "labels": "argmax", "transfer_sentences": 16940, "accuracy_mean": 0.955,
         "one_class_seeds": one_class_argmax}])
    tests = pd.DataFrame([
        {"model": "m", "a": "soft transfer @ 10x", "b": "plain @ 0x", "difference_points": 1.0,
         "bootstrap_p": 0.01, "holm_p": 0.03, "experiment": "transfer"},
        {"model": "m", "a": "soft transfer @ 10x", "b": "argmax transfer @ 10x", "difference_points": 0.5,
         "bootstrap_p": 0.3, "holm_p": 0.6, "experiment": "transfer"}])
    return summary, tests


def test_the_transfer_curve_in_words_withholds_a_verdict_beside_a_one_class_arm():
    summary, tests = transfer_fixture()
    plain, largest = narrative.transfer_findings(tests, summary, "m")
    assert plain == "* **No transfer set** (every label, hard, on the same steps): 95.00%."
    assert largest.startswith("* **10x the labels** (16940 teacher-labelled sentences): soft 96.00%, argmax 95.50%; ")
    assert "soft labels against no transfer set +1.00 points, significantly better (p = 0.030)" in largest
    assert "not distinguishable on this test set (each p >= 0.05, Holm-adjusted): soft against argmax labels +0.50" \
        in largest
    summary, tests = transfer_fixture(one_class_argmax=1)
    stuck = narrative.transfer_findings(tests, summary, "m")[1]
    assert "no verdict (an arm answered one class on some seed: argmax)" in stuck and "p =" not in stuck


def test_when_distillation_pays_is_stated_from_the_fair_arms_only():
    summary, transfer_tests = transfer_fixture()
    results = {
        "settings": {"headline_student": "s"},
        "comparisons": [
            {"model": "s", "a": "kd", "b": "plain", "difference_points": 0.2, "bootstrap_p": 0.8, "holm_p": 1.0},
            {"model": "r", "a": "recipe", "b": "plain", "difference_points": 0.9, "bootstrap_p": 0.2,
             "holm_p": 0.5},
            {"model": "r", "a": "recipe", "b": "teacher", "difference_points": -0.4, "bootstrap_p": 0.5,
             "holm_p": 1.0}],
        "budget": {"summary": [{"mode": mode, "fraction": 0.03, "labelled": 51, "one_class_seeds": stuck}
                               for mode, stuck in (("hard", 2), ("distilled", 0), ("soft pool", 0),
                                                   ("hard pool", 0))],
                   "tests": [{"fraction": 0.03, "mode_a": a, "mode_b": b, "difference_points": 2.0,
                              "bootstrap_p": 0.01, "holm_p": 0.02} for a, b in
                             (("distilled", "hard"), ("soft pool", "hard"), ("soft pool", "hard pool"))]},
        "low_resource": None,
        "transfer": {"student": "m", "summary": summary.to_dict("records"),
                     "tests": transfer_tests.to_dict("records")},
        "recipe": {"students": ["r"]},
    }
    every, scarce, transfer, recipe = narrative.when_distillation_pays(results)
    assert "against its plain control: +0.20 points, not distinguishable" in every
    # the hard arm answered one class: only soft against argmax pool labels gets a verdict
    assert "soft against argmax labels on the same pool +2.00 points, significantly better (p = 0.020)" in scarce
    assert "against hard labels alone" not in scarce
    assert "transfer set 10x the labels** (m, equal steps)" in transfer
    assert "**r on the chosen recipe**: not distinguishable" in recipe and "against its plain control +0.90" in recipe


def test_the_hidden_state_weight_says_where_it_came_from():
    chosen = pd.DataFrame([{"hidden_weight": 0.0}, {"hidden_weight": 1.0}])
    assert "did best, so s is trained with it" in narrative.hidden_weight_sentence(1.0, chosen, "s")
    assert "no weight above 0 beat logit-only" in narrative.hidden_weight_sentence(0.0, chosen, "s")
    assert "from the `hidden_weight` parameter, not from validation" in narrative.hidden_weight_sentence(
        100.0, None, "s")
    assert "tries no weight" in narrative.hidden_weight_sentence(0.0, None, "s")


def test_the_int8_diagnosis_names_the_group_that_costs_most_and_the_fix_the_figures_support():
    def table(tensor, channel, groups):
        rows = [("nothing (fp32)", 0, 0.97, 0.0)] + groups + [("every Linear, per tensor", 74, tensor, 9.0),
                                                              ("every Linear, per channel", 74, channel, 3.0)]
        return pd.DataFrame(rows, columns=["quantized", "layers", "accuracy", "max_logit_change"])
    groups = [("query", 12, 0.969, 0.5), ("output.dense", 24, 0.70, 8.0), ("classifier", 1, 0.97, 0.1)]
    text = narrative.int8_diagnosis(table(0.68, 0.965, groups), "t", 1.0)
    assert "the `output.dense` layers (24) cost the most: 70.00%" in text
    assert "68.00% with one scale per matrix" in text and "Per-channel scales recover the loss" in text
    assert "keeping the `output.dense` layers in fp32" in narrative.int8_diagnosis(table(0.68, 0.80, groups), "t", 1.0)
    spread = [("query", 12, 0.95, 0.5), ("output.dense", 24, 0.95, 8.0)]
    assert "spread over the layers" in narrative.int8_diagnosis(table(0.68, 0.80, spread), "t", 1.0)
    level = [("query", 12, 0.97, 0.5), ("output.dense", 24, 0.97, 0.9)]
    nothing = narrative.int8_diagnosis(table(0.965, 0.97, level), "t", 1.0)
    assert "`output.dense`" in nothing and "costs it nothing worth fixing" in nothing  # ties: the larger change
