"""A reader's own labelled sentences: a CSV read and checked before anything trains, then split.

Every problem a file can have is found here and named with its fix (`DataError`): a missing
column, an empty text or label, a repeated sentence, a label the teacher does not know, a class
too small to split, a file in another encoding. Nothing downstream sees a file that failed.
"""
from __future__ import annotations

import io
import math
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

# the shares of the rows held out, and so the fewest rows a class needs to appear in every split
VALIDATION_SHARE = 0.1
TEST_SHARE = 0.2
SHOWN_ROWS = 5  # at most this many offending rows are listed in a message
SPLITS = ("train", "validation", "test")  # the values a file's own split column may hold


class DataError(ValueError):
    """A problem with the reader's data, named with its fix; raised before any training."""


def _lines(index) -> str:
    """File line numbers of data rows (the header is line 1), a few of them."""
    numbers = [int(i) + 2 for i in index]
    more = f" and {len(numbers) - SHOWN_ROWS} more" if len(numbers) > SHOWN_ROWS else ""
    return ", ".join(map(str, numbers[:SHOWN_ROWS])) + more


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")  # a byte-order mark, as some spreadsheets write, is fine
    except UnicodeDecodeError as error:
        raise DataError(
            f"{path.name} is not UTF-8 (byte 0x{raw[error.start]:02x} at position {error.start}): save it "
            f"as UTF-8, e.g. `iconv -f latin1 -t utf-8 {path.name} > {path.stem}-utf8.csv`") from None


def read_labelled_csv(path: str | Path, *, text_column: str = "text", label_column: str = "label",
                      split_column: str | None = None,
                      labels: list[str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """The rows of a CSV as ``sentence`` and integer ``label`` columns, and the label names in
    order; with ``split_column``, a ``split`` column too (`SPLITS`: the file's own splits, which
    `split_labelled` then keeps). ``labels``: the names the label column may hold (a teacher's, in
    its order); None takes the sorted names found. Raises `DataError`, naming the rows and the fix,
    for any problem."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no file at {path}: give the path of a CSV with a header row")
    try:
        frame = pd.read_csv(io.StringIO(_decode(path)), dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path.name} is empty: give a CSV with a header row and labelled sentences") from None
    except pd.errors.ParserError as error:
        raise DataError(f"{path.name} is not a readable CSV ({error}): check its quoting and separators") from None
    missing = [name for name in (text_column, label_column, split_column) if name and name not in frame.columns]
    if missing:
        raise DataError(f"{path.name} has no column {' or '.join(map(repr, missing))}; its columns are "
                        f"{', '.join(map(repr, frame.columns))}: name the text and label columns with "
                        "--text-column and --label-column" + (" (and the split column with --split-column)"
                                                              if split_column else ""))
    text = frame[text_column].str.strip()
    label = frame[label_column].str.strip()
    if frame.empty:
        raise DataError(f"{path.name} has a header and no rows: add labelled sentences")
    for what, column in (("text", text), ("label", label)):
        empty = column.index[column == ""]
        if len(empty):
            raise DataError(f"{path.name}: {len(empty)} row(s) with an empty {what} (lines {_lines(empty)}): "
                            f"fill them in or delete them")
    repeated = text[text.duplicated(keep=False)]
    if len(repeated):
        conflicting = label[repeated.index].groupby(repeated).nunique()
        kind = ("with different labels, " if (conflicting > 1).any() else "")
        raise DataError(f"{path.name}: {repeated.nunique()} sentence(s) appear more than once, {kind}on lines "
                        f"{_lines(repeated.index)}: keep one row per sentence (a repeated sentence could "
                        "land in both the training and the test split)")
    found = sorted(label.unique())
    names = list(labels) if labels is not None else found
    unknown = sorted(set(found) - set(names))
    if unknown:
        rows = label.index[label.isin(unknown)]
        raise DataError(f"{path.name}: label(s) {', '.join(map(repr, unknown))} (lines {_lines(rows)}) are not "
                        f"among {', '.join(map(repr, names))}: correct them, or use a teacher trained on these "
                        "labels")
    if len(set(found)) < 2:
        raise DataError(f"{path.name}: every row has the label {found[0]!r}: a classifier needs at least two")
    code = {name: i for i, name in enumerate(names)}
    rows = pd.DataFrame({"sentence": text.to_numpy(), "label": label.map(code).to_numpy()})
    if split_column:
        split = frame[split_column].str.strip()
        strangers = split.index[~split.isin(SPLITS)]
        if len(strangers):
            raise DataError(f"{path.name}: the {split_column!r} column holds "
                            f"{', '.join(map(repr, sorted(set(split[strangers]))))} (lines {_lines(strangers)}); "
                            f"each row's split must be one of {', '.join(SPLITS)}")
        rows["split"] = split.to_numpy()
    return rows, names


def fewest_rows_per_class(validation: float = VALIDATION_SHARE, test: float = TEST_SHARE) -> int:
    """The rows a class needs so that a stratified split puts at least one in every part."""
    return math.ceil(1 / min(validation, test, 1 - validation - test))


def split_labelled(frame: pd.DataFrame, labels: list[str], *, seed: int, validation: float = VALIDATION_SHARE,
                   test: float = TEST_SHARE) -> dict[str, pd.DataFrame]:
    """Training, validation and test splits of `read_labelled_csv`'s rows: the file's own when it
    has a ``split`` column (every class must appear in each), else stratified at random; a class
    too small to appear in every split is refused, named with its count."""
    if "split" in frame:
        parts = {name: frame[frame["split"] == name].drop(columns="split").reset_index(drop=True)
                 for name in SPLITS}
        for name, part in parts.items():
            absent = [labels[i] for i in range(len(labels)) if not (part["label"] == i).any()]
            if absent:
                raise DataError(f"the {name} split has no row labelled {', '.join(map(repr, absent))}: every "
                                "class must appear in every split (move some rows, or leave the split to "
                                "the command by dropping --split-column)")
        return parts
    counts = frame["label"].value_counts()
    fewest = fewest_rows_per_class(validation, test)
    small = [f"{labels[int(i)]!r} ({int(n)} rows)" for i, n in counts.items() if n < fewest]
    if small:
        raise DataError(f"class(es) {', '.join(small)} have fewer than {fewest} rows, too few to appear in the "
                        "training, validation and test splits alike: add rows of each, or drop the class")
    rest, test_part = train_test_split(frame, test_size=test, stratify=frame["label"], random_state=seed)
    train, validation_part = train_test_split(rest, test_size=validation / (1 - test), stratify=rest["label"],
                                              random_state=seed)
    return {name: part.reset_index(drop=True)
            for name, part in (("train", train), ("validation", validation_part), ("test", test_part))}


def check_teacher_labels(teacher_labels: list[str], labels: list[str]) -> None:
    """Refuse a teacher whose classes differ from the data's: its logits would be read against the
    wrong names."""
    if list(teacher_labels) != list(labels):
        raise DataError(f"the teacher's labels {list(teacher_labels)} differ from the data's {list(labels)}: "
                        "fine-tune a teacher on this data, or relabel the data with the teacher's names "
                        "(in its order)")
