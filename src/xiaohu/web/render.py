"""The template environment and the one function every page renders through.

It adds what every screen needs: the language (one template environment a language, with
Jinja's i18n extension bound to that language's gettext catalog, and `msg()` for messages
chosen by key), the CSRF token (and
the browser-session cookie it is derived from, set on first visit), the step of the progress
indicator, money and time formatting.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from xiaohu.config import Settings
from xiaohu.kit.money import yuan
from xiaohu.principals import TokenClaims
from xiaohu.runtime import Context
from xiaohu.web import csrf, session
from xiaohu.web.i18n import (
    HTML_LANG,
    LANGS,
    STEPS,
    charge_label,
    local_date,
    local_time,
    message,
    negotiate,
    province_name,
    route_label,
    translations,
)

TEMPLATES = Path(__file__).parent / "templates"


@lru_cache(maxsize=len(LANGS))
def environment(lang: str) -> Environment:
    """The templates in one language: `_()`/`ngettext()` come from its catalog, and times and
    dates are written the way that language writes them."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    # newstyle: `_("… %(n)s", n=x)` formats (and escapes) the values itself.
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters["yuan"] = yuan
    env.filters["local"] = lambda value: local_time(value, lang)
    env.filters["day"] = lambda value: local_date(value, lang)
    env.filters["spaced"] = spaced_msisdn
    return env


def spaced_msisdn(msisdn: str) -> str:
    """138 0013 8000: how people read a number."""
    return f"{msisdn[:3]} {msisdn[3:7]} {msisdn[7:]}" if len(msisdn) == 11 else msisdn


def render(
    request: Request,
    ctx: Context,
    template: str,
    *,
    status: int = 200,
    screen: str,
    step: int | None = None,
    **values: Any,
) -> HTMLResponse:
    who = session.claims_of(request, ctx)
    return render_for(
        request, ctx.settings, who, template, status=status, screen=screen, step=step, **values
    )


def render_for(
    request: Request,
    settings: Settings,
    who: TokenClaims | None,
    template: str,
    *,
    status: int = 200,
    screen: str,
    step: int | None = None,
    **values: Any,
) -> HTMLResponse:
    """`render` without a unit of work: for pages shown when a request found no route or
    failed (no database at hand), with the signed-in line already known or None."""
    lang = negotiate(request)
    sid = request.cookies.get(csrf.SID_COOKIE)
    fresh_sid = None
    if not sid:
        sid = fresh_sid = csrf.new_sid()
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    context: dict[str, Any] = {
        "msg": lambda key, **values: message(key, lang, **values),
        "lang": lang,
        "html_lang": HTML_LANG[lang],
        "other_lang": "en" if lang == "zh" else "zh",
        "csrf_field": csrf.FIELD,
        "csrf_token": csrf.token_for(settings.key, sid),
        "screen": screen,
        "step": step,
        "steps": STEPS,
        "here": path,
        "sandbox": settings.sandbox,
        "signed_in_as": who.msisdn if who else None,
        "form": {},
        "errors": {},
        "notice": None,
        "province": lambda code: province_name(code, lang),
        "label": lambda item: charge_label(item, lang),
        "route_text": lambda route: route_label(route, lang),
        # One key a rendered form: a double-submitted payment is charged once.
        "form_key": secrets.token_urlsafe(12),
    }
    context.update(values)
    html = environment(lang).get_template(template).render(context)
    response = HTMLResponse(html, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'"
    )
    if fresh_sid:
        csrf.set_sid(request, response, fresh_sid)
    return response
