"""the append-only call event log and the call records derived from it

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("occurred_at", sa.Double, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("uniqueid", sa.String(64)),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_index("ix_call_events_uniqueid", "call_events", ["uniqueid"])
    op.create_table(
        "call_records",
        sa.Column("uniqueid", sa.String(64), primary_key=True),
        sa.Column("line", sa.String(32), nullable=False),
        sa.Column("queue", sa.String(40), nullable=False),
        sa.Column("caller", sa.String(32), nullable=False),
        sa.Column("agent", sa.String(16)),
        sa.Column("entered_at", sa.Double, nullable=False),
        sa.Column("queue_joined_at", sa.Double),
        sa.Column("answered_at", sa.Double),
        sa.Column("ended_at", sa.Double, nullable=False),
        sa.Column("wait_seconds", sa.Double),
        sa.Column("talk_seconds", sa.Double),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("agents_rung", sa.Integer, nullable=False),
        sa.Column("recording_file", sa.Text),
        sa.Column("close_reason", sa.String(16), nullable=False),
    )
    for column in ("line", "queue", "agent", "entered_at"):
        op.create_index(f"ix_call_records_{column}", "call_records", [column])


def downgrade() -> None:
    op.drop_table("call_records")
    op.drop_table("call_events")
