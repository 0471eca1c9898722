"""Loading, cleaning and splitting Financial PhraseBank (counts from the data's SOURCE.md)."""
import hashlib
import io
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest

from distill_utils import data

# SOURCE.md: total lines, exact duplicate rows, conflicting sentences, and class counts.
EXPECTED = {
    "50": dict(raw=4846, dup=6, conflict_sentences=2, kept=4846 - 6 - 4, counts=[604, 2879 - 8, 1363 - 2]),
    "66": dict(raw=4217, dup=6, conflict_sentences=0, kept=4211, counts=[514, 2535 - 6, 1168]),
    "75": dict(raw=3453, dup=5, conflict_sentences=0, kept=3448, counts=[420, 2146 - 5, 887]),
    "all": dict(raw=2264, dup=5, conflict_sentences=0, kept=2259, counts=[303, 1391 - 5, 570]),
}


@pytest.mark.parametrize("level", list(EXPECTED))
def test_counts_match_source_md(phrasebank_dir, level):
    df = data.load_phrasebank(level, data_dir=phrasebank_dir)
    want = EXPECTED[level]
    assert df.attrs["raw_rows"] == want["raw"]
    assert df.attrs["dropped"]["duplicate_rows"] == want["dup"]
    assert df.attrs["dropped"]["conflicting_sentences"] == want["conflict_sentences"]
    assert len(df) == want["kept"]
    assert df["label"].value_counts().sort_index().tolist() == want["counts"]
    assert list(df.columns) == ["sentence", "label"]
    assert df["sentence"].is_unique


def test_50agree_conflicts_are_the_documented_two(phrasebank_dir):
    df = data.load_phrasebank("50", data_dir=phrasebank_dir)
    assert not df["sentence"].str.startswith("TELECOMWORLDWIRE-7 April 2006-TJ Group Plc sells stake").any()
    assert not df["sentence"].str.startswith("The Group 's business is balanced by its broad portfolio").any()


def test_levels_are_nested_and_latin1_mojibake_kept(phrasebank_dir):
    levels = {k: data.load_phrasebank(k, data_dir=phrasebank_dir) for k in data.AGREEMENT_FILES}
    pairs = {k: set(zip(df["sentence"], df["label"])) for k, df in levels.items()}
    assert pairs["all"] <= pairs["75"] <= pairs["66"]
    # 50Agree's two conflicting sentences are dropped there, but kept (positive) in 66Agree.
    only_66 = pairs["66"] - pairs["50"]
    assert len(only_66) == 2 and {label for _, label in only_66} == {2}
    assert levels["50"]["sentence"].str.contains("+ñ", regex=False).any()  # as released; not "fixed"


def test_environment_variable_is_a_source(phrasebank_dir, monkeypatch):
    monkeypatch.setenv("PHRASEBANK_DIR", str(phrasebank_dir))
    df = data.load_phrasebank("all")
    assert df.attrs["source"] == "PHRASEBANK_DIR" and len(df) == 2259


def test_unknown_agreement_lists_valid_levels():
    with pytest.raises(ValueError, match=r"unknown agreement level '90'.*50, 66, 75, all"):
        data.load_phrasebank("90")


def _write(tmp_path, lines: list[bytes], name="Sentences_AllAgree.txt", eol=b"\r\n"):
    (tmp_path / name).write_bytes(eol.join(lines) + eol)
    return tmp_path


def test_malformed_line_names_file_and_line(tmp_path):
    folder = _write(tmp_path, [b"Profit rose .@positive", b"no separator here"])
    with pytest.raises(data.PhraseBankFormatError, match=r"line 2: no '@' separator"):
        data.load_phrasebank("all", data_dir=folder)


def test_unknown_label_names_it(tmp_path):
    folder = _write(tmp_path, [b"Profit rose .@positive", b"Sales fell .@bearish"])
    with pytest.raises(data.PhraseBankFormatError, match=r"line 2: unknown label 'bearish'"):
        data.load_phrasebank("all", data_dir=folder)


def test_empty_sentence_is_an_error(tmp_path):
    folder = _write(tmp_path, [b"@neutral"])
    with pytest.raises(data.PhraseBankFormatError, match="line 1: empty sentence"):
        data.load_phrasebank("all", data_dir=folder)


def test_split_on_last_at_sign_and_lf_endings(tmp_path):
    folder = _write(tmp_path, [b"Contact ir@company.fi for details .@neutral", b"Caf\xe9 sales rose .@positive"],
                    eol=b"\n")
    df = data.load_phrasebank("all", data_dir=folder)
    assert df["sentence"].tolist() == ["Contact ir@company.fi for details .", "Café sales rose ."]
    assert df["label"].tolist() == [1, 2]


