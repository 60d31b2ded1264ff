"""Every table of every area, imported in one place for Alembic and for tests."""

from __future__ import annotations

from xiaohu.audit import models as audit_models
from xiaohu.billing import models as billing_models
from xiaohu.cancellation import models as cancellation_models
from xiaohu.contracts import models as contract_models
from xiaohu.identity import models as identity_models
from xiaohu.interprovince import models as interprovince_models
from xiaohu.invoices import models as invoice_models
from xiaohu.kit import idempotency
from xiaohu.kit.db import Base
from xiaohu.ledger import models as ledger_models
from xiaohu.lifecycle import models as lifecycle_models
from xiaohu.lines import models as line_models
from xiaohu.notifications import models as notification_models
from xiaohu.numbers import models as number_models
from xiaohu.platforms import models as platform_models
from xiaohu.sandbox import models as sandbox_models
from xiaohu.scheduling import models as scheduling_models
from xiaohu.settlement import models as settlement_models
from xiaohu.staff import models as staff_models
from xiaohu.stores import models as store_models
from xiaohu.workorders import models as workorder_models

metadata = Base.metadata

__all__ = [
    "audit_models",
    "billing_models",
    "cancellation_models",
    "contract_models",
    "idempotency",
    "identity_models",
    "interprovince_models",
    "invoice_models",
    "ledger_models",
    "lifecycle_models",
    "line_models",
    "metadata",
    "notification_models",
    "number_models",
    "platform_models",
    "sandbox_models",
    "scheduling_models",
    "settlement_models",
    "staff_models",
    "store_models",
    "workorder_models",
]
