"""One error family for the whole service.

Each error has a stable machine `code` (part of the public contract), an HTTP status and a
message in Chinese and English. Domain code raises `DomainError("CODE", ...)`; one handler in
app.py turns it into application/problem+json (RFC 9457).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorKind:
    status: int
    title: str
    message: str
    message_en: str


CATALOG: dict[str, ErrorKind] = {
    # generic
    "VALIDATION_FAILED": ErrorKind(
        422, "Validation failed", "请求内容有误", "The request is invalid"
    ),
    "MALFORMED_JSON": ErrorKind(
        400, "Malformed JSON", "请求不是合法的 JSON", "The body is not valid JSON"
    ),
    "NOT_FOUND": ErrorKind(404, "Not found", "未找到", "Not found"),
    "UNAUTHENTICATED": ErrorKind(401, "Unauthenticated", "请先登录", "Sign in first"),
    "FORBIDDEN": ErrorKind(403, "Forbidden", "无权操作该号码", "Not allowed for this number"),
    "METHOD_NOT_ALLOWED": ErrorKind(
        405, "Method not allowed", "不支持该方法", "Method not allowed"
    ),
    "INTERNAL_ERROR": ErrorKind(
        500, "Internal error", "系统错误，请稍后再试", "Internal error, please retry later"
    ),
    "DATABASE_UNAVAILABLE": ErrorKind(
        503, "Database unavailable", "数据库暂不可用", "The database is unavailable"
    ),
    "CONFLICT": ErrorKind(
        409, "Conflict", "数据已被并发修改，请重试", "Changed concurrently, please retry"
    ),
    "PAYLOAD_TOO_LARGE": ErrorKind(
        413, "Payload too large", "请求内容过大", "The request body is too large"
    ),
    "NOT_READY": ErrorKind(503, "Not ready", "服务尚未就绪", "The service is not ready"),
    "NODE_UNAVAILABLE": ErrorKind(
        503,
        "Node unavailable",
        "该号码归属省份的系统暂不可用，请稍后再试",
        "The system of the number's home province is unavailable, please retry later",
    ),
    # idempotency
    "IDEMPOTENCY_KEY_REUSED": ErrorKind(
        422,
        "Idempotency key reused",
        "幂等键已用于不同的请求",
        "This Idempotency-Key was used for a different request",
    ),
    "IDEMPOTENCY_KEY_INVALID": ErrorKind(
        400, "Idempotency key invalid", "幂等键格式错误", "The Idempotency-Key header is invalid"
    ),
    # import
    "IMPORT_INVALID": ErrorKind(
        422,
        "Import has invalid records",
        "导入数据有误，未写入任何记录",
        "The import has invalid records; nothing was written",
    ),
    # sign-in
    "OTP_THROTTLED": ErrorKind(
        429,
        "Code requested too often",
        "验证码发送过于频繁，请稍后再试",
        "A code was sent recently; wait before asking again",
    ),
    "VERIFICATION_FAILED": ErrorKind(
        401,
        "Verification failed",
        "验证码或服务密码错误",
        "The code or the service password is wrong",
    ),
    "VERIFICATION_LOCKED": ErrorKind(
        429,
        "Sign-in locked",
        "验证失败次数过多，已锁定 30 分钟",
        "Too many failed attempts; sign-in is locked for 30 minutes",
    ),
    "LINE_NOT_FOUND": ErrorKind(404, "Line not found", "号码不存在", "No such number"),
    "OTP_NOT_REQUESTED": ErrorKind(
        401,
        "No code requested",
        "请先获取验证码（或验证码已过期）",
        "No live code for this number: request one first",
    ),
    "RATE_LIMITED": ErrorKind(
        429, "Rate limited", "请求过于频繁，请稍后再试", "Too many requests; retry later"
    ),
    "LINE_CANCELLED": ErrorKind(
        409,
        "Line cancelled",
        "号码已销户，不再接收短信；请用受理编号、服务密码和证件号码登录",
        "The number is cancelled and receives no SMS; sign in with the reference, "
        "the service password and the ID number",
    ),
    # money and remedies
    "INSUFFICIENT_FUNDS": ErrorKind(
        409, "Insufficient funds", "余额不足以支付", "The balance does not cover this"
    ),
    "PAYMENT_DECLINED": ErrorKind(
        402, "Payment declined", "支付未成功", "The payment was declined"
    ),
    "CONTRACT_NOT_FOUND": ErrorKind(404, "Contract not found", "合约不存在", "No such contract"),
    "CONTRACT_NOT_ACTIVE": ErrorKind(
        409, "Contract not active", "合约不在有效期内", "The contract is not in force"
    ),
    "LIFETIME_TERM": ErrorKind(
        409,
        "Lifetime term",
        "终身靓号协议无法在线解约，请走投诉渠道",
        "A lifetime premium-number term cannot be ended online; use the complaint route",
    ),
    "NO_BUNDLE": ErrorKind(
        409, "No broadband bundle", "该号码未绑定宽带", "This line anchors no broadband bundle"
    ),
    "TARGET_LINE_INVALID": ErrorKind(
        409,
        "Target line invalid",
        "目标号码不属于同一机主或不可用",
        "The target line is not an active line of the same owner",
    ),
    "NO_FAMILY_GROUP": ErrorKind(
        409,
        "Not a family primary",
        "该号码不是亲情网/主副卡的主卡",
        "This line is not the primary of a family group",
    ),
    "ORDER_NOT_FOUND": ErrorKind(404, "Order not found", "订单不存在", "No such order"),
    "ORDER_NOT_OPEN": ErrorKind(
        409, "Order not open", "订单已完成或已取消", "The order is already done or cancelled"
    ),
    "REFUND_NOT_FOUND": ErrorKind(404, "Refund not found", "退款不存在", "No such refund"),
    "REFUND_NOT_FAILED": ErrorKind(
        409, "Refund not failed", "退款未失败", "The refund has not failed"
    ),
    "PAYMENT_EXCEEDS_OWED": ErrorKind(
        422, "Payment exceeds what is owed", "缴费金额超过欠费", "More than the closed line owes"
    ),
    # cancellation
    "CANCELLATION_BLOCKED": ErrorKind(
        409, "Cancellation blocked", "当前不能销户", "The line cannot be cancelled now"
    ),
    "REAL_NAME_MISMATCH": ErrorKind(
        403,
        "Real name mismatch",
        "机主姓名或证件号码不符",
        "The owner's name or ID number does not match",
    ),
    "QUOTE_EXPIRED": ErrorKind(
        409, "Quote expired", "报价已过期，请重新校验", "The quote has expired; run the check again"
    ),
    "QUOTE_NOT_FOUND": ErrorKind(404, "Quote not found", "报价不存在", "No such quote"),
    "WARNINGS_NOT_ACKNOWLEDGED": ErrorKind(
        422, "Warnings not acknowledged", "请先确认所有提示", "Acknowledge every warning first"
    ),
    "REFUND_ROUTE_INVALID": ErrorKind(
        422, "Refund route invalid", "退费方式不可用", "This refund route cannot be used"
    ),
    "CANCELLATION_NOT_FOUND": ErrorKind(
        404, "Cancellation not found", "销户记录不存在", "No such cancellation"
    ),
    "UNDO_WINDOW_CLOSED": ErrorKind(
        409, "Undo window closed", "已超过返销期限", "The undo window has closed"
    ),
    "ALREADY_CANCELLED": ErrorKind(
        409, "Already cancelled", "号码已销户", "The line is already cancelled"
    ),
    "NUMBER_REISSUED": ErrorKind(
        409,
        "Number reissued",
        "号码已重新启用，无法返销",
        "The number has been reissued; it cannot be restored",
    ),
    "REAL_NAME_LOCKED": ErrorKind(
        429,
        "Real name attempts exceeded",
        "机主信息核验失败次数过多，请稍后再试",
        "Too many wrong names or ID numbers for this number; retry later",
    ),
    # runs
    "PERIOD_INVALID": ErrorKind(
        422, "Period invalid", "账期格式应为 YYYY-MM", "The period must look like YYYY-MM"
    ),
    "PERIOD_NOT_ENDED": ErrorKind(
        409, "Period not ended", "账期尚未结束", "The billing period has not ended yet"
    ),
    # stores, staff, documents at the counter
    "STORE_NOT_FOUND": ErrorKind(404, "Store not found", "未找到该营业厅", "No such store"),
    "DOCUMENTS_MISSING": ErrorKind(
        422,
        "Documents missing",
        "证件不齐全，请补齐所列材料",
        "Documents are missing: bring every piece listed",
    ),
    "AGENT_IS_OWNER": ErrorKind(
        422,
        "Agent is the owner",
        "代办人与机主为同一人，请按机主本人办理",
        "The agent is the owner: handle it as the owner in person",
    ),
    "NOT_AT_COUNTER": ErrorKind(
        409,
        "Needs the owner at the counter",
        "此项须机主本人持证到柜台办理",
        "This needs the owner in person at the counter",
    ),
    # the store channel (counter/)
    "NOTHING_TO_CLEAR": ErrorKind(
        409,
        "Nothing to clear",
        "号码不处于该柜台业务可处理的状态",
        "The line is not in the state this counter action clears",
    ),
    # refusal evidence (the notice of a refused cancellation)
    "REFUSAL_NOT_FOUND": ErrorKind(
        404, "Refusal not found", "未找到该拒绝销户记录", "No such refused cancellation"
    ),
    # invoices (电子发票)
    "INVOICE_NOT_FOUND": ErrorKind(404, "Invoice not found", "未找到该发票", "No such invoice"),
    # monthly settlement between provinces
    "SETTLEMENT_NOT_FOUND": ErrorKind(
        404, "Settlement not found", "该账期尚未结算", "The period has not been settled"
    ),
    # work orders (workorders/)
    "WORK_ORDER_NOT_FOUND": ErrorKind(
        404, "Work order not found", "工单不存在", "No such work order"
    ),
    "WORK_ORDER_DECIDED": ErrorKind(
        409,
        "Work order already decided",
        "该工单已处理，不能再次审批",
        "This work order has already been decided",
    ),
    "REVIEW_PENDING": ErrorKind(
        409,
        "Review pending",
        "该号码已有待审核的销户申请",
        "A cancellation of this line is already waiting for review",
    ),
    # lifecycle: retention, reactivation, numbers, platforms, runs
    "RETENTION_BLOCKED": ErrorKind(
        409, "Retention blocked", "当前不能办理停机保号", "The line cannot be retained now"
    ),
    "ARREARS": ErrorKind(
        409, "Arrears", "号码尚有欠费，请先缴清", "The line owes money: pay it first"
    ),
    "NOT_SUSPENDED": ErrorKind(
        409,
        "Not suspended",
        "号码未停机，无需复机",
        "The line is not retained or suspended for arrears",
    ),
    "NOT_IN_QUARANTINE": ErrorKind(
        409,
        "Not in quarantine",
        "号码不在冷冻期内，不能找回",
        "The number is not resting in quarantine",
    ),
    "NOT_FORMER_OWNER": ErrorKind(
        403,
        "Not the former owner",
        "证件与原机主不符，不能找回该号码",
        "The ID is not the number's former owner's",
    ),
    "TOO_MANY_QUERIES": ErrorKind(
        422, "Too many queries", "单次查询号码过多", "Too many numbers in one request"
    ),
    "PLATFORM_EXISTS": ErrorKind(
        409, "Platform exists", "该平台已登记", "A platform of that name is registered"
    ),
    "JOB_RUNNING": ErrorKind(
        409,
        "Job running",
        "该批处理正在另一进程中运行",
        "Another process is running this job now",
    ),
}


class InvariantViolated(RuntimeError):
    """A rule that must always hold did not (money that does not add up, a row that must
    exist): a bug, never the caller's fault. Raised explicitly, so `python -O` keeps it."""