def test_duplicates_and_conflicts_are_dropped_and_counted(tmp_path):
    folder = _write(tmp_path, [
        b"A .@neutral", b"A .@neutral",          # exact duplicate: one copy kept
        b"B .@neutral", b"B .@positive",         # conflicting labels: both dropped
        b"C .@negative",
    ])
    df = data.load_phrasebank("all", data_dir=folder)
    assert df["sentence"].tolist() == ["A .", "C ."]
    assert df.attrs["dropped"] == {"duplicate_rows": 1, "conflicting_sentences": 1, "conflicting_rows": 2}


def test_split_is_deterministic_stratified_and_order_independent(phrasebank_dir):
    df = data.load_phrasebank("all", data_dir=phrasebank_dir)
    first = data.split_phrasebank(df, seed=42)
    shuffled = data.split_phrasebank(df.sample(frac=1.0, random_state=7), seed=42)
    for name in first:
        assert first[name]["sentence"].tolist() == shuffled[name]["sentence"].tolist()
    sets = {k: set(v["sentence"]) for k, v in first.items()}
    assert not (sets["train"] & sets["test"]) and not (sets["train"] & sets["validation"])
    assert not (sets["validation"] & sets["test"])
    assert sum(len(s) for s in sets.values()) == len(df)
    assert len(first["test"]) == 339  # 15% of 2,259
    overall = df["label"].value_counts(normalize=True).sort_index()
    for part in first.values():
        share = part["label"].value_counts(normalize=True).sort_index()
        assert (share - overall).abs().max() < 0.01
    other_seed = data.split_phrasebank(df, seed=1)
    assert set(other_seed["test"]["sentence"]) != sets["test"]


def test_smoke_subsample_keeps_split_membership(phrasebank_dir):
    from distill_utils.profiles import resolve_config

    full = data.load_splits(resolve_config("cpu"), data_dir=phrasebank_dir)
    small = data.load_splits(resolve_config("smoke"), data_dir=phrasebank_dir)
    for name in full:
        assert len(small[name]) <= 300
        assert set(small[name]["sentence"]) <= set(full[name]["sentence"])


@pytest.mark.parametrize("kwargs, message", [
    ({"test_size": 0}, "test_size must be a fraction"),
    ({"val_size": 1.2}, "val_size must be a fraction"),
    ({"test_size": 0.6, "val_size": 0.5}, "must be < 1"),
])
def test_split_rejects_bad_sizes(kwargs, message):
    df = pd.DataFrame({"sentence": [f"s{i}" for i in range(30)], "label": [0, 1, 2] * 10})
    with pytest.raises(ValueError, match=message):
        data.split_phrasebank(df, **kwargs)


def test_split_rejects_duplicate_sentences_and_missing_columns():
    with pytest.raises(ValueError, match="duplicate sentences"):
        data.split_phrasebank(pd.DataFrame({"sentence": ["a", "a", "b"], "label": [0, 0, 1]}))
    with pytest.raises(ValueError, match=r"missing \['label'\]"):
        data.split_phrasebank(pd.DataFrame({"sentence": ["a"]}))


# --- the real Hub download code, against a Hub-compatible server on loopback -----------------

def _make_zip(phrasebank_dir) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{data.ZIP_FOLDER}/Sentences_AllAgree.txt",
                         (phrasebank_dir / "Sentences_AllAgree.txt").read_bytes())
    return buffer.getvalue()


@pytest.fixture
def fake_hub(monkeypatch):
    """Serve one file under the Hub's resolve URL; yields a setter for its bytes."""
    served = {"body": b""}
    path = f"/datasets/{data.HUB_REPO}/resolve/main/{data.HUB_FILENAME}"
    requests = []

    class Handler(BaseHTTPRequestHandler):
        def _headers(self):
            if self.path != path:
                self.send_response(404)
                self.end_headers()
                return False
            self.send_response(200)
            self.send_header("Content-Length", str(len(served["body"])))
            self.send_header("ETag", '"test-etag-%d"' % len(served["body"]))
            self.send_header("X-Repo-Commit", "0" * 40)
            self.end_headers()
            return True

        def do_HEAD(self):
            requests.append(("HEAD", self.path))
            self._headers()

        def do_GET(self):
            requests.append(("GET", self.path))
            if self._headers():
                self.wfile.write(served["body"])

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    try:
        yield served, requests
    finally:
        server.shutdown()
        server.server_close()


def test_hub_download_parses_the_zip(phrasebank_dir, offline_env, fake_hub, monkeypatch):
    served, requests = fake_hub
    served["body"] = _make_zip(phrasebank_dir)
    monkeypatch.setattr(data, "HUB_SHA256", hashlib.sha256(served["body"]).hexdigest())
    df = data.load_phrasebank("all")
    assert df.attrs["source"].startswith("Hugging Face Hub") and len(df) == 2259
    assert any(method == "GET" for method, _ in requests)


