"""agent intervals for fast KPI reports: one row per agent-state span (written by the
controller as states change), filled here from the AgentStateChanged events already in the
log; and an index on the dispositions' time for the reports.

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade() -> None:
    op.create_table(
        "agent_intervals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("agent", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(40)),
        sa.Column("started_at", sa.Double, nullable=False),
        sa.Column("ended_at", sa.Double),  # NULL while the agent is still in this state
        sa.Column("login_at", sa.Double, nullable=False),  # start of the logged-in session
        sa.Column("uniqueid", sa.String(64)),
    )
    # the open interval of an agent (closed at the next change), and the reports' ranges
    op.create_index("ix_agent_intervals_agent_ended_at", "agent_intervals",
                    ["agent", "ended_at"])
    op.create_index("ix_agent_intervals_ended_at", "agent_intervals", ["ended_at"])
    op.create_index("ix_agent_intervals_started_at", "agent_intervals", ["started_at"])
    # the reports read the dispositions recorded since the start of their range
    op.create_index("ix_dispositions_recorded_at", "dispositions", ["recorded_at"])
    _fill_from_the_event_log()


def _fill_from_the_event_log() -> None:
    from acd.reports.intervals import intervals_from_events, parse_state_change

    connection = op.get_bind()
    events = sa.table("call_events", sa.column("id"), sa.column("occurred_at"),
                      sa.column("kind"), sa.column("uniqueid"), sa.column("payload"))
    rows = connection.execute(
        sa.select(events.c.occurred_at, events.c.payload, events.c.uniqueid)
        .where(events.c.kind == "AgentStateChanged")
        .order_by(events.c.occurred_at, events.c.id))
    changes = [c for c in (parse_state_change(at, payload, uid) for at, payload, uid in rows)
               if c is not None]
    intervals = [i.row() for i in intervals_from_events(changes)]
    table = sa.table("agent_intervals", *[sa.column(c) for c in (
        "agent", "status", "reason", "started_at", "ended_at", "login_at", "uniqueid")])
    for i in range(0, len(intervals), BATCH):
        connection.execute(sa.insert(table), intervals[i:i + BATCH])


def downgrade() -> None:
    op.drop_index("ix_dispositions_recorded_at", "dispositions")
    op.drop_table("agent_intervals")