class DomainError(Exception):
    """A failure the caller can act on. `extra` fields are added to the problem document.

    `keep_writes=True` says the writes made before this refusal are evidence (a failed
    sign-in's count and lock-out, a logged refusal) and must be committed with the error
    answer; by default a refusal undoes everything its request wrote. The units of work in
    `xiaohu.http` and the pages' `attempt` honour it, so one flag replaces per-route special cases.
    """

    def __init__(
        self,
        code: str,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        keep_writes: bool = False,
        **extra: Any,
    ) -> None:
        if code not in CATALOG:
            raise KeyError(f"unknown error code {code!r}: add it to kit/errors.py CATALOG")
        self.code = code
        self.keep_writes = keep_writes
        self.kind = CATALOG[code]
        self.detail = detail or self.kind.message_en
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra
        super().__init__(f"{code}: {self.detail}")

    @property
    def status(self) -> int:
        return self.kind.status

    def problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://xiaohu.dev/problems/{self.code.lower().replace('_', '-')}",
            "title": self.kind.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            "message": self.kind.message,
            "message_en": self.kind.message_en,
        }
        if self.errors is not None:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


def error_responses(*codes: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a route, from the codes it can return."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        kind = CATALOG[code]
        entry = out.setdefault(
            kind.status,
            {"description": "", "content": {"application/problem+json": {}}},
        )
        entry["description"] = " | ".join(filter(None, [entry["description"], code]))
    return out
