"""The daily lifecycle run's work as hand-written set-based SQL over every line at once, in one
transaction: the raw-SQL side of `bench_runs.py`'s lifecycle pair.

The per-province values (the cancellation's months, the debt's handling, the quarantine days,
the arrears grace days) come from the same policy the run reads, bound as CASE expressions.
What the SQL cannot do as the run does, said here and in docs/benchmarks.md:

- the audit events' hash chain: each event is written with its chain, its sequence number and
  the run's columns, but its hash is computed by the database from the event alone (sha256 on
  PostgreSQL; a random placeholder on SQLite, which has no sha256) and `prev_hash` is a
  placeholder: the chain would not verify;
- the texts of the SMS are shorter (the counts are compared, not the texts), and the
  cancellation references are made from the line id, not drawn at random;
- a month is added by the database (`+ interval` on PostgreSQL, `date(…, '+N months')` on
  SQLite, which does not clip at a month's end: the benchmark's clocks start on the 10th).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from xiaohu.lifecycle import rules
from xiaohu.lifecycle.batch import Terms
from xiaohu.policy.schema import Values


def _case(terms: Terms, value: Any, column: str = "province_code", quote: bool = True) -> str:
    """A value per province as SQL: a CASE over the provinces that differ from the default."""

    def lit(v: Any) -> str:
        if isinstance(v, bool):
            return "1" if v else "0"
        if isinstance(v, int):
            return str(v)
        return f"'{v}'" if quote else str(v)

    default = value(terms.default)
    whens = {p: value(v) for p, v in terms.provinces.items() if value(v) != default}
    if not whens:
        return lit(default)
    body = " ".join(f"WHEN '{p}' THEN {lit(v)}" for p, v in sorted(whens.items()))
    return f"CASE {column} {body} ELSE {lit(default)} END"


def statements(dialect: str, terms: Terms) -> list[tuple[str, str]]:
    """(label, SQL) in order; parameters :day (date), :at (timestamp)."""
    pg = dialect == "postgresql"
    day = terms.day
    json = "jsonb_build_object" if pg else "json_object"
    ts = "timestamptz" if pg else "TEXT"
    at = f"CAST(:at AS {ts})"

    def months_after(col: str, months: str) -> str:
        if pg:
            return f"CAST({col} + make_interval(months => {months}) AS date)"
        return f"date({col}, '+' || ({months}) || ' months')"

    def plus_days(col: str, days: str) -> str:
        if pg:
            return f"{col} + make_interval(days => {days})"
        return (
            f"strftime('%Y-%m-%d %H:%M:%S', {col}, '+' || ({days}) || ' days') || substr({col}, 20)"
        )

    def least(a: str, b: str) -> str:
        return f"CASE WHEN ({a}) < ({b}) THEN ({a}) ELSE ({b}) END"

    def masked(col: str) -> str:
        return f"substr({col}, 1, 3) || '****' || substr({col}, 8, 4)"

    warning_days = sorted(set(terms.default.auto_cancel_warning_days))
    for v in terms.provinces.values():
        if sorted(set(v.auto_cancel_warning_days)) != warning_days:
            raise NotImplementedError("per-province warning days")
    minus_k = "w.cancel_on - o.k" if pg else "date(w.cancel_on, '-' || o.k || ' days')"
    days_left = (
        "cancel_on - :day" if pg else "CAST(julianday(cancel_on) - julianday(:day) AS INTEGER)"
    )
    genesis = "0" * 64
    offsets = " UNION ALL ".join(f"SELECT {k} AS k" for k in warning_days)

    def latest(v: Values, extra_days: int) -> str:
        return rules.latest_start(
            day + dt.timedelta(days=extra_days), v.auto_cancel_after_arrears_months
        ).isoformat()

    d = (lambda s: f"CAST('{s}' AS date)") if pg else (lambda s: f"'{s}'")
    cancel_limit = _case(terms, lambda v: d(latest(v, 0)), "l.province_code", quote=False)
    widest = _case(
        terms,
        lambda v: d(latest(v, max(v.auto_cancel_warning_days, default=0))),
        "l.province_code",
        quote=False,
    )
    months = _case(terms, lambda v: v.auto_cancel_after_arrears_months, "l.province_code")
    write_off = _case(terms, lambda v: int(v.auto_cancel_debt == "write_off"), "l.province_code")
    quarantine = _case(terms, lambda v: v.quarantine_days, "province_code")
    cutoff = _case(
        terms,
        lambda v: d((day - dt.timedelta(days=v.arrears_grace_days)).isoformat()),
        "l.province_code",
        quote=False,
    )
    retention_limit = _case(
        terms,
        lambda v: (
            d(rules.latest_start(day, v.retention_max_months).isoformat())
            if v.retention_max_months
            else "NULL"
        ),
        "l.province_code",
        quote=False,
    )
    owes = "EXISTS (SELECT 1 FROM bills b WHERE b.line_id = l.id AND b.status = 'unpaid')"
    overdue = (
        "EXISTS (SELECT 1 FROM bills b WHERE b.line_id = l.id AND b.status = 'unpaid' "
        f"AND b.due_on < {cutoff})"
    )
    temp = "CREATE TEMP TABLE"
    out: list[tuple[str, str]] = [
        # --- the automatic cancellations -------------------------------------------------
        (
            "due lines",
            f"""{temp} lc_due AS
            SELECT l.id, l.msisdn, l.province_code, l.owner_id, l.status, l.arrears_since,
                   CASE WHEN l.cash_fen > 0 THEN l.cash_fen ELSE 0 END AS cash,
                   CASE WHEN l.gift_fen > 0 THEN l.gift_fen ELSE 0 END AS gift,
                   {write_off} AS write_off, {months} AS months
            FROM lines l
            WHERE l.status IN ('arrears_suspended', 'retained') AND l.arrears_since IS NOT NULL
              AND l.arrears_since <= {cancel_limit}
              AND (l.status <> 'retained' OR {owes})""",
        ),
        (
            "their bills, cash applied oldest first",
            f"""{temp} lc_bills AS
            SELECT id, line_id, owed,
                   {least("CASE WHEN cash - before > 0 THEN cash - before ELSE 0 END", "owed")}
                   AS take, write_off
            FROM (SELECT b.id, b.line_id, b.amount_fen - b.paid_fen AS owed, d.cash, d.write_off,
                         COALESCE(sum(b.amount_fen - b.paid_fen) OVER (
                             PARTITION BY b.line_id ORDER BY b.period, b.id
                             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
                  FROM bills b JOIN lc_due d ON d.id = b.line_id
                  WHERE b.status = 'unpaid') s""",
        ),
        (
            "the cancellations' figures",
            f"""{temp} lc_c AS
            SELECT d.*, 'rawc' || CAST(d.id AS VARCHAR) AS cid,
                   'XH' || d.province_code || '{day:%Y%m%d}R' || CAST(d.id AS VARCHAR) AS ref,
                   COALESCE(x.applied, 0) AS applied, COALESCE(x.debt, 0) AS debt,
                   d.cash - COALESCE(x.applied, 0) AS refund,
                   CASE WHEN d.write_off = 1 THEN COALESCE(x.debt, 0) ELSE 0 END AS written_off,
                   (SELECT o.msisdn FROM lines o WHERE o.owner_id = d.owner_id
                      AND o.status = 'active' AND o.id <> d.id ORDER BY o.id LIMIT 1) AS notify
            FROM lc_due d LEFT JOIN (SELECT line_id, sum(take) AS applied,
                                            sum(owed - take) AS debt
                                     FROM lc_bills GROUP BY line_id) x ON x.line_id = d.id""",
        ),
        (
            "cancellations",
            f"""INSERT INTO cancellations (id, reference, line_id, msisdn, province_code,
                handling_province_code, channel, status, account_status, quote_id,
                cancelled_at, undo_until, period, final_charges, charges_fen, refund_now_fen,
                reserve_fen, forfeited_fen, route, previous_status, gift_applied_fen,
                shortfall_fen, late_usage_fen, trued_up_fen, closed_at, store_code,
                staff_login)
            SELECT cid, ref, id, msisdn, province_code, province_code, 'auto', 'cancelled',
                   'closed', NULL, {at}, {at}, '{day:%Y-%m}', {"'[]'::jsonb" if pg else "'[]'"},
                   0, refund, 0, gift,
                   CASE WHEN refund > 0 THEN {json}('kind', 'original', 'method', 'gateway')
                        ELSE {json}('kind', 'none') END,
                   status, 0, debt - written_off, 0, 0, {at}, NULL, NULL
            FROM lc_c""",
        ),
        (
            "journal transactions",
            f"""INSERT INTO journal_transactions (kind, memo, ref, province_code, posted_at)
            SELECT k.kind, 'raw-lifecycle', NULL, c.province_code, {at}
            FROM (SELECT DISTINCT province_code FROM lc_c) c,
                 (SELECT 'auto_cancel.bills_settled' AS kind
                  UNION ALL SELECT 'cancellation.gift_forfeited'
                  UNION ALL SELECT 'cancellation.refund'
                  UNION ALL SELECT 'auto_cancel.debt_written_off') k""",
        ),
        (
            "journal entries",
            f"""INSERT INTO journal_entries (transaction_id, account_code, line_id,
                debit_fen, credit_fen)
            SELECT t.id, e0.account || c.province_code,
                   CASE WHEN e0.per_line = 1 THEN c.id END,
                   CASE WHEN e0.debit = 1 THEN a.amount ELSE 0 END,
                   CASE WHEN e0.debit = 1 THEN 0 ELSE a.amount END
            FROM lc_c c
            JOIN journal_transactions t ON t.memo = 'raw-lifecycle'
                 AND t.province_code = c.province_code AND t.posted_at = {at}
            JOIN (SELECT 'auto_cancel.bills_settled' AS kind, 'subscriber_cash:' AS account,
                         1 AS debit, 1 AS per_line, 'applied' AS what
                  UNION ALL SELECT 'auto_cancel.bills_settled', 'receivables:', 0, 1, 'applied'
                  UNION ALL SELECT 'cancellation.gift_forfeited', 'subscriber_gift:', 1, 1,
                                   'gift'
                  UNION ALL SELECT 'cancellation.gift_forfeited', 'gift_forfeited:', 0, 0,
                                   'gift'
                  UNION ALL SELECT 'cancellation.refund', 'subscriber_cash:', 1, 1, 'refund'
                  UNION ALL SELECT 'cancellation.refund', 'refunds_payable:', 0, 1, 'refund'
                  UNION ALL SELECT 'auto_cancel.debt_written_off', 'bad_debt:', 1, 0,
                                   'written_off'
                  UNION ALL SELECT 'auto_cancel.debt_written_off', 'receivables:', 0, 1,
                                   'written_off') e0 ON e0.kind = t.kind
            JOIN (SELECT c2.id AS line_id, 'applied' AS what, c2.applied AS amount FROM lc_c c2
                  UNION ALL SELECT c2.id, 'gift', c2.gift FROM lc_c c2
                  UNION ALL SELECT c2.id, 'refund', c2.refund FROM lc_c c2
                  UNION ALL SELECT c2.id, 'written_off', c2.written_off FROM lc_c c2) a
                 ON a.line_id = c.id AND a.what = e0.what
            WHERE a.amount > 0""",
        ),
        (
            "bills settled or written off",
            """UPDATE bills SET
                paid_fen = bills.paid_fen + x.take,
                status = CASE WHEN x.owed - x.take <= 0 THEN 'paid'
                              WHEN x.write_off = 1 THEN 'written_off' ELSE 'unpaid' END
            FROM lc_bills x
            WHERE x.id = bills.id AND (x.take > 0 OR (x.owed - x.take > 0 AND x.write_off = 1))""",
        ),
        (
            "lines cancelled",
            f"""UPDATE lines SET status = 'cancelled', status_reason = 'arrears_auto_cancel',
                status_changed_at = {at},
                cash_fen = CASE WHEN lines.cash_fen > 0 THEN 0 ELSE lines.cash_fen END,
                gift_fen = CASE WHEN lines.gift_fen > 0 THEN 0 ELSE lines.gift_fen END,
                updated_at = {at}, version = lines.version + 1
            FROM lc_c c WHERE c.id = lines.id""",
        ),
        (
            "numbers into quarantine",
            f"""INSERT INTO numbers (msisdn, province_code, status, former_line_id, cancelled_at,
                quarantined_until, released_at)
            SELECT msisdn, province_code, 'quarantine', id, {at},
                   {plus_days(at, quarantine)}, NULL FROM lc_c WHERE true
            ON CONFLICT (msisdn) DO UPDATE SET province_code = excluded.province_code,
                status = excluded.status, former_line_id = excluded.former_line_id,
                cancelled_at = excluded.cancelled_at,
                quarantined_until = excluded.quarantined_until, released_at = NULL""",
        ),
        (
            "refunds",
            f"""INSERT INTO refunds (id, cancellation_id, line_id, province_code, kind, amount_fen,
                route, status, created_at, declines, last_error, gateway_ref, paid_at)
            SELECT 'rawr' || CAST(id AS VARCHAR), cid, id, province_code, 'now', refund,
                   {json}('kind', 'original', 'method', 'gateway'), 'pending', {at}, 0, NULL,
                   NULL, NULL
            FROM lc_c WHERE refund > 0""",
        ),
        (
            "the cancellations' outbox",
            f"""INSERT INTO outbox (topic, payload, province_code, created_at, attempts, status)
            SELECT topic, payload, province_code, {at}, 0, 'pending' FROM (
              SELECT 'payment.refund' AS topic,
                     {json}('refund_id', 'rawr' || CAST(id AS VARCHAR), 'msisdn', msisdn,
                            'amount_fen', refund, 'route',
                            {json}('kind', 'original', 'method', 'gateway')) AS payload,
                     province_code FROM lc_c WHERE refund > 0
              UNION ALL
              SELECT 'network.provisioning', {json}('msisdn', msisdn, 'action', 'deprovision'),
                     province_code FROM lc_c
              UNION ALL
              SELECT 'sms', {json}('to', notify, 'text',
                     '【销户服务】号码' || {masked("msisdn")} || '因长期欠费已自动销户，受理编号'
                     || ref || '。', 'kind', 'cancellation.completed'),
                     province_code FROM lc_c WHERE notify IS NOT NULL) m""",
        ),
        # --- the end of retention, the suspensions, the retained lines' clocks -----------
        (
            "retention ended",
            f"""UPDATE lines SET
                status = CASE WHEN arrears_since IS NOT NULL THEN 'arrears_suspended'
                              ELSE 'active' END,
                status_reason = CASE WHEN arrears_since IS NOT NULL
                                     THEN 'retention_ended_in_arrears'
                                     ELSE 'retention_ended' END,
                status_changed_at = {at}, updated_at = {at}, version = version + 1
            WHERE status = 'retained'
              AND COALESCE(retention_starts_on, retained_on) <= {
                retention_limit.replace("l.province_code", "province_code")
            }""",
        ),
        (
            "suspensions",
            f"""UPDATE lines SET status = 'arrears_suspended', status_reason = 'arrears',
                status_changed_at = {at}, arrears_since = :day, updated_at = {at},
                version = version + 1
            WHERE status = 'active' AND {
                overdue.replace("l.id", "lines.id").replace("l.province_code", "province_code")
            }""",
        ),
        (
            "retained lines' arrears clock",
            f"""UPDATE lines SET arrears_since = :day, updated_at = {at}, version = version + 1
            WHERE status = 'retained' AND arrears_since IS NULL AND {
                overdue.replace("l.id", "lines.id").replace("l.province_code", "province_code")
            }""",
        ),
        (
            "their outbox",
            f"""INSERT INTO outbox (topic, payload, province_code, created_at, attempts, status)
            SELECT topic, payload, province_code, {at}, 0, 'pending' FROM (
              SELECT 'network.provisioning' AS topic,
                     {json}('msisdn', msisdn, 'action', 'suspend') AS payload, province_code
              FROM lines WHERE status_changed_at = {at} AND status_reason = 'arrears'
              UNION ALL
              SELECT 'sms', {json}('to', msisdn, 'text', '{rules.SUSPENDED_TEXT[0]}' ||
                     {masked("msisdn")} || '{rules.SUSPENDED_TEXT[1]}', 'kind',
                     'arrears.suspended'), province_code
              FROM lines WHERE status_changed_at = {at} AND status_reason = 'arrears'
              UNION ALL
              SELECT 'network.provisioning', {json}('msisdn', msisdn, 'action', 'restore'),
                     province_code
              FROM lines WHERE status_changed_at = {at} AND status_reason = 'retention_ended'
              UNION ALL
              SELECT 'sms', {json}('to', msisdn, 'text', '【销户服务】号码' ||
                     {masked("msisdn")} || '的停机保号已到最长期限。', 'kind',
                     'retention.ended'), province_code
              FROM lines WHERE status_changed_at = {at}
                AND status_reason IN ('retention_ended', 'retention_ended_in_arrears')) m""",
        ),
        # --- the warnings ------------------------------------------------------------------
        (
            "warning candidates",
            f"""{temp} lc_w AS
            SELECT l.id, l.msisdn, l.province_code, l.owner_id, l.arrears_since,
                   {months_after("l.arrears_since", months)} AS cancel_on
            FROM lines l
            WHERE l.status IN ('arrears_suspended', 'retained') AND l.arrears_since IS NOT NULL
              AND l.arrears_since <= {widest}
              AND (l.status <> 'retained' OR {owes})""",
        ),
        (
            "warnings recorded",
            f"""INSERT INTO lifecycle_warnings (line_id, arrears_since, days_before,
                province_code, cancel_on, sent_at)
            SELECT w.id, w.arrears_since, o.k, w.province_code, w.cancel_on, {at}
            FROM lc_w w, ({offsets}) o
            WHERE w.cancel_on > :day
              AND {minus_k} <= :day
              AND NOT EXISTS (SELECT 1 FROM lifecycle_warnings r WHERE r.line_id = w.id
                              AND r.arrears_since = w.arrears_since AND r.days_before = o.k)""",
        ),
        (
            "lines warned",
            f"""{temp} lc_warned AS
            SELECT w.* FROM lc_w w
            JOIN lifecycle_warnings r ON r.line_id = w.id AND r.arrears_since = w.arrears_since
                 AND r.sent_at = {at}
                 AND r.days_before = (SELECT min(o.k) FROM ({offsets}) o
                     WHERE {minus_k} <= :day)""",
        ),
        (
            "warning SMS",
            f"""INSERT INTO outbox (topic, payload, province_code, created_at, attempts, status)
            SELECT 'sms', {json}('to', t.msisdn, 'text', '【销户服务】号码' ||
                   {masked("w.msisdn")} || '欠费停机，将于' || CAST(w.cancel_on AS VARCHAR) ||
                   '自动销户。', 'kind', 'auto_cancel.warning'), w.province_code, {at}, 0,
                   'pending'
            FROM lc_warned w JOIN (
                SELECT id AS line_id, msisdn FROM lc_warned
                UNION ALL
                SELECT w2.id, o.msisdn FROM lc_warned w2 JOIN lines o
                       ON o.owner_id = w2.owner_id AND o.status = 'active' AND o.id <> w2.id
            ) t ON t.line_id = w.id""",
        ),
        # --- the audit events --------------------------------------------------------------
        (
            "audit events",
            f"""{temp} lc_ev AS
            SELECT province_code AS chain, id AS line_id, 1 AS ord,
                   'cancellation.completed' AS action, msisdn, province_code,
                   {json}('cancellation_id', cid, 'reference', ref, 'channel', 'auto',
                          'reason', 'arrears_auto_cancel', 'arrears_since',
                          CAST(arrears_since AS VARCHAR), 'previous_status', status,
                          'forfeited_fen', gift, 'refund_now_fen', refund, 'debt_fen', debt,
                          'debt', CASE WHEN written_off > 0 THEN 'written_off'
                                       ELSE 'receivable' END) AS data
            FROM lc_c
            UNION ALL
            SELECT province_code, id, 2, 'sms.not_sent', msisdn, province_code,
                   {json}('kind', 'cancellation.completed',
                          'reason', 'line_cancelled_no_other_active_line')
            FROM lc_c WHERE notify IS NULL
            UNION ALL
            SELECT province_code, id, 3, 'line.retention_ended', msisdn, province_code,
                   {json}('from', 'retained', 'to', status, 'reason', 'retention_max_months')
            FROM lines WHERE status_changed_at = {at}
              AND status_reason IN ('retention_ended', 'retention_ended_in_arrears')
            UNION ALL
            SELECT province_code, id, 4, 'line.arrears_suspended', msisdn, province_code,
                   {json}('from', 'active', 'to', 'arrears_suspended', 'arrears_since',
                          CAST(arrears_since AS VARCHAR))
            FROM lines WHERE status_changed_at = {at} AND status_reason = 'arrears'
            UNION ALL
            SELECT province_code, id, 5, 'line.arrears_started', msisdn, province_code,
                   {json}('arrears_since', CAST(arrears_since AS VARCHAR))
            FROM lines WHERE status = 'retained' AND updated_at = {at} AND arrears_since = :day
            UNION ALL
            SELECT province_code, id, 6, 'line.auto_cancel_warned', msisdn, province_code,
                   {json}('cancel_on', CAST(cancel_on AS VARCHAR), 'days_before',
                          {days_left})
            FROM lc_warned""",
        ),
        (
            "audit chain heads (missing ones)",
            f"""INSERT INTO audit_chain_heads (chain, seq, last_hash)
            SELECT DISTINCT chain, 0, '{genesis}' FROM lc_ev WHERE true
            ON CONFLICT (chain) DO NOTHING""",
        ),
        (
            "audit events written",
            f"""INSERT INTO audit_events (chain, seq, occurred_at, actor, action, subject,
                province_code, data, prev_hash, hash)
            SELECT e.chain, h.seq + row_number() OVER (PARTITION BY e.chain
                                                       ORDER BY e.line_id, e.ord),
                   {at}, 'run:lifecycle', e.action, 'line:' || e.msisdn, e.province_code,
                   e.data, 'raw',
                   {
                "encode(sha256(convert_to(e.chain || e.action || e.msisdn || "
                "CAST(e.data AS text), 'UTF8')), 'hex')"
                if pg
                else "lower(hex(randomblob(32)))"
            }
            FROM lc_ev e JOIN audit_chain_heads h ON h.chain = e.chain""",
        ),
        (
            "audit chain heads moved",
            """UPDATE audit_chain_heads SET
                seq = (SELECT max(seq) FROM audit_events a WHERE a.chain = audit_chain_heads.chain),
                last_hash = 'raw'
            WHERE chain IN (SELECT DISTINCT chain FROM lc_ev)""",
        ),
        (
            "numbers released",
            f"""UPDATE numbers SET status = 'available', released_at = {at}
            WHERE status = 'quarantine' AND quarantined_until <= {at}""",
        ),
    ]
    return out
