"""A real HTTP server in a thread, on a free loopback port: for browser tests and screenshots.

The browser needs a server it can reach over TCP, and the data must be committed (the server's
own sessions see it), so this runs on its own temporary SQLite database in sandbox mode rather
than on the tests' rolled-back runtime.
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from xiaohu.assembly import build_runtime
from xiaohu.config import Settings
from xiaohu.kit.db import make_engine
from xiaohu.kit.migrate import upgrade
from xiaohu.runtime import Runtime

DEMO_KEY = "xiaohu-live-server-key-for-pages-0123456789"


def temporary_runtime(folder: Path) -> Runtime:
    """A migrated SQLite database in `folder`, in sandbox mode."""
    url = f"sqlite:///{folder / 'live.db'}"
    engine = make_engine(url)
    upgrade(engine)
    settings = Settings(database_url=url, mode="sandbox", secret_key=DEMO_KEY)
    return build_runtime(settings, engine)


class LiveServer:
    def __init__(self, runtime: Runtime) -> None:
        from xiaohu.app import create_app

        self.runtime = runtime
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(runtime), log_level="warning", access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the live server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


@contextmanager
def serving() -> Iterator[LiveServer]:
    """A started server on a fresh temporary database; everything is removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="xiaohu-live-") as tmp:
        runtime = temporary_runtime(Path(tmp))
        server = LiveServer(runtime)
        server.start()
        try:
            yield server
        finally:
            server.stop()
            runtime.engine.dispose()
