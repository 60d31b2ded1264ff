"""Production safety over the served process: no sandbox gateways unless a staging system says
so out loud, and the admin routes only for the operator's admin token."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.served.harness import (
    ADMIN_TOKEN,
    Served,
    free_port,
    fresh_database,
    serve,
    server_env,
    xiaohu_command,
)

ROOT = Path(__file__).resolve().parents[2]


def _serve_exits(extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`xiaohu serve` in production with these settings, expected to stop by itself."""
    with (
        tempfile.TemporaryDirectory(prefix="xiaohu-served-") as tmp,
        fresh_database(Path(tmp)) as url,
    ):
        command = [*xiaohu_command(), "serve", "--port", str(free_port())]
        env = server_env(url, "production", extra)
        env["PYTHONPATH"] = str(ROOT)  # the stand-in adapters in tests/served/adapters.py
        return subprocess.run(  # noqa: S603 (our own command)
            command,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"XIAOHU_ALLOW_SANDBOX_GATEWAYS": "false"}, "XIAOHU_SMS_GATEWAY"),
        (
            {
                "XIAOHU_ALLOW_SANDBOX_GATEWAYS": "false",
                "XIAOHU_SMS_GATEWAY": "tests.served.adapters:OperatorSms",
                "XIAOHU_PAYMENT_GATEWAY": "tests.served.adapters:OperatorPayments",
            },
            "XIAOHU_PROVISIONING_GATEWAY",
        ),
        ({"XIAOHU_ADMIN_TOKEN": ""}, "XIAOHU_ADMIN_TOKEN"),
        ({"XIAOHU_ADMIN_TOKEN": "too-short"}, "XIAOHU_ADMIN_TOKEN"),
    ],
)
def test_production_refuses_to_start_unsafe(extra: dict[str, str], named: str) -> None:
    done = _serve_exits(extra)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr  # one line, no traceback
    assert named in lines[0]


def test_staging_starts_on_sandbox_gateways_and_says_so() -> None:
    with serve("production") as server:  # the harness allows sandbox gateways for production
        health = server.get("/healthz").json()
        assert health["gateways"] == "sandbox"
        assert "SANDBOX gateways" in server.log()


def test_sandbox_health_names_its_gateways(server: Served) -> None:
    assert server.get("/healthz").json()["gateways"] == "sandbox"


ADMIN_PATHS = ["/api/v1/admin/ledger/trial-balance", "/api/v1/admin/audit/verify"]


def test_admin_routes_need_the_admin_token_in_production() -> None:
    with serve("production") as server:
        for path in ADMIN_PATHS:
            anonymous = server.get(path)
            assert anonymous.status_code == 401, anonymous.text
            assert anonymous.json()["code"] == "UNAUTHENTICATED"
            assert "accounts" not in anonymous.json()
            wrong = server.get(path, token=ADMIN_TOKEN[:-1] + "x")  # not genuine: as none
            assert wrong.status_code == 401, wrong.text
            assert wrong.json()["code"] == "UNAUTHENTICATED"
            right = server.get(path, token=ADMIN_TOKEN)
            assert right.status_code == 200, right.text
        assert "accounts" in server.get(ADMIN_PATHS[0], token=ADMIN_TOKEN).json()


def test_admin_routes_stay_open_in_the_sandbox(server: Served) -> None:
    for path in ADMIN_PATHS:
        assert server.get(path).status_code == 200
