"""The lifecycle's calendar and wording, without a database: calendar months, the cancel day,
which warnings are due, the scheduler's timetable, the SMS texts."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Sequence

from xiaohu.identity.rules import mask_msisdn
from xiaohu.kit.clock import SHANGHAI, local_date, period_bounds, period_of
from xiaohu.kit.money import yuan

# The scheduler's daily time (Asia/Shanghai): the lifecycle of day D and the close of a period
# that ended at midnight run from 01:00, after the day's midnight work of the other systems
# (usage feeds, the bank's files) and independent of any policy value.
RUN_AT = dt.time(1, 0)


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` plus calendar months, the day clipped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def latest_start(day: dt.date, months: int) -> dt.date:
    """The latest start `s` with `add_months(s, months) <= day`: a clock started on or before
    it has run its `months` by `day`. (Exact at month ends: 30 Nov + 3 months is 28 Feb.)"""
    s = add_months(day, -months)
    while add_months(s + dt.timedelta(days=1), months) <= day:
        s += dt.timedelta(days=1)
    while add_months(s, months) > day:
        s -= dt.timedelta(days=1)
    return s


def cancel_day(arrears_since: dt.date, months: int) -> dt.date:
    """The automatic cancellation's day: N calendar months after the arrears clock started."""
    return add_months(arrears_since, months)


def due_offsets(cancel_on: dt.date, day: dt.date, offsets: Iterable[int]) -> list[int]:
    """The warning offsets (days before `cancel_on`) that are due on `day`, nearest first."""
    return sorted(k for k in set(offsets) if cancel_on - dt.timedelta(days=k) <= day)


def to_send(due: Sequence[int], recorded: Iterable[int]) -> tuple[list[int], bool]:
    """(offsets to record now, whether to send an SMS). One SMS per run and line at most: the
    nearest offset due; the older ones a skipped run left behind are recorded with it and not
    sent (the one SMS names the cancel day, which is what every warning says)."""
    seen = set(recorded)
    new = [k for k in due if k not in seen]
    return new, bool(new) and due[0] in new


def run_instant(day: dt.date, now: dt.datetime) -> dt.datetime:
    """When a run of `day` acts: now, or the day's last instant for a day the clock passed
    (the scheduler catching up: each day's writes bear that day's date)."""
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=SHANGHAI)
    return min(now, end - dt.timedelta(microseconds=1)).astimezone(dt.UTC)


def last_due_day(now: dt.datetime) -> dt.date:
    """The latest day whose lifecycle run is due at `now` (today from 01:00, else yesterday)."""
    local = now.astimezone(SHANGHAI)
    return local.date() if local.time() >= RUN_AT else local.date() - dt.timedelta(days=1)


def days_due(last_done: str | None, now: dt.datetime) -> list[dt.date]:
    """The days to run, oldest first: every day after the last done one up to the last due
    day; on a first start (nothing done) the last due day alone."""
    last = last_due_day(now)
    if last_done is None:
        return [last]
    day = dt.date.fromisoformat(last_done) + dt.timedelta(days=1)
    out = []
    while day <= last:
        out.append(day)
        day += dt.timedelta(days=1)
    return out


def periods_due(last_done: str | None, now: dt.datetime) -> list[str]:
    """The periods to close, oldest first: each that ended (and whose 01:00 passed) after the
    last one closed; on a first start the last one that ended."""
    last = period_of(last_due_day(now).replace(day=1) - dt.timedelta(days=1))
    if last_done is None:
        return [last]
    out: list[str] = []
    period = period_of(period_bounds(last_done)[1])
    while period <= last:
        out.append(period)
        period = period_of(period_bounds(period)[1])
    return out


def today(now: dt.datetime) -> dt.date:
    return local_date(now)


# --- SMS texts ------------------------------------------------------------------------------


# Around the masked number (the run writes this SMS with one INSERT ... SELECT).
SUSPENDED_TEXT = (
    "【销户服务】号码",
    "的账单已逾期未缴，现已停机。缴清欠费即自动复机；长期欠费将被自动销户。",
)


def suspended_text(msisdn: str) -> str:
    return SUSPENDED_TEXT[0] + mask_msisdn(msisdn) + SUSPENDED_TEXT[1]


def warning_text(msisdn: str, cancel_on: dt.date, day: dt.date) -> str:
    days = (cancel_on - day).days
    return (
        f"【销户服务】号码{mask_msisdn(msisdn)}欠费停机，将于{cancel_on:%Y年%m月%d日}"
        f"（{days}天后）自动销户，号码将被回收。缴清欠费即可复机并保留号码。"
    )


def cancelled_text(msisdn: str, reference: str, debt_fen: int, written_off: bool) -> str:
    debt = (
        ""
        if debt_fen <= 0
        else ("欠费已核销。" if written_off else f"尚欠{yuan(debt_fen)}，请及时缴纳。")
    )
    return (
        f"【销户服务】号码{mask_msisdn(msisdn)}因长期欠费已自动销户，受理编号{reference}。"
        f"{debt}号码进入冷冻期，期间原机主可到营业厅申请找回。"
        "请尽快解除该号码与银行、微信、支付宝等互联网账号的绑定。"
    )


def retention_ended_text(msisdn: str, in_arrears: bool) -> str:
    if in_arrears:
        return (
            f"【销户服务】号码{mask_msisdn(msisdn)}的停机保号已到最长期限，"
            "因有欠费仍处于停机状态，缴清欠费即可复机。"
        )
    return (
        f"【销户服务】号码{mask_msisdn(msisdn)}的停机保号已到最长期限，"
        "号码已恢复正常使用，原套餐按月计费。"
    )