def test_hub_checksum_mismatch_is_reported_with_every_source(phrasebank_dir, offline_env, fake_hub, tmp_path):
    served, _ = fake_hub
    served["body"] = _make_zip(phrasebank_dir)  # a valid zip, but not the published one
    with pytest.raises(data.PhraseBankNotFoundError) as info:
        data.load_phrasebank("all")
    message = str(info.value)
    assert "checksum mismatch" in message and data.HUB_SHA256 in message


def test_a_data_dir_that_does_not_exist_is_refused_not_passed_over(phrasebank_dir, monkeypatch, tmp_path):
    """Issue 35: `-p data_dir <a folder that does not exist>` fell through to PHRASEBANK_DIR without
    a word; a folder the reader named is used or refused."""
    monkeypatch.setenv("PHRASEBANK_DIR", str(phrasebank_dir))  # a source that would work
    with pytest.raises(ValueError, match=r"parameter data_dir: the folder '.*nowhere' does not exist"):
        data.load_phrasebank("all", data_dir=tmp_path / "nowhere")


def test_a_relative_phrasebank_dir_that_is_not_here_says_where_it_was_read_from(monkeypatch, tmp_path):
    """Issue 35: the README's relative `export PHRASEBANK_DIR=../shared/...` failed in the kernel,
    which runs in notebooks/, with "directory ... does not exist" and no fix."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PHRASEBANK_DIR", "../shared/data/financial_phrasebank")
    with pytest.raises(data.PhraseBankNotFoundError, match=r"relative path.*set it to an absolute path"):
        data.load_phrasebank("all")


def test_no_source_lists_each_failure(offline_env, fake_hub, monkeypatch, tmp_path):
    monkeypatch.setenv("PHRASEBANK_DIR", str(tmp_path))  # exists, but holds no data
    with pytest.raises(data.PhraseBankNotFoundError) as info:
        data.load_phrasebank("all")
    message = str(info.value)
    assert "PHRASEBANK_DIR: FileNotFoundError: Sentences_AllAgree.txt not found" in message
    assert "Hugging Face Hub" in message  # the fake Hub answered an empty file: a bad zip


@pytest.mark.parametrize("encode", [
    lambda text: text.encode("latin-1"),                        # the release
    lambda text: text.encode("utf-8"),                          # re-saved as UTF-8
    lambda text: b"\xef\xbb\xbf" + text.encode("utf-8"),        # UTF-8 with a byte-order mark
    lambda text: text.encode("utf-16"),                         # UTF-16 with a byte-order mark
    lambda text: text.replace("\r\n", "\r").encode("latin-1"),  # CR-only line endings
], ids=["latin-1", "utf-8", "utf-8-bom", "utf-16", "cr-only"])
def test_re_saved_copies_read_as_the_release(tmp_path, encode):
    text = "Café sales rose .@positive\r\nNet loss widened .@negative\r\n"
    (tmp_path / "Sentences_AllAgree.txt").write_bytes(encode(text))
    df = data.load_phrasebank("all", data_dir=tmp_path)
    assert df["sentence"].tolist() == ["Café sales rose .", "Net loss widened ."]  # no mojibake, no BOM
    assert df["label"].tolist() == [2, 0] and df.attrs["raw_rows"] == 2


def test_utf16_without_byte_order_mark_is_named(tmp_path):
    (tmp_path / "Sentences_AllAgree.txt").write_bytes("Sales rose .@positive\n".encode("utf-16-le") * 3)
    with pytest.raises(data.PhraseBankFormatError, match="UTF-16 without a byte-order mark"):
        data.load_phrasebank("all", data_dir=tmp_path)


def test_splits_carry_their_settings_and_stale_runs_are_refused(phrasebank_dir, tmp_path):
    from distill_utils.profiles import resolve_config
    from distill_utils.run_spec import frame_fingerprint
    from distill_utils.lineage import check_splits

    cfg = resolve_config("smoke", agreement=75)
    splits = data.load_splits(cfg, data_dir=phrasebank_dir)
    data.save_splits(splits, tmp_path / "splits.json", data.split_settings_of(cfg))
    back = data.read_splits(tmp_path / "splits.json")
    assert data.split_agreement(back) == "75"  # what later records name, not the profile's default
    assert back["train"].attrs["split_settings"]["train_limit"] == cfg.train_limit
    key = {name: frame_fingerprint(back[name]) for name in ("train", "validation", "test")}
    teacher = {"role": "teacher", "model": "t", "seed": 42, "run_key": key}
    check_splits([teacher], back, "chapter 6")  # same sentences: accepted
    other = data.load_splits(resolve_config("smoke"), data_dir=phrasebank_dir)  # all-agree: other splits
    with pytest.raises(ValueError, match="t \\(seed 42\\) was trained on other splits.*02_teacher_finetuning"):
        check_splits([teacher], other, "chapter 6")
