"""Signing a PDF the subscriber keeps as evidence (PAdES, with pyHanko).

A refusal notice (拒绝销户告知书) is only evidence if the operator cannot later disown it: the
PDF carries a signature over its bytes, and anyone can check it with a PDF reader or pyHanko.

The key: in production, the operator's certificate and key as a PKCS#12 file
(`XIAOHU_NOTICE_CERT`, `XIAOHU_NOTICE_CERT_PASSWORD`). Without one (the sandbox, or a production
system not configured yet, which says so at start-up) a P-256 key is derived from the secret
key, so every process of one installation signs with the same key, under a self-signed
certificate made from it: genuine, but vouched for by no one else.

pyHanko is imported where it is used: it is heavy, and only the notice needs it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from xiaohu.kit.crypto import derive

if TYPE_CHECKING:
    from pyhanko.sign.signers import SimpleSigner

_P256_ORDER = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)
# The self-signed certificate's fixed terms: the same certificate data in every process.
_VALID_FROM = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
_VALID_TO = dt.datetime(2045, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class SignatureText:
    """What the signature says about itself (shown by PDF readers)."""

    reason: str
    location: str
    signer_name: str


def derived_key(master: bytes) -> ec.EllipticCurvePrivateKey:
    """The installation's own signing key, derived from the secret key."""
    secret = int.from_bytes(derive(master, "notice-signing"), "big") % (_P256_ORDER - 1) + 1
    return ec.derive_private_key(secret, ec.SECP256R1())


def self_signed(key: ec.EllipticCurvePrivateKey, common_name: str) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "xiaohu"),
        ]
    )
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=True,  # non-repudiation: the point of the notice
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(derive(common_name.encode(), "serial")[:8], "big"))
        .not_valid_before(_VALID_FROM)
        .not_valid_after(_VALID_TO)
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )


@lru_cache(maxsize=4)
def signer(master: bytes, pkcs12: Path | None, password: str | None) -> SimpleSigner:
    """The signer: the configured PKCS#12 file, else the derived key and its certificate."""
    from asn1crypto import keys
    from asn1crypto import x509 as asn1_x509
    from pyhanko.sign.signers import SimpleSigner
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    if pkcs12 is not None:
        loaded = SimpleSigner.load_pkcs12(
            str(pkcs12), passphrase=password.encode() if password else None
        )
        if loaded is None:
            raise ValueError(f"{pkcs12} is not a PKCS#12 file this password opens")
        return loaded
    key = derived_key(master)
    cert = asn1_x509.Certificate.load(
        self_signed(key, "xiaohu refusal notices").public_bytes(serialization.Encoding.DER)
    )
    der_key = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return SimpleSigner(
        signing_cert=cert,
        signing_key=keys.PrivateKeyInfo.load(der_key),
        cert_registry=SimpleCertificateStore.from_certs([cert]),
    )


def sign_pdf(pdf: bytes, by: SimpleSigner, text: SignatureText) -> bytes:
    """The PDF with an invisible signature over all of it, appended as an incremental
    update (the content stays as rendered)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    meta = signers.PdfSignatureMetadata(
        field_name="Signature",
        reason=text.reason,
        location=text.location,
        name=text.signer_name,
    )
    out = signers.sign_pdf(writer, meta, signer=by)
    return out.getvalue()
