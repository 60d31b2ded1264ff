"""Sandbox-only endpoints. The router is mounted only when XIAOHU_MODE=sandbox, so in
production every path here answers 404."""

from __future__ import annotations

from fastapi import APIRouter, Query

from xiaohu.http import UnitOfWork
from xiaohu.sandbox import service
from xiaohu.sandbox.schemas import ClockIn, ClockOut, SmsList, SmsOut
from xiaohu.sandbox.service import read_test_clock

router = APIRouter(prefix="/api/v1/sandbox", tags=["sandbox"])


@router.put("/clock", response_model=ClockOut, summary="Pin the test clock")
def put_clock(body: ClockIn, ctx: UnitOfWork) -> ClockOut:
    service.set_clock(ctx.session, body.now)
    service.on_other_nodes(ctx, lambda session: service.set_clock(session, body.now))
    return ClockOut(now=body.now, pinned=True)


@router.get("/clock", response_model=ClockOut)
def get_clock(ctx: UnitOfWork) -> ClockOut:
    return ClockOut(now=ctx.now(), pinned=read_test_clock(ctx.session) is not None)


@router.delete("/clock", response_model=ClockOut, summary="Back to real time")
def delete_clock(ctx: UnitOfWork) -> ClockOut:
    service.clear_clock(ctx.session)
    service.on_other_nodes(ctx, service.clear_clock)
    return ClockOut(now=ctx.runtime.system_clock.now(), pinned=False)


@router.get("/sms", response_model=SmsList, summary="What the SMS gateway would have sent")
def sms(ctx: UnitOfWork, msisdn: str | None = Query(None)) -> SmsList:
    return SmsList(
        messages=[
            SmsOut(to=m.to, text=m.text, kind=m.kind, sent_at=m.sent_at)
            for m in service.messages(ctx.session, msisdn)
        ]
    )
