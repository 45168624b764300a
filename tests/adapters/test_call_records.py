"""Reading call records while the database is away: the screen-pop's previous contacts
are "unavailable" (None), not an error that would stop the pop."""

from __future__ import annotations

import socket

from acd.adapters.db.call_records import CallRecords
from acd.adapters.db.engine import make_engine


async def test_previous_contacts_are_unavailable_while_the_database_is_away():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    engine = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/none")
    try:
        assert await CallRecords(engine).previous_contacts("0311112222", 10) is None
    finally:
        await engine.dispose()
