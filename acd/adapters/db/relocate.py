"""Rows that name files follow the files to other directories (after a restore).

The recordings' rows keep the absolute paths of their files (``source_path``,
``sealed_path``) and a voicemail row its message (``file``). A backup restored on a
machine whose recordings or voicemail directories differ moves those files; this moves
the paths in the rows with them.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, Table, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.adapters.db.schema import recordings, voicemails

_PATH_COLUMNS: tuple[tuple[Table, Column, Column], ...] = (
    (recordings, recordings.c.uniqueid, recordings.c.source_path),
    (recordings, recordings.c.uniqueid, recordings.c.sealed_path),
    (voicemails, voicemails.c.uniqueid, voicemails.c.file),
)


def moved(path: str, moves: list[tuple[Path, Path]]) -> str | None:
    """``path`` under its new directory (the first of ``moves``, ``(old, new)``, that
    holds it), or None when none of them does or nothing changes."""
    for old, new in moves:
        if old == new:
            continue
        try:
            rest = Path(path).relative_to(old)
        except ValueError:
            continue
        return str(new / rest)
    return None


async def relocate_files(engine: AsyncEngine, moves: list[tuple[Path, Path]]) -> int:
    """Rewrite every file path under an ``old`` directory of ``moves`` to the same path
    under its ``new`` one (give the deeper directories first); the number of values
    changed."""
    changed = 0
    async with engine.begin() as conn:
        for table, key, column in _PATH_COLUMNS:
            rows = (await conn.execute(select(key, column).where(column.is_not(None)))).all()
            for row_key, path in rows:
                new_path = moved(path, moves)
                if new_path is not None:
                    await conn.execute(update(table).where(key == row_key)
                                       .values({column.name: new_path}))
                    changed += 1
    return changed
