"""Property-based requests from the served OpenAPI document (schemathesis), against the served
process: no 5xx, and every answer's status, content type and body as the document says.

Bounded and deterministic: a fixed number of cases per operation, derandomized. Routes with
`{msisdn}` get the signed-in line's number half the time, so authenticated routes are reached
past the token check."""

from __future__ import annotations

import time

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.served.flows import add_line, sign_in
from tests.served.harness import Served

CASES_PER_OPERATION = 16
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_the_served_api_keeps_to_its_document(server: Served) -> None:
    record = add_line(server, balance={"cash_fen": 50000, "gift_fen": 0})
    msisdn = record["msisdn"]
    token = sign_in(server, msisdn)
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    failures: list[str] = []
    started = time.monotonic()
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        cases = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),  # for the refusals' documents
        )

        @settings(
            max_examples=CASES_PER_OPERATION,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=cases, own_line=st.booleans())
        def run(case: schemathesis.Case, own_line: bool) -> None:
            if own_line and case.path_parameters and "msisdn" in case.path_parameters:
                case.path_parameters["msisdn"] = msisdn
            case.call_and_validate(
                base_url=server.url,
                headers={"Authorization": f"Bearer {token}"},
                checks=CHECKS,
            )

        try:
            run()
        except Exception as exc:  # one entry per operation, all reported together
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert operations > 20
    assert not failures, "\n\n".join(failures)
    assert time.monotonic() - started < 120
