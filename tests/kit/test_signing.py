"""Signing the subscriber's evidence: the derived key is stable per installation, an
operator's PKCS#12 file is used when configured, and production says what it signs with."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from fpdf import FPDF
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from tests.conftest import test_settings
from xiaohu.assembly import ConfigurationError, check_production
from xiaohu.kit.signing import SignatureText, derived_key, self_signed, sign_pdf, signer

TEXT = SignatureText(reason="test", location="test", signer_name="test")


def a_pdf() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(0, 10, "evidence")
    return bytes(pdf.output())


def valid_signer_key(signed: bytes) -> bytes:
    sig = PdfFileReader(io.BytesIO(signed)).embedded_signatures[0]
    status = validate_pdf_signature(sig, ValidationContext(trust_roots=[sig.signer_cert]))
    assert status.intact and status.valid
    return bytes(sig.signer_cert.public_key.dump())


def der(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_the_derived_key_is_the_installations_own() -> None:
    a, b = b"a" * 40, b"b" * 40
    assert der(derived_key(a)) == der(derived_key(a))
    assert der(derived_key(a)) != der(derived_key(b))
    assert valid_signer_key(sign_pdf(a_pdf(), signer(a, None, None), TEXT)) == der(derived_key(a))


def test_a_configured_pkcs12_file_signs(tmp_path: Path) -> None:
    key = derived_key(b"operator" * 5)
    cert = self_signed(key, "Operator notices")
    path = tmp_path / "notice.p12"
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"notice",
            key,
            cert,
            None,
            serialization.BestAvailableEncryption(b"pass-word"),
        )
    )
    by = signer(b"x" * 40, path, "pass-word")
    assert valid_signer_key(sign_pdf(a_pdf(), by, TEXT)) == der(key)


def test_production_warns_without_a_notice_certificate_and_stops_on_a_missing_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    base = {
        "mode": "production",
        "secret_key": "p" * 40,
        "admin_token": "a" * 40,
    }
    with caplog.at_level(logging.WARNING):
        check_production(test_settings("sqlite://", **base), [])
    assert "XIAOHU_NOTICE_CERT is not set" in caplog.text
    missing = test_settings("sqlite://", notice_cert=tmp_path / "none.p12", **base)
    with pytest.raises(ConfigurationError, match="XIAOHU_NOTICE_CERT"):
        check_production(missing, [])
