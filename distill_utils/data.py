"""Financial PhraseBank v1.0: loading, cleaning and deterministic splits.

The corpus (Malo et al., 2014) ships as four nested files, one per annotator-agreement level.
Each line is ``sentence@label`` in latin-1 with CRLF endings. The data is licensed CC BY-NC-SA
3.0, so this project never copies it: it reads a local copy (``data_dir`` or ``PHRASEBANK_DIR``)
or downloads the original zip from the Hugging Face Hub and parses it with the code below.
"""
from __future__ import annotations

import hashlib
import logging
import os
import zipfile
from pathlib import Path

import pandas as pd
from huggingface_hub import hf_hub_download, try_to_load_from_cache
from sklearn.model_selection import train_test_split

from ._io import read_json, sha256_file, write_json
from .hub import hub_endpoint, hub_reachable
from .parameters import read_parameter

logger = logging.getLogger(__name__)

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")  # ids 0, 1, 2 as on the Hub
LABEL_TO_ID: dict[str, int] = {name: i for i, name in enumerate(LABELS)}
AGREEMENT_FILES: dict[str, str] = {
    "50": "Sentences_50Agree.txt",
    "66": "Sentences_66Agree.txt",
    "75": "Sentences_75Agree.txt",
    "all": "Sentences_AllAgree.txt",
}
HUB_REPO = "takala/financial_phrasebank"
HUB_FILENAME = "data/FinancialPhraseBank-v1.0.zip"
HUB_SHA256 = "0e1a06c4900fdae46091d031068601e3773ba067c7cecb5b0da1dcba5ce989a6"
ZIP_FOLDER = "FinancialPhraseBank-v1.0"


class PhraseBankFormatError(ValueError):
    """A PhraseBank file has a line this parser cannot trust (no '@', unknown label, ...)."""


class PhraseBankNotFoundError(FileNotFoundError):
    """No source (argument, environment variable, Hub) could provide the data."""


def check_agreement(agreement: str | int) -> str:
    """The agreement level's key ("50", "66", "75" or "all") from 75, "75", "75Agree" or "All"."""
    key = str(agreement).lower().removesuffix("agree")
    if key not in AGREEMENT_FILES:
        raise ValueError(
            f"unknown agreement level {agreement!r}; valid levels: {', '.join(AGREEMENT_FILES)}"
        )
    return key


def parse_phrasebank(raw: bytes, source: str = "<bytes>") -> pd.DataFrame:
    """Parse one agreement file's bytes into (sentence, label) rows, in file order.

    Decodes the release's latin-1, or a copy re-saved as UTF-8 or UTF-16 (see `decode_phrasebank`),
    accepts CRLF, LF or CR-only endings and splits each line on its last '@'. A line without '@',
    with an empty sentence or with a label other than negative/neutral/positive raises
    PhraseBankFormatError naming the source and line number.
    """
    text, encoding = decode_phrasebank(raw, source)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final line ending
    sentences: list[str] = []
    labels: list[int] = []
    for number, line in enumerate(lines, start=1):
        if "@" not in line:
            raise PhraseBankFormatError(f"{source}, line {number}: no '@' separator in {line[:60]!r}")
        sentence, label = line.rsplit("@", 1)
        label = label.strip().lower()
        if label not in LABEL_TO_ID:
            raise PhraseBankFormatError(
                f"{source}, line {number}: unknown label {label!r}; expected one of {', '.join(LABELS)}"
            )
        if not sentence.strip():
            raise PhraseBankFormatError(f"{source}, line {number}: empty sentence")
        sentences.append(sentence)
        labels.append(LABEL_TO_ID[label])
    if not sentences:
        raise PhraseBankFormatError(f"{source}: no sentences")
    df = pd.DataFrame({"sentence": sentences, "label": labels})
    df.attrs["encoding"] = encoding
    return df


