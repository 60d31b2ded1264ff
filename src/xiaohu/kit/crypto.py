"""Keys derived from the one secret: PII encryption (AES-GCM), blind index and token MACs."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
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


def seal(master: bytes, purpose: str, raw: bytes, bound_to: bytes) -> str:
    """`raw` encrypted and authenticated (AES-GCM, a key derived for `purpose`), bound to
    `bound_to` (opened only with the same), as URL-safe base64 for a cookie."""
    nonce = os.urandom(12)
    sealed = nonce + AESGCM(derive(master, purpose)).encrypt(nonce, raw, bound_to)
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def unseal(master: bytes, purpose: str, value: str, bound_to: bytes) -> bytes | None:
    """What `seal` sealed, or None for anything else (tampered, another purpose or binding,
    not base64)."""
    try:
        sealed = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        return AESGCM(derive(master, purpose)).decrypt(sealed[:12], sealed[12:], bound_to)
    except (binascii.Error, InvalidTag, ValueError):
        return None


def mac(master: bytes, purpose: str, message: str) -> str:
    digest = hmac.new(derive(master, purpose), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
