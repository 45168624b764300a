"""the ACD core: the agent roster, dispositions, voicemail, and the call records'
waiting-caller details (position when abandoned, congestion message time, overflow)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("languages", sa.String(20), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
    )
    op.create_table(
        "agent_queues",
        sa.Column("agent_id", sa.String(16), sa.ForeignKey("agents.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("queue", sa.String(40), primary_key=True),
        sa.Column("penalty", sa.Integer, nullable=False),
    )
    op.create_table(
        "agent_states",
        sa.Column("agent_id", sa.String(16), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("snapshot", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
    )
    op.create_table(
        "dispositions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("uniqueid", sa.String(64), nullable=False, index=True),
        sa.Column("agent", sa.String(16), nullable=False),
        sa.Column("queue", sa.String(40)),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("category", sa.String(80)),
        sa.Column("complaint", sa.Boolean, nullable=False),
        sa.Column("escalation", sa.Boolean, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.Double, nullable=False),
    )
    op.create_table(
        "voicemails",
        sa.Column("uniqueid", sa.String(64), primary_key=True),
        sa.Column("line", sa.String(32), nullable=False),
        sa.Column("queue", sa.String(40), nullable=False),
        sa.Column("caller", sa.String(32), nullable=False),
        sa.Column("file", sa.Text, nullable=False),
        sa.Column("seconds", sa.Double, nullable=False),
        sa.Column("left_at", sa.Double, nullable=False, index=True),
        sa.Column("handled_at", sa.Double),
        sa.Column("handled_by", sa.String(40)),
    )
    with op.batch_alter_table("call_records") as batch:
        batch.add_column(sa.Column("abandoned_position", sa.Integer))
        batch.add_column(sa.Column("queue_position", sa.Integer))
        batch.add_column(sa.Column("congestion_seconds", sa.Double, nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("overflow_reason", sa.String(20)))
        batch.add_column(sa.Column("overflow_destination", sa.String(60)))
        batch.add_column(sa.Column("voicemail_file", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        for column in ("abandoned_position", "queue_position", "congestion_seconds", "overflow_reason",
                       "overflow_destination", "voicemail_file"):
            batch.drop_column(column)
    op.drop_table("voicemails")
    op.drop_table("agent_states")
    op.drop_table("dispositions")
    op.drop_table("agent_queues")
    op.drop_table("agents")
