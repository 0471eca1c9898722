"""A reader's own labelled sentences: a CSV, or a dataset on the Hugging Face Hub, read and
checked before anything trains, then split.

Every problem the data can have is found here and named with its fix (`DataError`): a missing
column, an empty text or label, a repeated sentence, a label the teacher does not know, a class
too small to split, a file in another encoding, a Hub that cannot be reached. Nothing downstream
sees data that failed. A CSV and a Hub dataset go through the same checks (`check_labelled`).
"""
from __future__ import annotations

import io
import math
from pathlib import Path

import datasets
import pandas as pd
from sklearn.model_selection import train_test_split

from .hub import hub_endpoint, hub_reachable

# the shares of the rows held out, and so the fewest rows a class needs to appear in every split
VALIDATION_SHARE = 0.1
TEST_SHARE = 0.2
SHOWN_ROWS = 5  # at most this many offending rows are listed in a message
SPLITS = ("train", "validation", "test")  # the values a file's own split column may hold


class DataError(ValueError):
    """A problem with the reader's data, named with its fix; raised before any training."""


def _lines(index, first: int = 2) -> str:
    """Where offending rows are, a few of them: a file's line numbers (the header is line 1, so
    the first row is line 2), or a dataset's row numbers (``first`` 0)."""
    numbers = [int(i) + first for i in index]
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
    return check_labelled(frame, path.name, text_column=text_column, label_column=label_column,
                          split_column=split_column, labels=labels)


def load_hub_dataset(name: str, *, config: str | None = None, text_column: str = "text",
                     label_column: str = "label") -> tuple[pd.DataFrame, list[str]]:
    """A labelled dataset of the Hugging Face Hub (``datasets.load_dataset(name, config)``) as
    `read_labelled_csv` gives a CSV: the same columns, the same checks. A class-label column keeps
    the dataset's names in its order. The dataset's own splits are kept when it has all three of
    `SPLITS` (a ``split`` column); otherwise its labelled rows are pooled, for `split_labelled` to
    split. A split without labels (-1 throughout, as some benchmarks ship their test set) is left
    out. Raises `DataError` when the Hub cannot be reached or the dataset does not load."""
    if not hub_reachable():
        raise DataError(f"the Hub ({hub_endpoint()}) cannot be reached from here, so the dataset {name!r} "
                        "cannot be downloaded: where it can, save it as CSV (`load_dataset(...)[split]"
                        ".to_csv(...)`) and give the CSV instead")
    try:
        loaded = datasets.load_dataset(name, config)
    except Exception as error:  # the loader's many failures (no such repo, a config needed) read alike
        raise DataError(f"the dataset {name!r}{f' ({config})' if config else ''} did not load "
                        f"({type(error).__name__}: {str(error)[:300]}): check its name on the Hub, and "
                        "give --dataset-config when it has several configurations") from None
    first = next(iter(loaded.values()))
    missing = [column for column in (text_column, label_column) if column not in first.column_names]
    if missing:
        raise DataError(f"the dataset {name!r} has no column {' or '.join(map(repr, missing))}; its columns "
                        f"are {', '.join(map(repr, first.column_names))}: name the text and label columns "
                        "with --text-column and --label-column")
    feature = first.features[label_column]
    names = list(feature.names) if isinstance(feature, datasets.ClassLabel) else None
    parts = {}
    for split, rows in loaded.items():
        frame = rows.select_columns([text_column, label_column]).to_pandas()
        if names is not None:
            if (frame[label_column] == -1).all():
                continue  # an unlabelled split: nothing to train or score on
            frame[label_column] = frame[label_column].map(lambda code: names[code] if code >= 0 else "")
        parts[split] = frame.astype(str).assign(split=split)
    own_splits = set(SPLITS) <= set(parts)
    frame = pd.concat([parts[s] for s in (SPLITS if own_splits else parts)], ignore_index=True)
    return check_labelled(frame, repr(name), text_column=text_column, label_column=label_column,
                          split_column="split" if own_splits else None, labels=names, first_row=0)


def check_labelled(frame: pd.DataFrame, source: str, *, text_column: str, label_column: str,
                   split_column: str | None = None, labels: list[str] | None = None,
                   first_row: int = 2) -> tuple[pd.DataFrame, list[str]]:
    """The checks every reader's data passes, on its rows as strings (``source`` names it in
    messages; ``first_row``: what the first row is called, line 2 of a file, row 0 of a dataset)."""
    where = "lines" if first_row else "rows"
    missing = [name for name in (text_column, label_column, split_column) if name and name not in frame.columns]
    if missing:
        raise DataError(f"{source} has no column {' or '.join(map(repr, missing))}; its columns are "
                        f"{', '.join(map(repr, frame.columns))}: name the text and label columns with "
                        "--text-column and --label-column" + (" (and the split column with --split-column)"
                                                              if split_column else ""))
    text = frame[text_column].str.strip()
    label = frame[label_column].str.strip()
    if frame.empty:
        raise DataError(f"{source} has a header and no rows: add labelled sentences")
    for what, column in (("text", text), ("label", label)):
        empty = column.index[column == ""]
        if len(empty):
            raise DataError(f"{source}: {len(empty)} row(s) with an empty {what} ({where} "
                            f"{_lines(empty, first_row)}): fill them in or delete them")
    repeated = text[text.duplicated(keep=False)]
    if len(repeated):
        conflicting = label[repeated.index].groupby(repeated).nunique()
        kind = ("with different labels, " if (conflicting > 1).any() else "")
        raise DataError(f"{source}: {repeated.nunique()} sentence(s) appear more than once, {kind}on {where} "
                        f"{_lines(repeated.index, first_row)}: keep one row per sentence (a repeated sentence "
                        "could land in both the training and the test split)")
    found = sorted(label.unique())
    names = list(labels) if labels is not None else found
    unknown = sorted(set(found) - set(names))
    if unknown:
        rows = label.index[label.isin(unknown)]
        raise DataError(f"{source}: label(s) {', '.join(map(repr, unknown))} ({where} {_lines(rows, first_row)}) "
                        f"are not among {', '.join(map(repr, names))}: correct them, or use a teacher trained on "
                        "these labels")
    if len(set(found)) < 2:
        raise DataError(f"{source}: every row has the label {found[0]!r}: a classifier needs at least two")
    code = {name: i for i, name in enumerate(names)}
    rows = pd.DataFrame({"sentence": text.to_numpy(), "label": label.map(code).to_numpy()})
    if split_column:
        split = frame[split_column].str.strip()
        strangers = split.index[~split.isin(SPLITS)]
        if len(strangers):
            raise DataError(f"{source}: the {split_column!r} column holds "
                            f"{', '.join(map(repr, sorted(set(split[strangers]))))} ({where} "
                            f"{_lines(strangers, first_row)}); each row's split must be one of {', '.join(SPLITS)}")
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
