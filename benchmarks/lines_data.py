"""What the service and national benchmarks share: the clean line they import, the import
through the real importer, the settings a benchmark runtime uses, and a fresh PostgreSQL
database. Imported by the scripts as a sibling module (`python benchmarks/bench_*.py`)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any


def resident_id(n: int) -> str:
    """A valid resident id number, a different one for each `n`."""
    from xiaohu.identity.rules import resident_id_check_char

    birth = dt.date(1960, 1, 1) + dt.timedelta(days=n // 900)
    first17 = f"110101{birth:%Y%m%d}{n % 900 + 100:03d}"
    return first17 + resident_id_check_char(first17)


def clean_line(i: int, msisdn: str) -> dict[str, Any]:
    """The import record of a clean line (active, real-name verified, no arrears, contract,
    bundle or order, cash above a month's fee, a refund route); every third carries a gift
    balance, so a warning to acknowledge. Owner `i`, one owner a line."""
    return {
        "msisdn": msisdn,
        "status": "active",
        "opened_on": "2021-03-01",
        "real_name_verified": True,
        "owner": {
            "name": f"测试{i:05d}",
            "id_type": "resident_id",
            "id_number": resident_id(i),
        },
        "plan": {"code": "5G-129", "name": "5G畅享129元", "monthly_fee_fen": 12900},
        "balance": {
            "cash_fen": 15000 + i % 97 * 100,
            "gift_fen": 2000 if i % 3 == 0 else 0,
        },
        "usage_unbilled_fen": 300 + i % 50,
        "usage_history_fen": [2100, 1800, 2500],
        "payment_route": {"kind": "alipay", "account": "zh***@example.com"},
    }


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    """The records as the importer reads them: one JSON object a line."""
    with path.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def import_lines(runtime: Any, path: Path, where: str = "") -> None:
    """`path` through the real importer; the first errors end the benchmark."""
    from xiaohu.intake.importer import import_path

    result = import_path(runtime, path, show_progress=False)
    if result.errors:
        raise SystemExit(f"import{where} failed: {result.errors[:3]}")


def settings_for(url: str, key: str, **extra: Any) -> Any:
    """Production mode on the sandbox gateways (payouts and SMS), as a staging system runs."""
    from xiaohu.config import Settings

    return Settings(
        database_url=url,
        mode="production",
        secret_key=key,
        admin_token=key,
        allow_sandbox_gateways=True,
        **extra,
    )


def recreate_database(server: str, name: str) -> None:
    """Database `name` dropped (its connections ended) and created again on `server`
    (a URL without the database)."""
    from sqlalchemy import create_engine, text

    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
