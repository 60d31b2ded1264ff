"""Keys derived from the one secret: PII encryption (AES-GCM), blind index and token MACs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


@lru_cache(maxsize=32)
def derive(master: bytes, purpose: str) -> bytes:
    """HKDF-like: one 32-byte key per purpose, so leaking one does not reveal the others."""
    return hmac.new(master, f"xiaohu:{purpose}".encode(), hashlib.sha256).digest()


class PiiCipher:
    def __init__(self, master: bytes) -> None:
        self._aead = AESGCM(derive(master, "pii-encryption"))
        self._index_key = derive(master, "pii-blind-index")

    def encrypt(self, plaintext: str, context: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), context.encode())

    def decrypt(self, blob: bytes, context: str) -> str:
        return self._aead.decrypt(blob[:12], blob[12:], context.encode()).decode()

    def blind_index(self, id_type: str, number: str) -> str:
        """Deterministic, keyed: equality lookups without storing the number in clear."""
        return hmac.new(self._index_key, f"{id_type}:{number}".encode(), hashlib.sha256).hexdigest()


def mac(master: bytes, purpose: str, message: str) -> str:
    digest = hmac.new(derive(master, purpose), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
