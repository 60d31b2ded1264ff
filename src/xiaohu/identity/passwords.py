"""Service passwords (6 digits).

New and changed passwords are hashed with argon2id. A bulk import of millions of lines cannot
afford ~50 ms of memory-hard hashing per line, so imported passwords are stored as a keyed
HMAC-SHA256 (`hmac$...`, key derived from XIAOHU_SECRET_KEY: a database-only leak reveals
nothing) and upgraded to argon2id at the first successful sign-in.
"""

from __future__ import annotations

import hmac

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from xiaohu.kit.bounds import is_digits
from xiaohu.kit.crypto import mac

_hasher = PasswordHasher()  # argon2id, library defaults (RFC 9106 low-memory profile)
_IMPORT_PREFIX = "hmac$"


def is_valid_service_password(password: object) -> bool:
    return isinstance(password, str) and len(password) == 6 and is_digits(password)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_hash(stored: str, password: str) -> bool:
    """A password against an argon2 hash of its own (a staff password: never an import MAC)."""
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def hash_for_import(master: bytes, msisdn: str, password: str) -> str:
    return _IMPORT_PREFIX + mac(master, "service-password-import", f"{msisdn}:{password}")


def verify(master: bytes, msisdn: str, stored: str | None, password: str) -> bool:
    if not stored:
        return False
    if stored.startswith(_IMPORT_PREFIX):
        return hmac.compare_digest(stored, hash_for_import(master, msisdn, password))
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_upgrade(stored: str) -> bool:
    return stored.startswith(_IMPORT_PREFIX) or _hasher.check_needs_rehash(stored)
