"""Reading and validating the policy file (TOML) at start-up, with errors a person can act on."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from xiaohu.policy.schema import Override, Policy
from xiaohu.regions.provinces import PROVINCES


class PolicyError(ValueError):
    pass


def parse(text: str, source: str) -> Policy:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from exc
    unknown = sorted(set(raw) - {"name", "defaults", "override"})
    if unknown:  # a typo such as [default] must not silently mean "all defaults"
        raise PolicyError(f"{source}: unknown top-level key(s): {', '.join(unknown)}")
    overrides: list[dict[str, Any]] = []
    for i, table in enumerate(raw.pop("override", []), start=1):
        table = dict(table)
        province = str(table.pop("province", ""))
        effective = table.pop("effective_from", None)
        if province not in PROVINCES:
            raise PolicyError(
                f"{source}: override #{i}: province {province!r} is not a GB/T 2260 code"
            )
        overrides.append({"province": province, "effective_from": effective, "values": table})
    try:
        return Policy(
            name=raw.get("name", "default"),
            defaults=raw.get("defaults", {}),
            overrides=[Override(**o) for o in overrides],
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise PolicyError(f"{source}: {problems}") from exc


def load(path: Path | None) -> Policy:
    if path is None:
        text = resources.files("xiaohu.policy").joinpath("default.toml").read_text("utf-8")
        return parse(text, "built-in policy")
    if not path.is_file():
        raise PolicyError(f"policy file {path} does not exist")
    return parse(path.read_text("utf-8"), str(path))


@lru_cache(maxsize=4)
def cached(path: Path | None) -> Policy:
    return load(path)
