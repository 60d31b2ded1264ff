"""CPU seconds spent during a timed run, read from /proc: the app processes, each node's
PostgreSQL backends serving the benchmark's database, and the broker's server.

A backend's CPU is counted from its first sighting: the ones alive at the start from their
value then, the ones born during the run from zero. Sampling every second keeps what a backend
that exits mid-run loses small (the app's pools keep theirs open). The servers' background
processes (WAL writer, checkpointer) are shared with other databases and not counted."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float | None:
    """User + system CPU seconds of one process (its threads included); None once gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return None


def _processes() -> list[tuple[int, bytes]]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                out.append((int(entry.name), (entry / "cmdline").read_bytes()))
            except OSError:
                continue
    return out


def backends(databases: dict[str, str]) -> dict[int, str]:
    """PostgreSQL backends serving each database (their process title names it): pid → node."""
    found = {}
    for pid, cmdline in _processes():
        title = cmdline.replace(b"\0", b" ").decode(errors="replace")
        if not title.startswith("postgres: "):
            continue
        for node, database in databases.items():
            if f" {database} " in title:
                found[pid] = node
    return found


def broker_pid() -> int | None:
    """The RabbitMQ server (Erlang's beam.smp), if one runs on this machine."""
    for pid, cmdline in _processes():
        if b"beam.smp" in cmdline.split(b"\0", 1)[0] and b"rabbit" in cmdline:
            return pid
    return None


@dataclass
class Usage:
    app: float
    db: dict[str, float]
    broker: float | None
    seconds: float


@dataclass
class CpuMeter:
    app_pids: list[int]
    databases: dict[str, str]  # node → database name
    _first: dict[int, float] = field(default_factory=dict)
    _last: dict[int, float] = field(default_factory=dict)
    _owner: dict[int, str] = field(default_factory=dict)
    _broker: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        self._first.clear()
        self._last.clear()
        self._owner.clear()
        self._broker = broker_pid()
        self.sample(first=True)

    def sample(self, *, first: bool = False) -> None:
        owners: dict[int, str] = {pid: "app" for pid in self.app_pids}
        owners.update(backends(self.databases))
        if self._broker is not None:
            owners[self._broker] = "broker"
        with self._lock:
            for pid, owner in owners.items():
                value = cpu_of(pid)
                if value is None:
                    continue
                if pid not in self._first:
                    self._first[pid] = value if first or owner in ("app", "broker") else 0.0
                    self._owner[pid] = owner
                self._last[pid] = value

    def stop(self, seconds: float) -> Usage:
        self.sample()
        with self._lock:
            spent: dict[str, float] = {}
            for pid, first in self._first.items():
                owner = self._owner[pid]
                spent[owner] = spent.get(owner, 0.0) + self._last[pid] - first
        return Usage(
            app=spent.get("app", 0.0),
            db={node: spent.get(node, 0.0) for node in self.databases},
            broker=spent.get("broker") if self._broker is not None else None,
            seconds=seconds,
        )
