"""Apply the Alembic migrations (the only owner of the schema) to a database URL."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from acd.adapters.db.engine import make_engine
from acd.settings import PROJECT_DIR


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(PROJECT_DIR / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    return config


async def upgrade(url: str) -> None:
    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")


def head_revision() -> str:
    """The newest schema revision this code knows."""
    head = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found")
    return head


def is_known_revision(revision: str) -> bool:
    """True when ``revision`` is one of this code's migrations (a database at an unknown
    revision was made by a newer Madoguchi)."""
    try:
        return ScriptDirectory.from_config(alembic_config("")).get_revision(revision) \
            is not None
    except CommandError:
        return False


async def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is migrated to; None when it has none."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text("SELECT version_num FROM alembic_version"))
                    ).scalar()
    except SQLAlchemyError:
        return None
    finally:
        await engine.dispose()
