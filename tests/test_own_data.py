"""A reader's own CSV: every bad input named with its fix before anything trains, then a stratified split."""
import pandas as pd
import pytest

from distill_utils.own_data import (
    DataError,
    check_teacher_labels,
    fewest_rows_per_class,
    read_labelled_csv,
    split_labelled,
)

GOOD = [("Profit rose sharply", "positive"), ("Sales fell by a third", "negative"),
        ("The meeting is on Tuesday", "neutral"), ("Orders doubled", "positive")]


def write(tmp_path, rows, header=("text", "label"), name="data.csv", encoding="utf-8"):
    path = tmp_path / name
    pd.DataFrame(rows, columns=list(header)).to_csv(path, index=False, encoding=encoding)
    return path


def test_a_good_file_gives_sentences_and_label_codes_in_the_order_given(tmp_path):
    frame, labels = read_labelled_csv(write(tmp_path, GOOD), labels=["negative", "neutral", "positive"])
    assert labels == ["negative", "neutral", "positive"]
    assert list(frame["label"]) == [2, 0, 1, 2] and frame["sentence"].iloc[0] == "Profit rose sharply"
    _, found = read_labelled_csv(write(tmp_path, GOOD))  # no names given: the sorted names found
    assert found == ["negative", "neutral", "positive"]
    renamed = write(tmp_path, GOOD, header=("headline", "sentiment"), name="other.csv")
    frame, _ = read_labelled_csv(renamed, text_column="headline", label_column="sentiment")
    assert len(frame) == 4


@pytest.mark.parametrize("rows, header, message", [
    (GOOD, ("sentence", "label"), r"no column 'text'; its columns are 'sentence', 'label': name the text and "
                                  r"label columns with --text-column and --label-column"),
    (GOOD + [("  ", "positive")], ("text", "label"), r"1 row\(s\) with an empty text \(lines 6\): fill them in"),
    (GOOD + [("Costs rose", "")], ("text", "label"), r"1 row\(s\) with an empty label \(lines 6\)"),
    (GOOD + [("Orders doubled", "positive")], ("text", "label"),
     r"1 sentence\(s\) appear more than once, on lines 5, 6: keep one row per sentence"),
    (GOOD + [("Orders doubled", "neutral")], ("text", "label"), r"more than once, with different labels"),
    (GOOD + [("Costs rose", "mixed")], ("text", "label"),
     r"label\(s\) 'mixed' \(lines 6\) are not among 'negative', 'neutral', 'positive'"),
    ([("Profit rose", "positive"), ("Orders doubled", "positive")], ("text", "label"),
     r"every row has the label 'positive': a classifier needs at least two"),
    ([], ("text", "label"), r"has a header and no rows"),
])
def test_each_bad_input_is_named_with_its_fix(tmp_path, rows, header, message):
    labels = ["negative", "neutral", "positive"] if "mixed" in str(rows) else None
    with pytest.raises(DataError, match=message):
        read_labelled_csv(write(tmp_path, rows, header=header), labels=labels)


def test_a_file_in_another_encoding_or_none_at_all_is_named(tmp_path):
    latin = write(tmp_path, GOOD + [("Umsatz stieg um 5 % in München", "positive")], encoding="latin-1")
    with pytest.raises(DataError, match=r"data.csv is not UTF-8 \(byte 0xfc at position \d+\): save it as UTF-8"):
        read_labelled_csv(latin)
    with pytest.raises(DataError, match="no file at"):
        read_labelled_csv(tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty.csv is empty"):
        read_labelled_csv(tmp_path / "empty.csv")
    bom = tmp_path / "bom.csv"
    bom.write_bytes("text,label\n".encode("utf-8-sig") + "Profit rose,positive\nSales fell,negative\n".encode())
    assert read_labelled_csv(bom)[1] == ["negative", "positive"]  # a byte-order mark is fine


def test_the_split_is_stratified_and_refuses_a_class_too_small_for_every_part(tmp_path):
    rows = [(f"good news {i}", "positive") for i in range(40)] + [(f"bad news {i}", "negative") for i in range(20)]
    frame, labels = read_labelled_csv(write(tmp_path, rows))
    splits = split_labelled(frame, labels, seed=42)
    assert [len(splits[name]) for name in ("train", "validation", "test")] == [42, 6, 12]
    for part in splits.values():  # every class in every part, in proportion
        assert set(part["label"]) == {0, 1}
    assert not set(splits["train"]["sentence"]) & set(splits["test"]["sentence"])
    assert fewest_rows_per_class() == 10
    small = rows + [(f"odd news {i}", "neutral") for i in range(4)]
    frame, labels = read_labelled_csv(write(tmp_path, small, name="small.csv"))
    with pytest.raises(DataError, match=r"class\(es\) 'neutral' \(4 rows\) have fewer than 10 rows"):
        split_labelled(frame, labels, seed=42)


def test_a_teacher_with_other_labels_is_refused():
    check_teacher_labels(["negative", "neutral", "positive"], ["negative", "neutral", "positive"])
    with pytest.raises(DataError, match=r"the teacher's labels \['negative', 'positive'\] differ from the data's"):
        check_teacher_labels(["negative", "positive"], ["negative", "neutral", "positive"])


def test_a_files_own_splits_are_kept_and_checked(tmp_path):
    parts = ["train"] * 8 + ["validation"] * 2 + ["test"] * 2
    rows = [f"sentence {i},{'ab'[i % 2]},{part}" for i, part in enumerate(parts)]
    path = tmp_path / "split.csv"
    path.write_text("text,label,split\n" + "\n".join(rows) + "\n")
    frame, labels = read_labelled_csv(path, split_column="split")
    splits = split_labelled(frame, labels, seed=0)
    assert {name: len(part) for name, part in splits.items()} == {"train": 8, "validation": 2, "test": 2}
    # a value that is not a split, and a split without one of the classes, are named with the fix
    path.write_text("text,label,split\ns1,a,train\ns2,b,dev\n")
    with pytest.raises(DataError, match=r"holds 'dev' \(lines 3\); each row's split must be one of train, "
                                         r"validation, test"):
        read_labelled_csv(path, split_column="split")
    path.write_text("text,label,split\ns1,a,train\ns2,b,train\ns3,a,validation\ns4,b,validation\ns5,a,test\n")
    frame, labels = read_labelled_csv(path, split_column="split")
    with pytest.raises(DataError, match=r"the test split has no row labelled 'b': every class must appear"):
        split_labelled(frame, labels, seed=0)
    with pytest.raises(DataError, match=r"no column 'part'.*--split-column"):
        read_labelled_csv(path, split_column="part")
