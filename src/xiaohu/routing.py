"""Which node a request runs on: the node holding the home province of the line it acts on.

A request's province is found, first that applies:
1. a number in the path (`/lines/{msisdn}/…`), the query (`?msisdn=`) or the JSON body's
   top-level `msisdn` (the store routes): its home province from the number's prefix;
2. an id in the path (`/cancellations/{cancellation_id}`, `/workorders/{order_id}`): each node
   is asked for it by primary key (remembered afterwards, so a second request asks no one);
3. the bearer token (or the pages' cookies: the subscriber's session, the clerk console's
   visit, then the staff session): a line token names its number, a staff token its province;
4. a `province_code` in the path or query.
None of them: the default node, which holds what is national (settlement runs, platforms).

Reading a token here only chooses where to look: the route still verifies it, so a forged one
is refused wherever it lands. With one node every request goes to it and nothing is read.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request

from xiaohu.kit.crypto import unseal
from xiaohu.kit.errors import DomainError
from xiaohu.kit.web import RETRY_AFTER_SECONDS
from xiaohu.regions.provinces import PROVINCES
from xiaohu.regions.rules import home_of
from xiaohu.runtime import Runtime

# Path parameters that name a row of one province: the query that answers its province.
LOCATORS: Mapping[str, str] = {
    "cancellation_id": "SELECT province_code FROM cancellations WHERE id = :id",
    "order_id": "SELECT home_province FROM work_orders WHERE id = :id",
}


def node_for(request: Request, runtime: Runtime) -> str:
    """The name of the node this request runs on."""
    nodes = runtime.nodes
    if not nodes.national:
        return nodes.default
    province = province_of(request, runtime)
    if province is None:
        return nodes.default
    if province in nodes.moving:
        # Its rows are being copied to another node: a write on the source now would be
        # lost, so the province answers as a node that is down, until the map is switched.
        raise DomainError(
            "NODE_UNAVAILABLE",
            f"province {province} is moving to another node; try again in a moment",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return nodes.node_of(province).name


def province_of(request: Request, runtime: Runtime) -> str | None:
    msisdn = _number(request)
    if msisdn is not None:
        home = home_of(msisdn)
        if home is not None:
            return home.province_code
    # An id in the path before the token: an admin or a clerk acts on a row of any province,
    # which lives on its province's node, not on the staff member's.
    for param, sql in LOCATORS.items():
        value = request.path_params.get(param)
        if isinstance(value, str) and value:
            found = locate(runtime, sql, value)
            if found is not None:
                return found
    province = _token_province(request.headers.get("authorization", ""))
    if province is None:
        province = _cookie_province(request, runtime)
    if province is not None:
        return province
    code = request.path_params.get("province_code") or request.query_params.get("province_code")
    return code if code in PROVINCES else None


def _number(request: Request) -> str | None:
    for source in (request.path_params, request.query_params, _body_fields(request)):
        value = source.get("msisdn")
        if isinstance(value, str) and len(value) == 11 and value.isdigit():
            return value
    return None


def _body_fields(request: Request) -> Mapping[str, Any]:
    # FastAPI has read a JSON body before the dependencies run (`http.read_body_to_route` a
    # page's form), and Starlette keeps it on the request.
    raw = getattr(request, "_body", None)
    if not raw:
        return {}
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = parse_qs(raw.decode("utf-8", "replace"), max_num_fields=200)
        return {k: v[0] for k, v in form.items() if v}
    if not raw.lstrip().startswith(b"{"):
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


def _token_province(header: str) -> str | None:
    """The province a bearer token points at, unverified (`principals` verifies it)."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    parts = token.split(".")
    if parts[0] in ("s", "h") and len(parts) == 3:  # staff, hotline: base64url JSON payloads
        payload = _payload(parts[1])
        if parts[0] == "h":
            number = payload.get("m")
            home = home_of(number) if isinstance(number, str) and len(number) == 11 else None
            return home.province_code if home else None
        province = payload.get("p")
        return province if province in PROVINCES else None
    if len(parts) == 5 and len(parts[1]) == 11 and parts[1].isdigit():  # a line token
        home = home_of(parts[1])
        return home.province_code if home else None
    return None


# The pages' cookies (`web.session`, `web.console_session`): named here, as this layer is below
# the pages, and only read to choose a node.
SESSION_COOKIE, STAFF_COOKIE, VISIT_COOKIE = "xh_session", "xh_staff", "xh_visit"
VISIT_PURPOSE = "console-visit"  # the key the console seals its visit cookie with


def _cookie_province(request: Request, runtime: Runtime) -> str | None:
    cookies = request.cookies
    if cookies.get(SESSION_COOKIE):
        return _token_province("Bearer " + cookies[SESSION_COOKIE])
    staff = cookies.get(STAFF_COOKIE)
    if not staff:
        return None
    visit = cookies.get(VISIT_COOKIE)
    login = _payload(staff.split(".")[1]).get("u") if staff.count(".") == 2 else None
    if visit and isinstance(login, str):
        number = _visit_number(runtime, visit, login)
        home = home_of(number) if number else None
        if home is not None:
            return home.province_code
    return _token_province("Bearer " + staff)


def _visit_number(runtime: Runtime, value: str, login: str) -> str | None:
    """The number of the console's visit cookie (sealed for the clerk's login)."""
    raw = unseal(runtime.settings.key, VISIT_PURPOSE, value, login.encode())
    try:
        number = json.loads(raw).get("m") if raw is not None else None
    except (ValueError, AttributeError):
        return None
    return number if isinstance(number, str) and len(number) == 11 else None


def _payload(part: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return {}
    return payload if isinstance(payload, dict) else {}


# Where a row was found: a row never changes province (a province move changes the node of
# the province, which `node_for` reads from the map each time), so the answer stays true.
_FOUND: dict[tuple[str, str], str] = {}
_FOUND_MAX = 100_000


def locate(runtime: Runtime, sql: str, key: str) -> str | None:
    """The province of the row `key`, by asking each node (a primary-key read each). A node
    that is down is skipped: the request then goes to the default node and finds nothing
    there, or fails on it."""
    found = _FOUND.get((sql, key))
    if found is not None:
        return found
    for name in runtime.nodes.names():
        try:
            with runtime.engine_of(name).connect() as conn:
                province = conn.execute(text(sql), {"id": key}).scalar()
        except SQLAlchemyError:
            continue
        if province is not None:
            if len(_FOUND) >= _FOUND_MAX:
                _FOUND.clear()
            _FOUND[(sql, key)] = str(province)
            return str(province)
    return None
