"""The pages' words in Chinese (the default) and English: plain dicts, one key per message.

`translator(lang)` gives templates `t(key, **values)`. A key that names an error code falls back
to the error catalogue's own Chinese and English messages, so a new error code reads well on a
page without an entry here. A test keeps the two languages' keys identical.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import Request

LANGS = ("zh", "en")
HTML_LANG = {"zh": "zh-CN", "en": "en"}
STEPS = ("step_sign_in", "step_line", "step_check", "step_confirm", "step_done")

ZH: dict[str, str] = {
    "app_name": "自助销户",
    "skip_to_content": "跳到正文",
    "nav_label": "站点",
    "progress": "办理进度",
    "sign_out": "退出",
    "footer": "号码销户自助服务 · 全程线上办理，余额立即退还",
    "sandbox_note": "沙箱环境：验证码见 /api/v1/sandbox/sms",
    "step_sign_in": "登录",
    "step_line": "号码",
    "step_check": "校验",
    "step_confirm": "确认",
    "step_done": "完成",
    # sign in
    "sign_in_title": "登录",
    "sign_in_lead": "输入要注销的手机号码，获取短信验证码，再输入服务密码。",
    "msisdn_label": "手机号码",
    "msisdn_hint": "11 位数字",
    "send_code": "获取验证码",
    "resend_code": "重新发送",
    "otp_label": "短信验证码",
    "otp_hint": "6 位数字，5 分钟内有效",
    "password_label": "服务密码",
    "password_hint": "6 位数字；忘记时可到营业厅重置",
    "sign_in_button": "登录",
    "sign_in_privacy": "我们只用验证码和服务密码确认是您本人，不会保存验证码。",
    "code_sent": "验证码已发送至 {number}，{minutes} 分钟内有效。",
    "otp_throttled": "验证码发送过于频繁，请 {wait} 秒后再试。",
    "session_expired": "登录已过期，请重新登录。",
    "msisdn_invalid": "请输入 11 位手机号码。",
    "otp_invalid": "请输入短信中的 6 位验证码。",
    "password_invalid": "服务密码是 6 位数字。",
    "line_not_found": "该号码不存在或已销户。",
    "wrong_code_title": "验证码或服务密码错误",
    "wrong_code_body": "请核对短信中的验证码和服务密码后重试。",
    "attempts_left": "还可尝试 {n} 次，之后将暂时锁定。",
    "locked_title": "登录已暂时锁定",
    "locked_body": "错误次数过多，为保护您的号码，登录已暂时锁定。",
    "locked_until": "可再次尝试的时间（北京时间）：",
    "locked_help": "忘记服务密码？可携带身份证到任一营业厅重置。",
    "back_to_start": "返回首页",
    # the line
    "line_title": "我的号码",
    "plan": "套餐",
    "monthly_fee": "月费 {amount}",
    "home": "归属地",
    "owner": "机主",
    "cash_balance": "现金余额",
    "gift_balance": "赠款余额",
    "arrears": "欠费",
    "attached": "号码上的业务",
    "until": "至 {date}",
    "lifetime": "终身",
    "contract_kind_handset": "合约机",
    "contract_kind_premium_number": "靓号最低消费",
    "contract_kind_converged": "融合业务合约",
    "bundle_role_anchor": "融合宽带主号",
    "bundle_role_member": "融合宽带成员",
    "family_role_primary": "亲情网主卡",
    "family_role_member": "亲情网成员",
    "pending_order": "在途订单（{kind}）",
    "start_check": "检查能否销户",
    "check_is_free": "检查不会改变号码，只列出需要处理的事项和退款金额。",
    "status_active": "正常",
    "status_arrears_suspended": "欠费停机",
    "status_retained": "停机保号",
    "status_lost": "挂失",
    "status_fraud_stop": "涉诈停机",
    "status_judicial_freeze": "司法冻结",
    "status_cancelled": "已销户",
    # the check
    "check_title": "销户校验",
    "check_ready": "可以销户",
    "check_ready_lead": "没有需要处理的事项。请核对下面的结算明细。",
    "check_blocked": "销户前需处理 {n} 项",
    "check_blocked_lead": "每一项都可以在这里直接处理，处理完成后会自动重新校验。",
    "check_offline": "该号码无法在线销户",
    "check_offline_lead": "以下事项需要线下办理。处理后即可在线销户或在营业厅直接办理。",
    "blocker_ARREARS": "有欠费",
    "blocker_ABNORMAL_STATE": "号码状态异常",
    "blocker_NOT_REAL_NAME": "未实名登记",
    "blocker_CONTRACT_ACTIVE": "合约未到期",
    "blocker_PREMIUM_MIN_SPEND": "靓号最低消费协议",
    "blocker_BROADBAND_BOUND": "绑定了融合宽带",
    "blocker_FAMILY_PRIMARY": "亲情网主卡",
    "blocker_PENDING_ORDER": "有在途订单",
    "blocker_BANK_COLLECTION_PENDING": "银行代扣处理中",
    "blocker_CHANNEL_NOT_ALLOWED": "不支持在线办理",
    "blocker_ALREADY_CANCELLED": "号码已销户",
    "remedy_pay": "立即缴费 {amount}",
    "remedy_end_contract": "支付违约金 {amount} 并解约",
    "or_wait_until": "或等待合约于 {date} 到期。",
    "move_anchor_to": "把宽带转到我的另一个号码",
    "remedy_move_anchor": "转移宽带主号",
    "remedy_cancel_broadband": "一并取消宽带",
    "remedy_remove_members": "移出全部 {n} 个成员",
    "remedy_cancel_order": "撤销订单 {order}",
    "remedy_done_pay": "缴费成功。",
    "remedy_done_early_termination": "合约已解除。",
    "remedy_done_move_anchor": "宽带已转到您的另一个号码。",
    "remedy_done_cancel_broadband": "宽带已取消。",
    "remedy_done_remove_members": "成员已全部移出。",
    "remedy_done_rehome": "主卡已转移。",
    "remedy_done_cancel_order": "订单已撤销。",
    "remedy_failed": "未能完成：",
    "where_to_go": "去哪里办理",
    "go_store": "请机主携带身份证件原件，到运营商任一自有营业厅办理（不限归属地）。",
    "go_wait": "请等待处理完成后再来办理，通常不超过 1 个工作日。",
    "complaint_first": "先拨打运营商客服热线（10086 / 10010 / 10000）或到营业厅投诉，"
    "48 小时内答复。",
    "complaint_then": "{days} 天内未解决，可向工信部电信用户申诉受理中心（12300）申诉。",
    "quote_title": "结算明细",
    "gift_applied": "赠款抵扣",
    "refund_total": "应退现金",
    "refund_now": "立即退还",
    "reserve": "预留款（账期结束后多退少补）",
    "forfeited": "作废赠款",
    "quote_valid_until": "报价有效期至 {time}（北京时间）。",
    "continue": "继续",
    "recheck": "重新校验",
    "back_to_line": "返回我的号码",
    "back_to_check": "返回销户校验",
    "charge_plan_fee_prorated": "本月套餐费（按天）",
    "charge_plan_fee": "本月套餐费",
    "charge_plan_fee_full_month": "本月套餐费（整月）",
    "charge_usage_unbilled": "未出账通话/流量费",
    "charge_unbilled_usage": "未出账通话/流量费",
    "charge_retention_fee": "停机保号费",
    "charge_penalty": "违约金",
    # confirm
    "confirm_title": "确认销户",
    "fix_these": "请修改以下内容：",
    "route_legend": "退款到",
    "route_original": "原路退回",
    "route_bank_card": "银行卡",
    "route_transfer": "转到我的另一个号码",
    "route_cash": "现金",
    "account_label": "银行卡号",
    "to_msisdn_label": "转入号码",
    "real_name_legend": "机主实名信息",
    "real_name_hint": "请填写登记时的姓名和完整证件号码，仅用于核对，不会显示或保存明文。",
    "name_label": "机主姓名",
    "id_label": "身份证号码",
    "ack_legend": "请阅读并确认",
    "unbind_title": "请先解绑互联网账号：",
    "confirm_button": "确认注销 {number}",
    "confirm_undo_note": "销户后 {hours} 小时内可以撤销。",
    "name_required": "请填写机主姓名。",
    "id_required": "请填写证件号码。",
    "route_required": "请选择退款方式。",
    "account_invalid": "请输入 12 到 19 位银行卡号。",
    "to_msisdn_invalid": "请选择转入号码。",
    # done
    "done_title": "号码已注销",
    "done_body": "{number} 已注销，服务已停止。",
    "reference": "业务流水号",
    "route": "退款方式",
    "cancelled_at": "销户时间",
    "recycled_after": "号码冷冻至",
    "download_receipt": "下载销户证明（PDF）",
    "unbind_short": "银行、微信、支付宝等账号仍绑定此号码的，请尽快改绑。",
    "undo_title": "改变主意了？",
    "undo_body": "{time} 前可以撤销销户（返销）：号码恢复使用，销户时停止的套餐和业务恢复，"
    "销户费用冲回，预留款留作余额；已退出的退款归您所有，不会收回。",
    "undo_button": "撤销销户",
    "undo_closed": "撤销期限已过。",
    "reversed_title": "已撤销销户",
    "reversed_body": "{number} 已恢复使用：号码、套餐和销户时停止的业务已恢复，销户费用已冲回。",
    # errors and expiry
    "expired_title": "报价已过期",
    "expired_body": "结算金额可能已变化，请重新校验后再确认。",
    "error_title": "无法完成",
    "csrf_failed": "页面已过期，请返回重新操作。",
    # remedy confirmation
    "review_title_pay": "确认缴费",
    "review_title_early_termination": "确认提前解约",
    "review_title_cancel_broadband": "确认取消宽带",
    "review_title_remove_members": "确认移出成员",
    "review_title_cancel_order": "确认撤销订单",
    "review_amount": "金额",
    "review_for": "用于",
    "review_from": "钱从哪里付",
    "review_no_money": "不涉及付款。",
    "pays_billed": "已出账未缴的账单",
    "pays_final_shortfall": "销户结算中余额不足的部分（本月套餐费等）",
    "pays_into": "缴入号码 {number}，先抵扣最早的账单，其余留作该号码余额。",
    "pays_penalty": "合约 {ref}（{kind}，至 {date}）的提前解约违约金。",
    "from_online": "在线支付（另行付款，不动用号码余额）",
    "from_cash": "号码现金余额",
    "from_gift": "号码赠款余额",
    "from_penalty_payment": "在线支付（违约金单独付款）",
    "penalty_from_payment_why": "号码余额要留作销户结算，所以违约金单独在线支付，不占用余额。",
    "penalty_from_balance_why": "扣除违约金后，余额仍足够支付销户结算。",
    "review_cancel_broadband": "取消宽带 {bundle}：宽带停止服务，装维人员上门回收设备。",
    "review_remove_members": "把 {n} 个成员移出亲情网，成员号码本身不受影响。",
    "review_cancel_order": "撤销在途订单 {order}。",
    "review_final_early_termination": "解约后合约不能恢复；即使之后撤销销户，此合约也不会恢复，"
    "违约金不退。",
    "review_final_cancel_broadband": "宽带取消后不能恢复；即使之后撤销销户，宽带也不会恢复。",
    "review_final_remove_members": "移出后不能恢复；即使之后撤销销户，成员也需重新办理加入。",
    "review_final_cancel_order": "订单撤销后不能恢复。",
    "review_confirm_pay": "确认支付 {amount}",
    "review_confirm_early_termination": "确认支付 {amount} 并解约",
    "review_confirm_cancel_broadband": "确认取消宽带",
    "review_confirm_remove_members": "确认移出成员",
    "review_confirm_cancel_order": "确认撤销订单",
    "review_back": "返回，不办理",
    "pay_on_line": "欠费在机主名下的号码 {number} 上，缴费将缴入该号码。",
    "remedy_pay_bills": "在线缴清欠费 {amount}",
    "pay_anyway": "欠费可以现在在线缴清；到营业厅办理销户时也需先结清。",
    "check_store_only_lead": "请到{province}的营业厅办理销户，营业厅会一并处理下面列出的事项。",
    "go_home_store": "请机主到归属地（{province}）的运营商自有营业厅办理销户，需携带：",
    "bring_document": "机主本人的{doc}原件",
    "bring_service_password": "服务密码（如忘记，营业厅可凭证件重置）",
    "at_the_store_too": "到营业厅办理销户时一并处理，无需先在线办理。",
    "id_type_resident_id": "居民身份证",
    "id_type_passport": "护照",
    "id_type_hk_macao_permit": "港澳居民来往内地通行证",
    "id_type_taiwan_permit": "台湾居民来往大陆通行证",
    "id_type_foreign_permanent_resident": "外国人永久居留身份证",
    # what a reversal does not restore
    "undo_not_restored": "撤销不会恢复销户前单独办理的事项：{items}。",
    "not_restored_contract": "已提前解约的合约 {ref}（违约金不退）",
    "not_restored_broadband": "已取消的宽带 {ref}",
    "id_check_char_invalid": "身份证号码的最后一位校验码不正确（GB 11643-1999），"
    "请核对后重新输入。",
    "id_number_invalid": "身份证号码格式不正确：应为 17 位数字加 1 位数字或 X。",
    # missing pages
    "not_found_title": "页面不存在",
    "not_found_body": "您要找的页面不存在或已移动。",
    "method_not_allowed_title": "无法这样打开此页面",
    "method_not_allowed_body": "请从首页重新开始。",
    "server_error_title": "服务暂时出错",
    "server_error_body": "请稍后再试；您的号码没有被更改。",
    "unavailable_title": "服务暂时不可用",
    "unavailable_body": "请稍后再试；您的号码没有被更改。",
    "bad_request_title": "无法处理此请求",
    "bad_request_body": "填写的内容有误，请从首页重新开始。",
    "go_home": "返回首页",
    # a cancelled number signs in with its reference (it receives no SMS)
    "cancelled_link": "已销户的号码",
    "cancelled_title": "已销户号码登录",
    "cancelled_lead": "已销户的号码不再接收短信。请输入销户时的业务流水号（见完成页面或销户证明）、"
    "服务密码和机主证件号码，以撤销销户或查看结算。",
    "cancelled_found": "{number} 已销户，不再接收短信验证码。请用业务流水号登录。",
    "reference_label": "业务流水号",
    "reference_hint": "以 XH 开头，见完成页面、短信或销户证明",
    "reference_required": "请输入业务流水号。",
    "id_number_label": "机主证件号码",
    "id_number_hint": "登记时的完整证件号码",
    "wrong_reference_title": "信息不符",
    "wrong_reference_body": "业务流水号、服务密码或证件号码有误，请核对后重试。",
    "not_cancelled": "{number} 不是已销户的号码，请用短信验证码登录。",
    "sign_in_with_code": "用短信验证码登录",
    # per-client limits
    "rate_limited_title": "操作过于频繁",
    "rate_limited_body": "此网络的请求次数过多，为保护所有号码，请 {wait} 秒后再试。",
    # the refund's status and the settlement
    "refund_amount": "退还金额",
    "refund_status": "退款状态",
    "refund_status_pending": "退款处理中",
    "refund_status_paid": "已退款",
    "refund_status_failed": "退款失败，客服将联系您",
    "refund_pending_note": "退款已提交支付机构，到账后此处会更新。",
    "refund_failed_note": "支付机构未能完成退款。款项仍为您保留，客服将联系您重新退款。",
    "settlement_title": "账期结算",
    "settlement_closed_at": "结算时间",
    "settlement_late_usage": "未出账通话/流量费",
    "settlement_trued_up": "预留款退还",
    "settlement_shortfall": "仍需缴纳",
    "settlement_pending": "账期结束后结算预留款，多退少补。",
}

EN: dict[str, str] = {
    "app_name": "Close my number",
    "skip_to_content": "Skip to content",
    "nav_label": "Site",
    "progress": "Progress",
    "sign_out": "Sign out",
    "footer": "Number cancellation self-service · online end to end, balance refunded at once",
    "sandbox_note": "Sandbox: codes are at /api/v1/sandbox/sms",
    "step_sign_in": "Sign in",
    "step_line": "Line",
    "step_check": "Check",
    "step_confirm": "Confirm",
    "step_done": "Done",
    "sign_in_title": "Sign in",
    "sign_in_lead": "Enter the number to close, get a code by SMS, then enter the service "
    "password.",
    "msisdn_label": "Mobile number",
    "msisdn_hint": "11 digits",
    "send_code": "Send code",
    "resend_code": "Resend",
    "otp_label": "SMS code",
    "otp_hint": "6 digits, valid for 5 minutes",
    "password_label": "Service password",
    "password_hint": "6 digits; a store can reset it if you forgot it",
    "sign_in_button": "Sign in",
    "sign_in_privacy": "The code and the service password only prove it is you; codes are not "
    "kept.",
    "code_sent": "A code was sent to {number}; it is valid for {minutes} minutes.",
    "otp_throttled": "A code was sent a moment ago; try again in {wait} seconds.",
    "session_expired": "Your session has ended; please sign in again.",
    "msisdn_invalid": "Enter an 11-digit mobile number.",
    "otp_invalid": "Enter the 6-digit code from the SMS.",
    "password_invalid": "The service password has 6 digits.",
    "line_not_found": "This number does not exist or is already closed.",
    "wrong_code_title": "Wrong code or service password",
    "wrong_code_body": "Check the code in the SMS and your service password, then try again.",
    "attempts_left": "{n} attempt(s) left before sign-in is locked for a while.",
    "locked_title": "Sign-in is locked for now",
    "locked_body": "There were too many wrong attempts, so sign-in is locked to protect your "
    "number.",
    "locked_until": "You can try again at (Beijing time):",
    "locked_help": "Forgot the service password? Any store resets it with your ID.",
    "back_to_start": "Back to the start",
    "line_title": "My line",
    "plan": "Plan",
    "monthly_fee": "{amount} a month",
    "home": "Home province",
    "owner": "Owner",
    "cash_balance": "Cash balance",
    "gift_balance": "Gift credit",
    "arrears": "Arrears",
    "attached": "On this line",
    "until": "until {date}",
    "lifetime": "lifetime",
    "contract_kind_handset": "Handset contract",
    "contract_kind_premium_number": "Premium-number minimum spend",
    "contract_kind_converged": "Converged bundle contract",
    "bundle_role_anchor": "Anchors a broadband bundle",
    "bundle_role_member": "Member of a broadband bundle",
    "family_role_primary": "Primary of a family group",
    "family_role_member": "Member of a family group",
    "pending_order": "Order in progress ({kind})",
    "start_check": "Can I close this number?",
    "check_is_free": "The check changes nothing: it lists what to sort out and what you get back.",
    "status_active": "Active",
    "status_arrears_suspended": "Suspended for arrears",
    "status_retained": "Suspended, number kept",
    "status_lost": "Reported lost",
    "status_fraud_stop": "Fraud stop",
    "status_judicial_freeze": "Judicial freeze",
    "status_cancelled": "Cancelled",
    "check_title": "Cancellation check",
    "check_ready": "Ready to close",
    "check_ready_lead": "Nothing stands in the way. Check the settlement below.",
    "check_blocked": "{n} thing(s) to sort out first",
    "check_blocked_lead": "You can fix each one right here; the check runs again afterwards.",
    "check_offline": "This number cannot be closed online",
    "check_offline_lead": "What is listed below needs a visit or a call. After that, close it "
    "online or at the store.",
    "blocker_ARREARS": "Unpaid bills",
    "blocker_ABNORMAL_STATE": "The line is blocked",
    "blocker_NOT_REAL_NAME": "Not real-name registered",
    "blocker_CONTRACT_ACTIVE": "Contract in term",
    "blocker_PREMIUM_MIN_SPEND": "Premium-number minimum spend",
    "blocker_BROADBAND_BOUND": "Broadband is anchored here",
    "blocker_FAMILY_PRIMARY": "Primary of a family group",
    "blocker_PENDING_ORDER": "Order in progress",
    "blocker_BANK_COLLECTION_PENDING": "Direct debit in progress",
    "blocker_CHANNEL_NOT_ALLOWED": "Not available online",
    "blocker_ALREADY_CANCELLED": "Already closed",
    "remedy_pay": "Pay {amount} now",
    "remedy_end_contract": "Pay the {amount} penalty and end it",
    "or_wait_until": "Or wait until it ends on {date}.",
    "move_anchor_to": "Move the broadband to my other number",
    "remedy_move_anchor": "Move the broadband",
    "remedy_cancel_broadband": "Cancel the broadband too",
    "remedy_remove_members": "Remove all {n} member(s)",
    "remedy_cancel_order": "Cancel order {order}",
    "remedy_done_pay": "Payment received.",
    "remedy_done_early_termination": "The contract has ended.",
    "remedy_done_move_anchor": "The broadband now hangs on your other number.",
    "remedy_done_cancel_broadband": "The broadband is cancelled.",
    "remedy_done_remove_members": "All members were removed.",
    "remedy_done_rehome": "The primary role was handed over.",
    "remedy_done_cancel_order": "The order is cancelled.",
    "remedy_failed": "That did not work:",
    "where_to_go": "Where to go instead",
    "go_store": "The owner brings the original ID document to any of the operator's own "
    "stores, in any province.",
    "go_wait": "Wait until it completes (usually within one working day), then come back.",
    "complaint_first": "First complain to the operator (hotline 10086 / 10010 / 10000, or a "
    "store); they answer within 48 hours.",
    "complaint_then": "Not solved within {days} days: appeal to MIIT's telecom user appeal "
    "centre (12300).",
    "quote_title": "Settlement",
    "gift_applied": "Paid from gift credit",
    "refund_total": "Cash to refund",
    "refund_now": "Refunded now",
    "reserve": "Held back until the cycle closes",
    "forfeited": "Gift credit forfeited",
    "quote_valid_until": "This quote is valid until {time} (Beijing time).",
    "continue": "Continue",
    "recheck": "Check again",
    "back_to_line": "Back to my line",
    "back_to_check": "Back to the check",
    "charge_plan_fee_prorated": "Plan fee this month (by day)",
    "charge_plan_fee": "Plan fee this month",
    "charge_plan_fee_full_month": "Plan fee this month (full month)",
    "charge_usage_unbilled": "Unbilled calls and data",
    "charge_unbilled_usage": "Unbilled calls and data",
    "charge_retention_fee": "Number retention fee",
    "charge_penalty": "Penalty",
    "confirm_title": "Confirm the cancellation",
    "fix_these": "Please fix the following:",
    "route_legend": "Refund to",
    "route_original": "The way you paid",
    "route_bank_card": "Bank card",
    "route_transfer": "My other number",
    "route_cash": "Cash",
    "account_label": "Card number",
    "to_msisdn_label": "Number to credit",
    "real_name_legend": "The owner's registered identity",
    "real_name_hint": "The name and full ID number as registered; only compared, never shown "
    "or stored in clear.",
    "name_label": "Owner's name",
    "id_label": "ID number",
    "ack_legend": "Please read and confirm",
    "unbind_title": "Unbind internet accounts first:",
    "confirm_button": "Close {number}",
    "confirm_undo_note": "You can undo it within {hours} hours.",
    "name_required": "Enter the owner's name.",
    "id_required": "Enter the ID number.",
    "route_required": "Choose where the refund goes.",
    "account_invalid": "Enter a card number of 12 to 19 digits.",
    "to_msisdn_invalid": "Choose the number to credit.",
    "done_title": "Your number is closed",
    "done_body": "{number} is closed and its service has stopped.",
    "reference": "Reference",
    "route": "Refund route",
    "cancelled_at": "Closed at",
    "recycled_after": "Number quarantined until",
    "download_receipt": "Download the receipt (PDF)",
    "unbind_short": "Move bank, WeChat, Alipay and other accounts still tied to this number.",
    "undo_title": "Changed your mind?",
    "undo_body": "Until {time} you can undo this: the number is in use again with its plan and "
    "the services the cancellation stopped, the final charges are reversed and the reserve "
    "stays on it as balance; the refund already paid out is yours to keep.",
    "undo_button": "Undo the cancellation",
    "undo_closed": "The undo window has closed.",
    "reversed_title": "Cancellation undone",
    "reversed_body": "{number} is in use again: the number, its plan and the services the "
    "cancellation stopped are back, and the final charges are reversed.",
    "expired_title": "The quote has expired",
    "expired_body": "The amounts may have changed; run the check again, then confirm.",
    "error_title": "This could not be done",
    "csrf_failed": "This page has expired; go back and try again.",
    "review_title_pay": "Confirm the payment",
    "review_title_early_termination": "Confirm ending the contract",
    "review_title_cancel_broadband": "Confirm cancelling the broadband",
    "review_title_remove_members": "Confirm removing the members",
    "review_title_cancel_order": "Confirm cancelling the order",
    "review_amount": "Amount",
    "review_for": "What it pays for",
    "review_from": "Where the money comes from",
    "review_no_money": "No money moves.",
    "pays_billed": "Bills issued and unpaid",
    "pays_final_shortfall": "The part of the final bill (this month's plan fee …) the balance "
    "does not cover",
    "pays_into": "Paid into {number}: the oldest bills first, the rest stays there as balance.",
    "pays_penalty": "The early-termination penalty of contract {ref} ({kind}, until {date}).",
    "from_online": "An online payment (separate; the line's balance is not touched)",
    "from_cash": "The line's cash balance",
    "from_gift": "The line's gift credit",
    "from_penalty_payment": "An online payment of its own for the penalty",
    "penalty_from_payment_why": "The balance is needed for the final bill, so the penalty is "
    "paid by a payment of its own and the balance is left alone.",
    "penalty_from_balance_why": "After the penalty the balance still covers the final bill.",
    "review_cancel_broadband": "Cancel broadband {bundle}: the service stops and a technician "
    "collects the equipment.",
    "review_remove_members": "Remove {n} member(s) from the family group; their own numbers "
    "are not affected.",
    "review_cancel_order": "Cancel order {order}, which is in progress.",
    "review_final_early_termination": "An ended contract cannot be restored; undoing the "
    "cancellation later does not bring it back, and the penalty is not refunded.",
    "review_final_cancel_broadband": "Cancelled broadband cannot be restored; undoing the "
    "cancellation later does not bring it back.",
    "review_final_remove_members": "This cannot be undone; undoing the cancellation later does "
    "not bring the members back: they would join again.",
    "review_final_cancel_order": "A cancelled order cannot be restored.",
    "review_confirm_pay": "Pay {amount}",
    "review_confirm_early_termination": "Pay {amount} and end the contract",
    "review_confirm_cancel_broadband": "Cancel the broadband",
    "review_confirm_remove_members": "Remove the members",
    "review_confirm_cancel_order": "Cancel the order",
    "review_back": "Back, do nothing",
    "pay_on_line": "This is owed on the owner's line {number}; the payment goes there.",
    "remedy_pay_bills": "Pay the {amount} owed online",
    "pay_anyway": "You can pay what is owed online now; it must be settled before a store can "
    "close the number too.",
    "check_store_only_lead": "Close it at a store in {province}; the store sorts out what is "
    "listed below at the same visit.",
    "go_home_store": "The owner closes it at one of the operator's own stores in the home "
    "province ({province}), bringing:",
    "bring_document": "the owner's {doc}, the original",
    "bring_service_password": "the service password (a store resets it with the document if "
    "forgotten)",
    "at_the_store_too": "The store sorts this out at the same visit; nothing to do online first.",
    "id_type_resident_id": "resident ID card",
    "id_type_passport": "passport",
    "id_type_hk_macao_permit": "Mainland travel permit for Hong Kong and Macao residents",
    "id_type_taiwan_permit": "Mainland travel permit for Taiwan residents",
    "id_type_foreign_permanent_resident": "foreign permanent resident ID card",
    "undo_not_restored": "Undoing does not restore what was done separately before: {items}.",
    "not_restored_contract": "contract {ref}, ended early (the penalty is not refunded)",
    "not_restored_broadband": "broadband {ref}, cancelled",
    "id_check_char_invalid": "The last character of the ID number (its check character, GB "
    "11643-1999) is wrong; check the number and enter it again.",
    "id_number_invalid": "The ID number is malformed: 17 digits and a digit or X.",
    "not_found_title": "Page not found",
    "not_found_body": "The page you asked for does not exist or has moved.",
    "method_not_allowed_title": "This page cannot be opened that way",
    "method_not_allowed_body": "Please start again from the home page.",
    "server_error_title": "Something went wrong on our side",
    "server_error_body": "Please try again in a moment; nothing was changed on your number.",
    "unavailable_title": "The service is unavailable for a moment",
    "unavailable_body": "Please try again shortly; nothing was changed on your number.",
    "bad_request_title": "This request could not be handled",
    "bad_request_body": "Something in what was sent is not valid. Please start again.",
    "go_home": "Back to the home page",
    "cancelled_link": "Number already cancelled",
    "cancelled_title": "Sign in to a cancelled number",
    "cancelled_lead": "A cancelled number receives no SMS. Enter the reference of the "
    "cancellation (on the done page and the receipt), the service password and the owner's ID "
    "number to undo the cancellation or read its settlement.",
    "cancelled_found": "{number} is cancelled and receives no codes. Sign in with the reference.",
    "reference_label": "Reference",
    "reference_hint": "Starts with XH; on the done page, the SMS and the receipt",
    "reference_required": "Enter the reference.",
    "id_number_label": "Owner's ID number",
    "id_number_hint": "The full number the line was registered with",
    "wrong_reference_title": "The details do not match",
    "wrong_reference_body": "The reference, the service password or the ID number is wrong.",
    "not_cancelled": "{number} is not a cancelled number: sign in with an SMS code.",
    "sign_in_with_code": "Sign in with an SMS code",
    "rate_limited_title": "Too many requests",
    "rate_limited_body": "Too many requests came from this network; to protect every number, "
    "try again in {wait} seconds.",
    "refund_amount": "Refund",
    "refund_status": "Refund status",
    "refund_status_pending": "Refund on its way",
    "refund_status_paid": "Refunded",
    "refund_status_failed": "The refund failed; we will contact you",
    "refund_pending_note": "The payment provider has the refund; this page updates once it "
    "is paid.",
    "refund_failed_note": "The payment provider could not pay the refund. The money is still "
    "yours; customer service will contact you to pay it again.",
    "settlement_title": "Settlement",
    "settlement_closed_at": "Settled at",
    "settlement_late_usage": "Usage billed late",
    "settlement_trued_up": "Reserve refunded",
    "settlement_shortfall": "Still to pay",
    "settlement_pending": "The reserve is settled when the billing cycle closes.",
}

MESSAGES: dict[str, dict[str, str]] = {"zh": ZH, "en": EN}


def negotiate(request: Request) -> str:
    """`?lang=` wins, then the cookie set by the switch; Chinese by default."""
    from xiaohu.web.session import LANG_COOKIE

    for candidate in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if candidate in LANGS:
            return candidate
    return "zh"


def _catalogue_message(key: str, lang: str) -> str | None:
    from xiaohu.kit.errors import CATALOG

    code = key.removeprefix("error_")
    kind = CATALOG.get(code)
    if kind is None:
        return None
    return kind.message if lang == "zh" else kind.message_en


def translator(lang: str) -> Callable[..., str]:
    table: Mapping[str, str] = MESSAGES.get(lang, ZH)

    def t(key: str, **values: Any) -> str:
        text = table.get(key) or _catalogue_message(key, lang) or ZH.get(key) or key
        return text.format(**values) if values else text

    return t


def province_name(code: str, lang: str) -> str:
    from xiaohu.regions.provinces import PROVINCES

    province = PROVINCES.get(code)
    if province is None:
        return code
    return province.short if lang == "zh" else province.name_en


def charge_label(item: str, lang: str) -> str:
    """'plan_fee_prorated' → 本月套餐费（按天）; 'penalty:C-1' → 违约金 C-1."""
    base, _, ref = item.partition(":")
    text = MESSAGES[lang].get(f"charge_{base}") or base.replace("_", " ")
    return f"{text} {ref}" if ref else text


ROUTE_KINDS = {
    "zh": {"alipay": "支付宝", "wechat": "微信支付", "unionpay": "银联", "bank_card": "银行卡"},
    "en": {"alipay": "Alipay", "wechat": "WeChat Pay", "unionpay": "UnionPay",
           "bank_card": "bank card"},
}  # fmt: skip


def route_label(route: Mapping[str, Any] | None, lang: str) -> str:
    """A refund route or payment route in words: '原路退回（支付宝 zh***@example.com）'."""
    if not route:
        return ""
    kind = str(route.get("kind", ""))
    words = MESSAGES[lang]
    if kind == "transfer":
        return f"{words['route_transfer']} {route.get('to_msisdn', '')}".strip()
    if kind == "original":
        method = route.get("method")
        via = {"kind": method, "account": route.get("account")} if method else None
        detail = route_label(via, lang) if via else ""
        return f"{words['route_original']}" + (f" ({detail})" if detail else "")
    name = ROUTE_KINDS[lang].get(kind) or words.get(f"route_{kind}") or kind
    account = route.get("account")
    return f"{name} {account}" if account else name
