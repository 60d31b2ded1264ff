"""`xiaohu serve` in a subprocess on a free loopback port, driven over real HTTP.

In-process tests (TestClient) never see what only a served process shows: when the commit
happens relative to the answer, headers the server adds, a connection kept alive or dropped,
the engine's own behaviour outside the tests' rolled-back transaction. These servers run the
real command on a database of their own (a temporary SQLite file, or a fresh PostgreSQL
database when `XIAOHU_TEST_DATABASE_URL` names a server), in the mode a test asks for.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from xiaohu.kit.db import make_engine

SERVED_KEY = "served-process-test-key-0123456789-abcdefghij"
ADMIN_TOKEN = "served-admin-token-0123456789-abcdefghijklmn"
_databases = itertools.count()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def xiaohu_command() -> list[str]:
    """The installed `xiaohu` script next to this interpreter (the venv's), else `-m`."""
    script = Path(sys.executable).with_name("xiaohu")
    if script.exists():
        return [str(script)]
    found = shutil.which("xiaohu")
    return [found] if found else [sys.executable, "-m", "xiaohu.cli"]


@contextmanager
def fresh_database(tmp: Path) -> Iterator[str]:
    """A database no other server or test uses: SQLite in `tmp`, or a new PostgreSQL one."""
    base = os.environ.get("XIAOHU_TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp / 'served.db'}"
        return
    url = make_url(base)
    name = f"{url.database}_served_{os.getpid()}_{next(_databases)}"
    admin = make_engine(
        url.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Served:
    """A running `xiaohu serve` and an HTTP client bound to it."""

    def __init__(self, database_url: str, env: dict[str, str], workdir: Path) -> None:
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.log_path = workdir / f"serve-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.http = httpx2.Client(base_url=self.url, timeout=30)

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    def start(self, timeout: float = 60) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 (our own command)
            [*xiaohu_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"xiaohu serve exited early:\n{self.log()}")
            try:
                if httpx2.get(self.url + "/healthz", timeout=2).status_code in (200, 503):
                    return
            except httpx2.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"xiaohu serve did not answer in {timeout}s:\n{self.log()}")
            time.sleep(0.1)

    def stop(self) -> None:
        self.http.close()
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # The HTTP verbs, with a JSON body and an optional bearer token.
    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx2.Response:
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        if body is not None:
            kwargs["content"] = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        return self.http.request(method, path, headers=h, **kwargs)

    def get(self, path: str, **kw: Any) -> httpx2.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> httpx2.Response:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> httpx2.Response:
        return self.request("PUT", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> httpx2.Response:
        return self.request("DELETE", path, **kw)


def server_env(database_url: str, mode: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XIAOHU_")}
    env.update(
        {
            "XIAOHU_DATABASE_URL": database_url,
            "XIAOHU_MODE": mode,
            "XIAOHU_SECRET_KEY": SERVED_KEY,
            "PYTHONUNBUFFERED": "1",
        }
    )
    if mode == "production":  # a staging system: what production needs to start at all
        env.update({"XIAOHU_ALLOW_SANDBOX_GATEWAYS": "true", "XIAOHU_ADMIN_TOKEN": ADMIN_TOKEN})
    env.update(extra or {})
    return env


@contextmanager
def serve(mode: str = "sandbox", env: dict[str, str] | None = None) -> Iterator[Served]:
    """A started server on a fresh database; stopped and the database dropped afterwards."""
    with (
        tempfile.TemporaryDirectory(prefix="xiaohu-served-") as tmp,
        fresh_database(Path(tmp)) as url,
    ):
        server = Served(url, server_env(url, mode, env), Path(tmp))
        try:
            server.start()
            yield server
        finally:
            server.stop()


def add_rows(server: Served, *rows: Any) -> None:
    """Write ORM rows (stores, staff) straight into a served database, committed: for tables
    that no endpoint of this version loads."""
    engine = make_engine(server.database_url)
    try:
        with Session(engine) as session, session.begin():
            session.add_all(rows)
    finally:
        engine.dispose()
