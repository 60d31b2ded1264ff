"""The demo's stores and staff: in each province the demo lines use, three halls in the
provincial capital (a flagship, a standard hall, a partner's hall) and five accounts (a clerk at
each own hall, a hotline agent, a back-office clerk, an administrator), all with the fixed
sandbox passwords below. SANDBOX ONLY: these passwords are printed and published.

Loaded through the same import as an operator's files, adding only the codes and logins the
database does not hold yet, so `make demo` can run again without undoing an earlier try (a
lock-out, a changed password). The accounts share one argon2id hash per password: five hashes
instead of one per account keep the demo quick to load; a real import hashes each one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

from sqlalchemy import select

from xiaohu.identity.passwords import hash_password
from xiaohu.intake.roster import STAFF, STORES, import_items
from xiaohu.regions.provinces import PROVINCES
from xiaohu.runtime import Context
from xiaohu.staff import service as staff_service
from xiaohu.staff.models import StaffMember
from xiaohu.stores.models import Store

# Published with the demo (README, `xiaohu demo-load`): never use them outside a sandbox.
DEMO_STAFF_PASSWORDS = {
    "clerk": "sandbox-clerk-2026",
    "hotline_agent": "sandbox-hotline-2026",
    "backoffice": "sandbox-backoffice-2026",
    "admin": "sandbox-admin-2026",
}

# Province -> (code tag, capital, three well-known shopping areas of it).
CAPITALS: dict[str, tuple[str, str, tuple[str, str, str]]] = {
    "11": ("BJ", "北京", ("西单", "中关村", "望京")),
    "12": ("TJ", "天津", ("滨江道", "南开", "河西")),
    "13": ("SJZ", "石家庄", ("中山路", "裕华", "长安")),
    "14": ("TY", "太原", ("柳巷", "小店", "迎泽")),
    "15": ("HHHT", "呼和浩特", ("中山路", "新华", "赛罕")),
    "21": ("SY", "沈阳", ("太原街", "中街", "浑南")),
    "22": ("CC", "长春", ("重庆路", "红旗街", "桂林路")),
    "23": ("HRB", "哈尔滨", ("中央大街", "南岗", "道里")),
    "31": ("SH", "上海", ("南京东路", "徐家汇", "五角场")),
    "32": ("NJ", "南京", ("新街口", "河西", "江宁")),
    "33": ("HZ", "杭州", ("武林", "西湖", "滨江")),
    "34": ("HF", "合肥", ("四牌楼", "政务区", "蜀山")),
    "35": ("FZ", "福州", ("东街口", "台江", "仓山")),
    "36": ("NC", "南昌", ("八一广场", "红谷滩", "青山湖")),
    "37": ("JN", "济南", ("泉城路", "历下", "高新")),
    "41": ("ZZ", "郑州", ("二七", "金水", "郑东")),
    "42": ("WH", "武汉", ("江汉路", "光谷", "楚河汉街")),
    "43": ("CS", "长沙", ("五一广场", "岳麓", "星沙")),
    "44": ("GZ", "广州", ("天河", "北京路", "番禺")),
    "45": ("NN", "南宁", ("朝阳", "青秀", "琅东")),
    "46": ("HK", "海口", ("国贸", "龙华", "美兰")),
    "50": ("CQ", "重庆", ("解放碑", "观音桥", "沙坪坝")),
    "51": ("CD", "成都", ("春熙路", "天府", "武侯")),
    "52": ("GY", "贵阳", ("喷水池", "花果园", "观山湖")),
    "53": ("KM", "昆明", ("东风广场", "南屏街", "呈贡")),
    "54": ("LS", "拉萨", ("北京中路", "城关", "堆龙")),
    "61": ("XA", "西安", ("钟楼", "小寨", "高新")),
    "62": ("LZ", "兰州", ("西关", "城关", "安宁")),
    "63": ("XN", "西宁", ("大十字", "城西", "城北")),
    "64": ("YC", "银川", ("鼓楼", "金凤", "西夏")),
    "65": ("URC", "乌鲁木齐", ("大巴扎", "友好", "高新")),
}
_MUNICIPALITIES = frozenset({"11", "12", "31", "50"})
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗"
_GIVEN = ("伟", "芳", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超", "霞")


def city_of(province_code: str) -> str:
    """The capital as the lines' homes write it (the prefix geocoder: 北京, 广州市)."""
    capital = CAPITALS[province_code][1]
    return capital if province_code in _MUNICIPALITIES else f"{capital}市"


def store_records(provinces: Iterable[str]) -> list[dict[str, Any]]:
    records = []
    for p in sorted(provinces):
        tag, capital, (a, b, c) = CAPITALS[p]
        halls = [(a, "own_flagship", "旗舰营业厅"), (b, "own_standard", "营业厅")]
        halls.append((c, "partner", "合作营业厅"))
        for n, (area, kind, suffix) in enumerate(halls, start=1):
            records.append(
                {
                    "code": f"{p}-{tag}-{n:04d}",
                    "name": f"{capital}{area}{suffix}",
                    "province_code": p,
                    "city": city_of(p),
                    "kind": kind,
                }
            )
    return records


def staff_records(provinces: Iterable[str]) -> list[dict[str, Any]]:
    records = []
    for p in sorted(provinces):
        tag = CAPITALS[p][0]
        login = tag.lower()
        accounts = [
            (f"{login}.clerk1", "clerk", f"{p}-{tag}-0001"),
            (f"{login}.clerk2", "clerk", f"{p}-{tag}-0002"),
            (f"{login}.hotline", "hotline_agent", None),
            (f"{login}.backoffice", "backoffice", None),
            (f"{login}.admin", "admin", None),
        ]
        base = list(PROVINCES).index(p) * len(accounts)
        for i, (name, role, store) in enumerate(accounts):
            n = base + i
            record: dict[str, Any] = {
                "login": name,
                "name": _SURNAMES[n % len(_SURNAMES)] + _GIVEN[(n * 7) % len(_GIVEN)],
                "role": role,
                "province_code": p,
                "password": DEMO_STAFF_PASSWORDS[role],
            }
            if store is not None:
                record["store_code"] = store
            records.append(record)
    return records


@dataclass(frozen=True)
class RosterLoaded:
    stores: int  # stores added now
    staff: int  # accounts added now
    provinces: list[str]


def load_roster(ctx: Context, provinces: Iterable[str]) -> RosterLoaded:
    """Add the demo stores and staff of these provinces that are not here yet."""
    wanted = sorted(set(provinces) & set(CAPITALS))
    have_stores = set(ctx.session.scalars(select(Store.code)))
    have_staff = set(ctx.session.scalars(select(StaffMember.login)))
    stores = [r for r in store_records(wanted) if r["code"] not in have_stores]
    staff = [r for r in staff_records(wanted) if r["login"] not in have_staff]
    shared_hash = cache(hash_password)  # see the module's docstring: sandbox only
    roster = dataclasses.replace(STAFF, write=partial(staff_service.write, hasher=shared_hash))
    added_stores = added_staff = 0
    if stores:
        added_stores = import_items(ctx, STORES, enumerate(stores, 1), source="demo").imported
    if staff:
        added_staff = import_items(ctx, roster, enumerate(staff, 1), source="demo").imported
    return RosterLoaded(added_stores, added_staff, wanted)
