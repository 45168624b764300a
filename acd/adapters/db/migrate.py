"""Apply the Alembic migrations (the only owner of the schema) to a database URL."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.config import Config

from acd.settings import PROJECT_DIR


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(PROJECT_DIR / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    return config


async def upgrade(url: str) -> None:
    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
