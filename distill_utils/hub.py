"""Is the Hugging Face Hub reachable? Offline runs fail in seconds, not after the Hub client's
minute of retries. ``HF_ENDPOINT`` (a mirror, or the tests' stand-in on loopback) is honoured.
"""
from __future__ import annotations

import os
import socket
from urllib.parse import urlparse


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT") or "https://huggingface.co"


def hub_reachable(timeout: float = 3.0) -> bool:
    """Can we open a TCP connection to the Hub endpoint? Lets offline runs fail in seconds
    instead of after the Hub client's minute of retries."""
    url = urlparse(hub_endpoint())
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False
