"""The synthetic KPI mix (tests/support/kpi_mix.py) written into a fresh database (both)."""

from __future__ import annotations

import pytest
from sqlalchemy import insert

import acd.adapters.db.migrate
from acd.adapters.db.engine import make_engine
from acd.adapters.db.schema import (
    agent_intervals,
    call_events,
    call_records,
    dispositions,
)
from acd.reports.intervals import intervals_from_events, parse_state_change
from tests.support.kpi_mix import DISPOSITIONS, RECORDS, STATES


@pytest.fixture
async def engine(database_url):
    await acd.adapters.db.migrate.upgrade(database_url)
    engine = make_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(insert(call_records), RECORDS)
        for row in DISPOSITIONS:  # one by one: ids in this order
            await conn.execute(insert(dispositions).values(**row))
        await conn.execute(insert(call_events), STATES)
        # what the controller writes as the states change
        changes = [parse_state_change(s["occurred_at"], s["payload"])
                   for s in sorted(STATES, key=lambda s: s["occurred_at"])]
        await conn.execute(insert(agent_intervals),
                           [i.row() for i in intervals_from_events(changes)])
    yield engine
    await engine.dispose()