def decode_phrasebank(raw: bytes, source: str = "<bytes>") -> tuple[str, str]:
    """(text, encoding) of an agreement file. The release is latin-1; a copy re-saved by an editor
    may be UTF-8 (with or without a byte-order mark) or UTF-16 (with one). UTF-8 is recognised by
    decoding strictly: the release's accented latin-1 bytes never form valid UTF-8."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), "utf-16"
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8"), "utf-8 (with byte-order mark)"
    if raw[:200].count(b"\0") > 10:
        raise PhraseBankFormatError(
            f"{source}: NUL bytes between the characters: UTF-16 without a byte-order mark? Save it "
            "as latin-1 or UTF-8, or use the original release")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"
    return text, "utf-8" if not text.isascii() else "ascii"


def clean_phrasebank(df: pd.DataFrame) -> pd.DataFrame:
    """Drop exact duplicate rows and every row of a sentence that carries conflicting labels.

    Duplicates would leak between train and test; a sentence annotated both neutral and positive
    has no single right answer. The counts are stored in ``df.attrs["dropped"]`` and logged.
    """
    deduped = df.drop_duplicates(subset=["sentence", "label"], keep="first")
    n_duplicates = len(df) - len(deduped)
    labels_per_sentence = deduped.groupby("sentence")["label"].nunique()
    conflicting = set(labels_per_sentence[labels_per_sentence > 1].index)
    cleaned = deduped[~deduped["sentence"].isin(conflicting)].reset_index(drop=True)
    dropped = {
        "duplicate_rows": int(n_duplicates),
        "conflicting_sentences": len(conflicting),
        "conflicting_rows": int(len(deduped) - len(cleaned)),
    }
    cleaned.attrs["dropped"] = dropped
    logger.info(
        "PhraseBank: dropped %d exact duplicate rows and %d rows of %d sentences with conflicting labels",
        dropped["duplicate_rows"], dropped["conflicting_rows"], dropped["conflicting_sentences"],
    )
    return cleaned


def _read_from_dir(directory: Path, filename: str) -> tuple[bytes, str]:
    for candidate in (directory / filename, directory / ZIP_FOLDER / filename):
        if candidate.is_file():
            return candidate.read_bytes(), filename
    if not directory.is_dir():
        raise FileNotFoundError(f"directory {directory} does not exist")
    raise FileNotFoundError(f"{filename} not found in {directory}")


def _read_from_hub(filename: str) -> tuple[bytes, str]:

    cached = try_to_load_from_cache(HUB_REPO, HUB_FILENAME, repo_type="dataset")
    if not isinstance(cached, str) and not hub_reachable():
        raise ConnectionError(f"{hub_endpoint()} is unreachable and the zip is not in the local Hub cache")
    # Pass the endpoint explicitly so HF_ENDPOINT set after import (mirrors, tests) is honoured.
    path = hf_hub_download(
        HUB_REPO, HUB_FILENAME, repo_type="dataset", endpoint=os.environ.get("HF_ENDPOINT")
    )
    digest = sha256_file(path)
    if digest != HUB_SHA256:
        raise ValueError(
            f"checksum mismatch for {HUB_REPO}/{HUB_FILENAME}: got sha256 {digest}, "
            f"expected {HUB_SHA256}; the download is corrupt or the file changed upstream"
        )
    with zipfile.ZipFile(path) as archive:
        member = f"{ZIP_FOLDER}/{filename}"
        try:
            return archive.read(member), f"{HUB_FILENAME}:{member}"
        except KeyError:
            raise FileNotFoundError(f"{member} missing from the downloaded zip") from None


def load_phrasebank(agreement: str = "all", data_dir: str | Path | None = None) -> pd.DataFrame:
    """Load one agreement level as a DataFrame with columns ``sentence`` (str) and ``label`` (int).

    Labels follow the Hub: 0 negative, 1 neutral, 2 positive. Sources are tried in order: the
    ``data_dir`` argument, the ``PHRASEBANK_DIR`` environment variable, the Hub dataset
    ``takala/financial_phrasebank`` (original zip, sha256-checked). If none works, the error lists
    every source and why it failed. Duplicates and conflicting labels are dropped (see
    `clean_phrasebank`); ``df.attrs`` records the source and the drop counts.
    """
    key = check_agreement(agreement)
    filename = AGREEMENT_FILES[key]
    sources: list[tuple[str, object]] = []
    if data_dir is not None:  # given: used, or refused; never passed over for another source
        folder = Path(read_parameter("data_dir", data_dir))
        return _phrasebank_frame(*_read_from_dir(folder, filename), key, "data_dir argument", filename)
    if os.environ.get("PHRASEBANK_DIR"):
        folder = Path(os.environ["PHRASEBANK_DIR"])
        if not folder.is_absolute() and not folder.is_dir():
            raise PhraseBankNotFoundError(
                f"PHRASEBANK_DIR={folder} is a relative path, read from the folder this runs in "
                f"({Path.cwd().name}/), where it does not exist: set it to an absolute path, e.g. "
                f'export PHRASEBANK_DIR="$(realpath {folder})", or run through the pipeline or make, '
                "which read it from where the command was typed")
        sources.append(("PHRASEBANK_DIR", folder))
    sources.append((f"Hugging Face Hub ({HUB_REPO})", None))

    failures: list[str] = []
    for label, location in sources:
        try:
            if location is None:
                raw, origin = _read_from_hub(filename)
            else:
                raw, origin = _read_from_dir(location, filename)
        except PhraseBankFormatError:
            raise
        except Exception as error:  # noqa: BLE001 - every failure is reported below
            failures.append(f"- {label}: {type(error).__name__}: {error}")
            continue
        return _phrasebank_frame(raw, origin, key, label, filename)
    raise PhraseBankNotFoundError(
        f"could not load Financial PhraseBank ({filename}); sources tried:\n" + "\n".join(failures)
        + "\nSet PHRASEBANK_DIR to a folder holding the Sentences_*Agree.txt files, or allow Hub access."
    )


def _phrasebank_frame(raw: bytes, origin: str, key: str, source: str, filename: str) -> pd.DataFrame:
    """The parsed, cleaned sentences of one file, with where they came from in ``attrs``."""
    parsed = parse_phrasebank(raw, source=origin)
    df = clean_phrasebank(parsed)
    df.attrs.update(agreement=key, source=source, file=filename, raw_rows=len(parsed),
                    encoding=parsed.attrs["encoding"])
    return df


def split_phrasebank(
    df: pd.DataFrame, seed: int = 42, test_size: float = 0.15, val_size: float = 0.10
) -> dict[str, pd.DataFrame]:
    """Stratified train/validation/test split, the same on every machine and in every profile.

    Rows are first sorted by sentence, so the split depends only on the set of sentences, the
    seed and the sizes, never on file order. ``test_size`` and ``val_size`` are fractions of the
    whole set (0.15 test matches the reference's 340-sentence test set).
    """
    missing = {"sentence", "label"} - set(df.columns)
    if missing:
        raise ValueError(f"split_phrasebank needs columns sentence and label; missing {sorted(missing)}")
    for name, size in (("test_size", test_size), ("val_size", val_size)):
        if not 0 < size < 1:
            raise ValueError(f"{name} must be a fraction in (0, 1), got {size}")
    if test_size + val_size >= 1:
        raise ValueError(f"test_size + val_size must be < 1, got {test_size + val_size}")
    if df["sentence"].duplicated().any():
        raise ValueError("duplicate sentences would leak across splits: clean the data first")

    ordered = df.sort_values("sentence", kind="stable").reset_index(drop=True)
    rest, test = train_test_split(
        ordered, test_size=test_size, stratify=ordered["label"], random_state=seed
    )
    train, val = train_test_split(
        rest, test_size=val_size / (1 - test_size), stratify=rest["label"], random_state=seed
    )
    return {
        name: part.reset_index(drop=True)
        for name, part in (("train", train), ("validation", val), ("test", test))
    }


def subsample(split: pd.DataFrame, n: int | None, seed: int = 0) -> pd.DataFrame:
    """A stratified subset of at most ``n`` rows of one split (the smoke profile's small runs)."""
    if n is None or n >= len(split):
        return split

    part, _ = train_test_split(split, train_size=n, stratify=split["label"], random_state=seed)
    return part.reset_index(drop=True)


def sentences_fingerprint(sentences: list[str] | pd.Series) -> str:
    """Order-sensitive sha256 of a list of sentences: part of every teacher-logit cache key."""
    digest = hashlib.sha256()
    for sentence in sentences:
        digest.update(sentence.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def load_splits(cfg, data_dir: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """Load, clean and split the agreement level a profile names (smoke: subsample each split)."""
    df = load_phrasebank(cfg.agreement, data_dir=data_dir)
    splits = split_phrasebank(df, seed=cfg.split_seed, test_size=cfg.test_size, val_size=cfg.val_size)
    splits = {name: subsample(part, cfg.train_limit, seed=cfg.split_seed) for name, part in splits.items()}
    for part in splits.values():
        part.attrs.update(df.attrs)
    return splits


def save_splits(splits: dict[str, pd.DataFrame], path: str | Path, settings: dict | None = None) -> Path:
    """Write the splits (sentences and labels) so later notebooks use exactly the same rows, with
    the settings that made them (agreement level, split seed and sizes): every later record names
    the agreement it was really trained on."""
    return write_json(path, {"settings": settings or {},
                             "splits": {name: part[["sentence", "label"]].to_dict(orient="list")
                                        for name, part in splits.items()}})


def split_settings_of(cfg) -> dict:
    """What decides the splits (`load_splits`): recorded beside them by `save_splits`."""
    return {"agreement": cfg.agreement, "split_seed": cfg.split_seed, "test_size": cfg.test_size,
            "val_size": cfg.val_size, "train_limit": cfg.train_limit}


def read_splits(path: str | Path) -> dict[str, pd.DataFrame]:
    """The splits chapter 1 wrote; each frame's ``attrs["split_settings"]`` holds their settings."""
    data = read_json(path)
    settings, parts = (data["settings"], data["splits"]) if "splits" in data else ({}, data)
    splits = {name: pd.DataFrame(columns) for name, columns in parts.items()}
    for part in splits.values():
        part.attrs["split_settings"] = dict(settings)
    return splits


def split_agreement(splits: dict[str, pd.DataFrame], default: str = "all") -> str:
    """The agreement level the splits were made from (recorded by chapter 1)."""
    return splits["train"].attrs.get("split_settings", {}).get("agreement", default)
