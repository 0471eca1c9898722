"""A Hugging Face Hub stand-in on loopback, for the code paths that only the Hub serves.

No machine of this project reaches the Hub, yet the `seed` profile (the reference experiment's
bert-base-uncased -> distilbert-base-uncased) and Colab readers load from it. This server answers
the requests `huggingface_hub` makes for a download, as the Hub does:

* ``HEAD``/``GET /<repo>/resolve/<revision>/<file>`` (and ``/datasets/<repo>/...``), with the
  ``X-Repo-Commit``, ``ETag`` and ``Content-Length`` headers the client caches by, and
  ``X-Error-Code: EntryNotFound`` / ``RepoNotFound`` on a 404;
* ``GET /api/models/<repo>`` (and ``/revision/<revision>``): the repository's files.

`build_seed_models` writes the two models of the seed profile as tiny random networks saved with
their real classes and configurations (BERT 2 x 64, DistilBERT 2 x 64: DistilBERT's config names
differ from BERT's, ``n_layers``, ``dim``, and its tokenizer gives no ``token_type_ids``), with the
real WordPiece vocabulary (all-MiniLM-L6-v2 ships bert-base-uncased's).

    python tools/hub_standin.py --root hub-standin --build-seed-models   # prints HF_ENDPOINT
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

def build_seed_models(root: str | Path) -> Path:
    """Tiny stand-ins of the seed profile's Hub models under ``root/models/<repo id>/``."""
    import torch
    from transformers import (BertConfig, BertForMaskedLM, BertTokenizerFast, DistilBertConfig,
                              DistilBertForMaskedLM, DistilBertTokenizerFast)

    from distill_utils.weights import minilm_dir

    vocab = minilm_dir() / "vocab.txt"
    models = Path(root) / "models"
    torch.manual_seed(0)
    specs = {
        "bert-base-uncased": (BertForMaskedLM, BertTokenizerFast, BertConfig(
            vocab_size=30522, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=128, max_position_embeddings=512)),
        "distilbert-base-uncased": (DistilBertForMaskedLM, DistilBertTokenizerFast, DistilBertConfig(
            vocab_size=30522, dim=64, n_layers=2, n_heads=2, hidden_dim=128, max_position_embeddings=512)),
    }
    for repo, (model_class, tokenizer_class, config) in specs.items():
        target = models / repo
        if target.is_dir():  # written whole, by one rename
            continue
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        model_class(config).save_pretrained(tmp)
        tokenizer_class.from_pretrained(minilm_dir()).save_pretrained(tmp)
        shutil.copyfile(vocab, tmp / "vocab.txt")
        tmp.rename(target)
    return models


class _Handler(BaseHTTPRequestHandler):
    root: Path
    requests: list

    def _resolve(self):
        """(file or None, repo folder or None, error code) for a resolve URL."""
        path = unquote(self.path.split("?")[0]).lstrip("/")
        kind = "models"
        if path.startswith("datasets/"):
            kind, path = "datasets", path[len("datasets/"):]
        if "/resolve/" not in path:
            return None, None, "EntryNotFound"
        repo, rest = path.split("/resolve/", 1)
        filename = rest.split("/", 1)[1] if "/" in rest else ""
        repo_dir = self.root / kind / repo
        if not repo_dir.is_dir():
            return None, None, "RepoNotFound"
        file = repo_dir / filename
        return (file if file.is_file() else None), repo_dir, "EntryNotFound"

    def _send(self, body: bytes | None, file: Path | None, repo_dir: Path | None, error: str, head: bool):
        if file is None and body is None:
            self.send_response(404)
            self.send_header("X-Error-Code", error)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = body if body is not None else file.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        if file is not None:
            self.send_header("ETag", '"%s"' % hashlib.sha256(data).hexdigest())
            self.send_header("X-Repo-Commit", _commit(repo_dir))
        else:
            self.send_header("Content-Type", "application/json")
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _api(self):
        """(JSON body or None, error code) for ``/api/models/<repo>[/revision/<rev>]`` (the repository
        and its files) and ``/api/models/<repo>/tree/<rev>[/<folder>]`` (a folder's entries)."""
        path = unquote(self.path.split("?")[0])
        kind = next((k for k in ("models", "datasets") if path.startswith(f"/api/{k}/")), None)
        if kind is None:
            return None, "RepoNotFound"
        rest = path[len(f"/api/{kind}/"):]
        folder = None
        if "/tree/" in rest:
            rest, tree = rest.split("/tree/", 1)
            folder = tree.split("/", 1)[1] if "/" in tree else ""
        repo = rest.split("/revision/")[0].rstrip("/")
        repo_dir = self.root / kind / repo
        if not repo_dir.is_dir():
            return None, "RepoNotFound"
        if folder is not None:
            base = repo_dir / folder
            if not base.is_dir():
                return None, "EntryNotFound"
            entries = [{"type": "directory" if p.is_dir() else "file", "path": str(p.relative_to(repo_dir)),
                        "oid": _commit(p), **({"size": p.stat().st_size} if p.is_file() else {})}
                       for p in sorted(base.iterdir())]
            return json.dumps(entries).encode(), None
        files = sorted(str(p.relative_to(repo_dir)) for p in repo_dir.rglob("*") if p.is_file())
        info = {"id": repo, "modelId": repo, "sha": _commit(repo_dir), "private": False, "gated": False,
                "siblings": [{"rfilename": name} for name in files]}
        return json.dumps(info).encode(), None

    def _handle(self, head: bool):
        self.requests.append((self.command, self.path))
        if self.path.startswith("/api/"):
            body, error = self._api()
            self._send(body, None, None, error, head)
            return
        file, repo_dir, error = self._resolve()
        self._send(None, file, repo_dir, error, head)

    def do_HEAD(self):  # noqa: N802 (the http.server API)
        self._handle(head=True)

    def do_GET(self):  # noqa: N802
        self._handle(head=False)

    def log_message(self, *args):
        pass


def _commit(repo_dir: Path) -> str:
    """A stable 40-hex revision per repository (the Hub's commit sha)."""
    return hashlib.sha1(str(repo_dir.name).encode()).hexdigest()


class HubStandin:
    """The server in a background thread: ``with HubStandin(root) as hub: hub.url``."""

    def __init__(self, root: str | Path, port: int = 0):
        handler = type("Handler", (_Handler,), {"root": Path(root), "requests": []})
        self.requests = handler.requests
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "HubStandin":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", required=True, help="folder with models/<repo>/ and datasets/<repo>/")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--build-seed-models", action="store_true", help="write the seed profile's stand-ins first")
    parser.add_argument("--url-file", default=None, help="write the endpoint URL here once serving")
    args = parser.parse_args(argv)
    if args.build_seed_models:
        build_seed_models(args.root)
    with HubStandin(args.root, args.port) as hub:
        print(f"HF_ENDPOINT={hub.url}", flush=True)
        if args.url_file:
            Path(args.url_file).write_text(hub.url)
        hub.thread.join()


if __name__ == "__main__":
    main()
