"""A valid staff record of the import file: a clerk of Guangzhou Tianhe."""

from __future__ import annotations

CLERK = {
    "login": "gz.wang",
    "name": "王五",
    "role": "clerk",
    "province_code": "44",
    "store_code": "44-GZ-0001",
    "password": "counter-password",
}
