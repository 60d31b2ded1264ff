"""Refusal evidence against a served process (both engines): a refused cancellation's remedy
names the stores, the refusal is listed, and its notice is a signed PDF saying why and where
to complain."""

from __future__ import annotations

import io

import pypdf
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from tests.factories import owner
from tests.served.flows import add_line, cancel, check, sign_in
from tests.served.harness import SERVED_KEY, Served
from tests.served.staffing import add_staff, add_store
from xiaohu.kit.signing import derived_key


def test_a_refusal_leaves_a_signed_notice(server: Served) -> None:
    add_store(server, "31-SH-0001", "上海南京路旗舰厅", "31", "上海")
    add_store(server, "31-SH-0002", "上海合作厅", "31", "上海", kind="partner")
    rec = add_line(
        server,
        province="31",
        home={"province_code": "31", "city": "上海"},
        owner=owner(id_type="passport"),
        balance={"cash_fen": 30000, "gift_fen": 0},
    )
    m = rec["msisdn"]
    token = sign_in(server, m)
    quote = check(server, m, token)
    blocker = next(b for b in quote["blockers"] if b["code"] == "CHANNEL_NOT_ALLOWED")
    assert [s["code"] for s in blocker["remedy"]["stores"]] == ["31-SH-0001"]
    r = cancel(server, rec, token, quote)
    assert r.status_code == 409 and r.json()["code"] == "CANCELLATION_BLOCKED"

    r = server.get(f"/api/v1/lines/{m}/refusals", token=token)
    assert r.status_code == 200, r.text
    (refusal,) = r.json()["refusals"]
    assert refusal["codes"] == ["CHANNEL_NOT_ALLOWED"] and refusal["channel"] == "online"
    assert refusal["messages"][0]["remedy"]["stores"][0]["name"] == "上海南京路旗舰厅"
    ref = refusal["reference"]

    r = server.get(f"/api/v1/lines/{m}/refusals/{ref}.pdf", token=token)
    assert r.status_code == 200, r.text
    pages = pypdf.PdfReader(io.BytesIO(r.content)).pages
    text = "".join("".join(p.extract_text().replace("\x00", "").split()) for p in pages)
    for expected in (
        "拒绝销户告知书",
        ref,
        f"{m[:3]}****{m[-4:]}",
        "CHANNEL_NOT_ALLOWED",
        "上海南京路旗舰厅",
        "12300",
        "yhssglxt.miit.gov.cn",
    ):
        assert expected in text, expected
    sig = PdfFileReader(io.BytesIO(r.content)).embedded_signatures[0]
    status = validate_pdf_signature(sig, ValidationContext(trust_roots=[sig.signer_cert]))
    assert status.intact and status.valid
    served_key = derived_key(SERVED_KEY.encode()).public_key()
    assert sig.signer_cert.public_key.dump() == served_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    missing = server.get(f"/api/v1/lines/{m}/refusals/RF-31-20261124-NOSUCH.pdf", token=token)
    assert missing.status_code == 404 and missing.json()["code"] == "REFUSAL_NOT_FOUND"
    # Any clerk reads the evidence (a store of any province serves any line); an agent's own
    # staff token does not (only the caller's session token).
    add_store(server, "31-SH-0009", "上海徐家汇营业厅", "31", "上海")
    clerk = add_staff(server, "sh.clerk", role="clerk", province="31", store_code="31-SH-0009")
    assert server.get(f"/api/v1/lines/{m}/refusals", token=clerk).status_code == 200
    add_store(server, "44-GZ-0009", "广州天河营业厅", "44", "广州")
    gz = add_staff(server, "gz.clerk", role="clerk", province="44", store_code="44-GZ-0009")
    assert server.get(f"/api/v1/lines/{m}/refusals", token=gz).status_code == 200
    agent = add_staff(server, "sh.hotline", role="hotline_agent", province="31")
    assert server.get(f"/api/v1/lines/{m}/refusals", token=agent).status_code == 403
