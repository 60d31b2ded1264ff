"""Alembic environment: uses the caller's connection when given (tests, `xiaohu serve`).

Run by the standard Alembic CLI (`alembic upgrade head` with the repository's `alembic.ini`),
it connects to `XIAOHU_DATABASE_URL` (the same default as the service), through the service's
own engine set-up (SQLite's pragmas, hidden SQL parameters).
"""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context

from xiaohu.config import Settings
from xiaohu.kit.db import make_engine
from xiaohu.models import metadata

config = context.config


def database_url() -> str:
    """An explicit `sqlalchemy.url` (`kit.migrate`), else the service's setting. Read from the
    environment alone: the other settings (a production secret key) are not needed here."""
    default = str(Settings.model_fields["database_url"].default)
    return config.get_main_option("sqlalchemy.url") or os.environ.get(
        "XIAOHU_DATABASE_URL", default
    )


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        if config.config_file_name is not None:  # the CLI: alembic.ini's logging set-up
            fileConfig(config.config_file_name, disable_existing_loggers=False)
        engine = make_engine(database_url())
        try:
            with engine.begin() as conn:
                _run_with(conn)
        finally:
            engine.dispose()
        return
    _run_with(connection)


def _run_with(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata,
        render_as_batch=True,  # SQLite can barely ALTER: batch mode copies the table
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
