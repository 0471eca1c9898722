"""The sentences experiments train on beyond the split: budget subsets and the never-seen pool."""
import pandas as pd
import pytest

from distill_utils.data import load_phrasebank, load_splits
from distill_utils.profiles import resolve_config
from distill_utils.subsets import budget_subsets, unseen_pool


@pytest.fixture(scope="module")
def splits(phrasebank_dir):
    return load_splits(resolve_config("cpu"), data_dir=phrasebank_dir)


def test_budget_subsets_are_nested_stratified_and_inside_train(splits):
    train = splits["train"]
    subsets = budget_subsets(train, [0.3, 0.03, 0.1, 1.0], seed=42)
    assert list(subsets) == [0.03, 0.1, 0.3, 1.0]
    sizes = [len(s) for s in subsets.values()]
    assert sizes == sorted(sizes) and sizes[-1] == len(train)
    assert abs(sizes[0] - 0.03 * len(train)) <= 3
    previous = set()
    for subset in subsets.values():
        sentences = set(subset["sentence"])
        assert previous <= sentences <= set(train["sentence"])  # nested, inside train
        previous = sentences
        share = subset["label"].value_counts(normalize=True).sort_index()
        overall = train["label"].value_counts(normalize=True).sort_index()
        assert (share - overall).abs().max() < 0.03  # stratified
    held_out = set(splits["validation"]["sentence"]) | set(splits["test"]["sentence"])
    assert not held_out & set(subsets[1.0]["sentence"])
    assert budget_subsets(train, [0.1], seed=42)[0.1].equals(subsets[0.1])  # the seed fixes them
    with pytest.raises(ValueError, match="fractions must lie in"):
        budget_subsets(train, [0.0, 0.5])


def test_unseen_pool_holds_no_sentence_of_any_split(splits, phrasebank_dir):
    pool = unseen_pool(splits, data_dir=phrasebank_dir)
    every_split = set().union(*(set(part["sentence"]) for part in splits.values()))
    all_agree = set(load_phrasebank("all", data_dir=phrasebank_dir)["sentence"])
    assert not set(pool["sentence"]) & (every_split | all_agree)
    assert pool["sentence"].is_unique and set(pool["label"]) == {0, 1, 2}
    assert len(pool) == 2577  # the 50% file below full agreement, after cleaning
    assert isinstance(pool, pd.DataFrame)
